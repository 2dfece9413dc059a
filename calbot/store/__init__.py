"""Where chats live between messages: the SessionStore contract (base.py), an in-process store for tests
(memory.py) and the SQL store (sql.py: SQLite by default, Postgres)."""

import logging

# Alembic logs its plugins as it is imported and each migration it runs with the migration's whole docstring, all at
# INFO, which Chainlit's logging prints line by line at every start: only its warnings are worth a line in calbot's
# log. Set before calbot.store.sql imports alembic.
logging.getLogger("alembic").setLevel(logging.WARNING)

from calbot.store.base import ChatSummary, SessionStore, StaleSessionError, StoreError, StoreUnavailableError  # noqa: E402

__all__ = ["ChatSummary", "SessionStore", "StaleSessionError", "StoreError", "StoreUnavailableError"]
