"""Test doubles shared by tests/ and bench/: the scripted OpenAI-compatible model server (openai_fake.py, the module
to import; its code is openai_script.py, the script, and openai_server.py, the wire format and HTTP), starting the
app and other servers as processes (processes.py), and the fixed clock and clean environment (common.py).

Never imported by calbot/. What only the tests use stays in tests/fakes/; bench/ imports from here, never from tests/.
"""
