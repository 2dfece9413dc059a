"""The assistant's core: tool schemas, session state and the executor that enforces the rules."""
