"""The chat side: the tool-calling loop, its events, the history the model is sent, the system prompt."""
