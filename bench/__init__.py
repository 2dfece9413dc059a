"""calbot's performance bench: `python -m bench` (run from the repository root; see README "Performance").

Modules:
- `brain.py`: the bench model, a ScriptedModel (testing/openai_fake.py) that answers every request as a
  tool-calling model would;
- `harness.py`: the fixed clock, settings, and the sandbox calendar and in-process model behind transports that
  record and time every request; a ChatService wired to them (the app's own front door);
- `flows.py`: book, list, cancel by time, reschedule by time: model calls and Cal.com calls per task;
- `growth.py`: one 50-turn chat, with and without the history bound: prompt size per turn, the plot;
- `overhead.py`: calbot's own time per turn with fakes answering at once;
- `concurrency.py`, `model_server.py`: many chats at once through `chainlit run` over socket.io;
- `report.py`: the targets, the table and the "met" flags.
"""
