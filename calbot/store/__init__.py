"""Where chats live between messages: the SessionStore contract (base.py), an in-process store for tests
(memory.py) and the SQL store (sql.py: SQLite by default, Postgres)."""

from calbot.store.base import ChatSummary, SessionStore, StaleSessionError, StoreError, StoreUnavailableError

__all__ = ["ChatSummary", "SessionStore", "StaleSessionError", "StoreError", "StoreUnavailableError"]
