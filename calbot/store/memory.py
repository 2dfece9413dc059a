"""A SessionStore in this process's memory, for tests and one-process use. States are kept as JSON text, so a state
changed after it was saved (or after it was loaded) does not change the stored one, as with the SQL store."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta

from calbot.booking.session import SessionState
from calbot.config import DEFAULT_SESSION_TTL
from calbot.store.base import ChatSummary, Clock, StaleSessionError, expired, saved, summary_of, utc_now


class MemoryStore:
    def __init__(self, *, ttl: float = DEFAULT_SESSION_TTL, owner_ttl: float | None = None,
                 clock: Clock = utc_now) -> None:
        self.ttl = timedelta(seconds=ttl)
        self.owner_ttl = None if owner_ttl is None else timedelta(seconds=owner_ttl)
        self._clock = clock
        self._chats: dict[str, str] = {}
        self._claims: set[tuple[str, str]] = set()

    # No await happens between a check and its write below, so each method is atomic within the event loop.
    async def load(self, chat_id: str) -> SessionState | None:
        text = self._chats.get(chat_id)
        return None if text is None else SessionState.from_json(text)

    async def save(self, state: SessionState, expected_version: int) -> SessionState:
        text = self._chats.get(state.chat_id)
        current = 0 if text is None else SessionState.from_json(text).version
        if current != expected_version:
            raise StaleSessionError(state.chat_id, expected_version)
        stored = saved(state, expected_version + 1, self._clock())
        self._chats[state.chat_id] = stored.to_json()
        return stored

    async def claim_proposal(self, chat_id: str, proposal_id: str) -> bool:
        key = (chat_id, proposal_id)
        if key in self._claims:
            return False
        self._claims.add(key)
        return True

    async def list(self, owner: str) -> builtins.list[ChatSummary]:
        states = [SessionState.from_json(text) for text in self._chats.values()]
        mine = [summary_of(state) for state in states if state.owner == owner]
        return sorted(mine, key=lambda chat: (chat.last_activity, chat.chat_id), reverse=True)

    async def delete(self, chat_id: str) -> None:
        self._chats.pop(chat_id, None)
        self._claims = {claim for claim in self._claims if claim[0] != chat_id}

    async def sweep(self, now: datetime) -> int:
        gone = [chat_id for chat_id, text in self._chats.items()
                if expired((state := SessionState.from_json(text)).last_activity, state.owner, now, self.ttl,
                           self.owner_ttl)]
        for chat_id in gone:
            await self.delete(chat_id)
        return len(gone)

    async def close(self) -> None:
        return None
