"""Wiring: the settings make the chat service a process runs, with the session store they name (SQLite in
.calbot/calbot.db by default, Postgres with CALBOT_DATABASE_URL). The Cal.com connection (Cal.com or the sandbox) and
the model client are made by the service itself on first use (calbot/runtime.py, calbot/chat.py)."""

from __future__ import annotations

from calbot.chat import ChatService
from calbot.config import Settings, load_settings
from calbot.store.base import SessionStore
from calbot.store.sql import SqlStore, database_url


def build_service(settings: Settings | None = None) -> ChatService:
    """The service a front door uses. Nothing is opened here (no network or database at import time): the store
    opens, and migrates, on the first chat; a store that cannot open is said in the chat and tried again."""
    settings = settings or load_settings()

    async def open_store() -> SessionStore:
        return await SqlStore.open(database_url(settings), ttl=settings.calbot_session_ttl)

    return ChatService(settings, store_opener=open_store)
