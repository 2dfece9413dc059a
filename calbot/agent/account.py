"""Moved to calbot.booking.account; this name stays only until calbot/chat.py imports it from there."""

from calbot.booking.account import Account, AccountError, load_account

__all__ = ["Account", "AccountError", "load_account"]
