"""The booking rules, with no chat and no screen: the tools, who may do what, proposals, Confirm once (executor.py)."""
