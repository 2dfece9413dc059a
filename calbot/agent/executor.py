"""Moved to calbot.booking.executor; this name stays only until calbot/chat.py imports it from there."""

from calbot.booking.executor import Executor

__all__ = ["Executor"]
