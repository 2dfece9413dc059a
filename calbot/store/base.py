"""The SessionStore contract: one SessionState per chat id, saved optimistically, proposals claimed once.

Every implementation passes tests/store (the same contract suite runs on each)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from calbot.booking.session import SessionState
from calbot.errors import CalbotError
from calbot.explain import CHAT_CHANGED_ELSEWHERE

Clock = Callable[[], datetime]
TITLE_LENGTH = 80


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreError(CalbotError):
    """The session store could not do what was asked."""


class StaleSessionError(StoreError):
    """A save named a version that is no longer the saved one: another turn saved (or deleted) the chat first.
    Nothing was written; load the chat again."""

    def __init__(self, chat_id: str, expected_version: int) -> None:
        super().__init__(CHAT_CHANGED_ELSEWHERE)
        self.chat_id = chat_id
        self.expected_version = expected_version


class StoreUnavailableError(StoreError):
    """The database cannot be reached or used (a wrong CALBOT_DATABASE_URL, a server that is down)."""


class ChatSummary(BaseModel):
    """One saved chat in a list of someone's chats."""

    chat_id: str
    owner: str | None
    title: str  # the first thing the user typed, shortened ("" before the first message)
    last_activity: datetime
    version: int


def title_of(state: SessionState) -> str:
    for text in state.user_texts():
        words = " ".join(text.split())
        if words:
            return words if len(words) <= TITLE_LENGTH else words[:TITLE_LENGTH - 1] + "…"
    return ""


def summary_of(state: SessionState) -> ChatSummary:
    return ChatSummary(chat_id=state.chat_id, owner=state.owner, title=title_of(state),
                       last_activity=state.last_activity, version=state.version)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC (a naive value, as SQLite gives back, is taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def expired(last_activity: datetime, owner: str | None, now: datetime, ttl: timedelta,
            owner_ttl: timedelta | None) -> bool:
    """Anonymous chats expire `ttl` after their last save; chats with an owner after `owner_ttl` (None: never)."""
    limit = ttl if owner is None else owner_ttl
    return limit is not None and as_utc(last_activity) < as_utc(now) - limit


def saved(state: SessionState, version: int, now: datetime) -> SessionState:
    """The copy of `state` that a save stores and returns: the next version, stamped now."""
    return state.model_copy(deep=True, update={"version": version, "last_activity": as_utc(now)})


@runtime_checkable
class SessionStore(Protocol):
    """Chats by id. `save` is optimistic: it writes only if the saved version is still `expected_version` (0: the
    chat must not exist yet) and returns the state with the next version, else raises StaleSessionError and writes
    nothing. `claim_proposal` is atomic across processes: exactly one caller gets True for a (chat, proposal).
    `sweep(now)` deletes expired chats (see `expired`) and says how many."""

    ttl: timedelta  # an anonymous chat's time to live after its last save
    owner_ttl: timedelta | None  # a chat with an owner's (None: kept until deleted)

    async def load(self, chat_id: str) -> SessionState | None: ...

    async def save(self, state: SessionState, expected_version: int) -> SessionState: ...

    async def claim_proposal(self, chat_id: str, proposal_id: str) -> bool: ...

    async def list(self, owner: str) -> list[ChatSummary]: ...  # newest first

    async def delete(self, chat_id: str) -> None: ...

    async def sweep(self, now: datetime) -> int: ...

    async def close(self) -> None: ...
