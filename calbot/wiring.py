"""Wiring: the settings make the chat service a process runs, with the session store they name (SQLite in
.calbot/calbot.db by default, Postgres with CALBOT_DATABASE_URL) and the sign-in accounts in the same database. The
Cal.com connection (Cal.com or the sandbox) and the model client are made by the service itself on first use
(calbot/runtime.py, calbot/chat.py)."""

from __future__ import annotations

import weakref

from calbot.accounts import AccountError, AccountStore
from calbot.chat import ChatService
from calbot.config import Settings, load_settings
from calbot.store.base import SessionStore, StoreUnavailableError
from calbot.store.sql import SqlStore, database_url

_account_stores: weakref.WeakKeyDictionary[ChatService, AccountStore] = weakref.WeakKeyDictionary()


def build_service(settings: Settings | None = None) -> ChatService:
    """The service a front door uses. Nothing is opened here (no network or database at import time): the store
    opens, and migrates, on the first chat; a store that cannot open is said in the chat and tried again. A zone
    a signed-in person gives in a chat is kept with their account."""
    settings = settings or load_settings()

    async def open_store() -> SessionStore:
        return await SqlStore.open(database_url(settings), ttl=settings.calbot_session_ttl)

    service = ChatService(settings, store_opener=open_store)

    async def keep_zone(email: str, zone: str) -> None:
        try:
            await (await account_store(service)).set_time_zone(email, zone)
        except AccountError:
            pass  # signed in without a calbot account (OAuth, a trusted proxy): the zone stays with the chat

    service.zone_keeper = keep_zone
    return service


async def account_store(service: ChatService) -> AccountStore:
    """The sign-in accounts, over the service's own SQL store (one connection pool for both)."""
    store = await service.store()
    if not isinstance(store, SqlStore):
        raise StoreUnavailableError("Sign-in needs the SQL session store (CALBOT_DATABASE_URL or the default SQLite).")
    accounts = _account_stores.get(service)
    if accounts is None or accounts.engine is not store.engine:
        accounts = _account_stores[service] = AccountStore(store)
    return accounts
