"""Chats by id: the part of the chat service that front doors call. Each call loads the chat from the session store
(calbot/store), runs one step of it (a message, a Confirm, a Discard, the browser's zone) under that chat's lock in
this process, and saves it naming the version it loaded, so any process can continue any chat and two processes
never overwrite each other silently.

Across processes, the store's claim on a proposal decides its fate once: a Confirm, a Discard and a withdrawal (a
typed message) each claim it first, and only the winner acts. A Confirm whose save finds the chat changed meanwhile
(a message answered in another process) merges its outcome into the newer chat instead of losing it: the booking
it made stays the user's, the buttons' note joins the history, the proposal closes."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from calbot.agent import history
from calbot.agent.loop import CodeReply, Emit, TurnResult
from calbot.booking.session import SessionState
from calbot.errors import CalbotError
from calbot.explain import (CHANGE_IN_PROGRESS, CHAT_CHANGED_ELSEWHERE, NOT_YOUR_CHAT, PROPOSAL_NOT_OPEN,
                            RESUMED_CHAT_GONE, SOMETHING_WENT_WRONG)
from calbot.store.base import Clock, SessionStore, StaleSessionError, StoreError, expired, utc_now
from calbot.store.memory import MemoryStore

if TYPE_CHECKING:
    from calbot.config import Settings

log = logging.getLogger(__name__)

StoreOpener = Callable[[], Awaitable[SessionStore]]
ZoneKeeper = Callable[[str, str], Awaitable[None]]  # (email, zone): a zone the person chose, kept with their account
SWEEP_EVERY_S = 60.0  # a process deletes expired chats at most this often (on the next call after that)
MAX_CHAT_ID = 100  # the store's column
MERGE_ATTEMPTS = 5


class _NotYours(Exception):
    """The chat exists and belongs to someone else (never shown: the door says it does not exist)."""


class ChatIdError(CalbotError, ValueError):
    """A chat id that is empty or too long (front doors make ids; this is a bug in one of them)."""


def _check_chat_id(chat_id: str) -> str:
    if not isinstance(chat_id, str) or not chat_id.strip() or len(chat_id) > MAX_CHAT_ID:
        raise ChatIdError(f"A chat id must be 1 to {MAX_CHAT_ID} characters.")
    return chat_id


class Person(BaseModel):
    """Who a front door says is chatting: a signed-in person (the email their sign-in verified, their account's
    name and saved zone). None instead of a Person: single-user mode, where CAL_USER_EMAIL (if set) is the user.

    A chat belongs to the person who began it (SessionState.owner): anyone else is treated as if it did not exist."""

    email: str
    name: str | None = None
    time_zone: str | None = None


def _owner(person: Person | None) -> str | None:
    return None if person is None else person.email


def _no_chat() -> dict[str, Any]:
    return {"ok": False, "status": "no_proposal", "message": PROPOSAL_NOT_OPEN}


class ChatsByIdMixin:
    """Mixed into ChatService, which provides the steps on a state (new_state, handle_message, confirm, discard,
    set_browser_zone) and `settings`."""

    settings: Settings

    def __init__(self, *, store: SessionStore | None, store_opener: StoreOpener | None, ttl: float,
                 session_clock: Clock = utc_now) -> None:
        self._store = store
        self._owns_store = store is None
        self._store_opener = store_opener
        self._memory_ttl = ttl
        self._session_clock = session_clock
        self._opening_store = asyncio.Lock()
        self._chat_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._answering: dict[str, SessionState] = {}  # chats whose message this process is answering now
        self._reported_zones: dict[str, str] = {}  # browser zones on their way into the store
        self._swept_at: float | None = None
        self.zone_keeper: ZoneKeeper | None = None  # set by calbot.wiring when accounts can keep a zone
        self._sweeping: set[asyncio.Task[None]] = set()

    # -- the store -------------------------------------------------------------------------------------------------
    async def store(self) -> SessionStore:
        """The session store, opened on first use. Raises StoreError (a sentence naming CALBOT_DATABASE_URL) when
        it cannot be opened; the next call tries again."""
        if self._store is None:
            async with self._opening_store:
                if self._store is None:
                    opener = self._store_opener
                    self._store = await opener() if opener else MemoryStore(ttl=self._memory_ttl,
                                                                            clock=self._session_clock)
        return self._store

    async def close_store(self) -> None:
        for task in list(self._sweeping):
            task.cancel()
        await asyncio.gather(*self._sweeping, return_exceptions=True)
        if self._store is not None and self._owns_store:
            await self._store.close()
            self._store = None

    async def claim(self, chat_id: str, proposal_id: str) -> bool:
        """True for exactly one caller per (chat, proposal), in any process."""
        return await (await self.store()).claim_proposal(chat_id, proposal_id)

    async def sweep(self) -> int:
        """Delete the chats idle for longer than their time to live; how many."""
        return await (await self.store()).sweep(self._session_clock())

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY_S:
            return
        self._swept_at = now
        task = asyncio.create_task(self._sweep_quietly())
        self._sweeping.add(task)
        task.add_done_callback(self._sweeping.discard)

    async def _sweep_quietly(self) -> None:
        try:
            swept = await self.sweep()
        except Exception:  # a sweep that fails is tried again later; it must never disturb a chat
            log.warning("sweeping expired chats failed", exc_info=True)
            return
        if swept:
            log.info("deleted %d expired chats", swept)

    def _lock(self, chat_id: str) -> asyncio.Lock:
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            lock = self._chat_locks[chat_id] = asyncio.Lock()
        return lock

    async def _load(self, store: SessionStore, chat_id: str, person: Person | None) -> SessionState | None:
        """The chat, if it exists, has not expired and is `person`'s; else None (someone else's chat included:
        its id says nothing about it). Raises _NotYours when it is someone else's, for the callers that say so."""
        state = await store.load(chat_id)
        if state is not None and state.owner != _owner(person):
            raise _NotYours(chat_id)
        if state is not None and expired(state.last_activity, state.owner, self._session_clock(), store.ttl,
                                         store.owner_ttl):
            await store.delete(chat_id)  # the sweep would have; a chat is never continued after it expired
            return None
        return state

    def _new_chat(self, chat_id: str, time_zone: str | None, person: Person | None) -> SessionState:
        state: SessionState = self.new_state(time_zone, person=person)  # type: ignore[attr-defined]
        state.chat_id = chat_id
        return state

    async def _keep_zone(self, person: Person | None, state: SessionState, zone_before: str) -> None:
        """A zone the person gave in this turn is saved with their account (their next chats start in it)."""
        zone = state.user.time_zone
        if (person is None or self.zone_keeper is None or state.user.time_zone_source != "chat"
                or zone == zone_before):
            return
        try:
            await self.zone_keeper(person.email, zone)
        except Exception:  # the chat keeps the zone; only the account's default was not updated
            log.warning("saving the chosen time zone with the account failed", exc_info=True)

    async def _save(self, store: SessionStore, state: SessionState, expected: int) -> bool:
        """Save; False when another turn saved the chat first (nothing written). Runs even when the step was
        stopped: what a stopped turn did (its repaired history, a Confirm's outcome) is kept."""
        try:
            await asyncio.shield(store.save(state, expected))
        except StaleSessionError:
            log.warning("chat %s changed elsewhere during this step; not saved", state.chat_id)
            return False
        return True

    async def _open(self, chat_id: str) -> SessionStore:
        _check_chat_id(chat_id)
        store = await self.store()
        self._maybe_sweep()
        return store

    # -- the steps -------------------------------------------------------------------------------------------------
    async def send(self, chat_id: str, text: str, emit: Emit, *, time_zone: str | None = None,
                   person: Person | None = None) -> TurnResult:
        """One message of the chat `chat_id` (a new chat if there is none, or it expired; `time_zone`: the
        browser's, for a new chat) from `person` (None: single-user mode). Someone else's chat is refused."""
        try:
            store = await self._open(chat_id)
        except StoreError as exc:
            await emit(CodeReply(str(exc), "error"))
            return TurnResult("failed", error=str(exc))
        async with self._lock(chat_id):
            try:
                state = await self._load(store, chat_id, person) or self._new_chat(chat_id, time_zone, person)
            except _NotYours:
                await emit(CodeReply(NOT_YOUR_CHAT, "error"))
                return TurnResult("refused", error=NOT_YOUR_CHAT)
            expected, zone_before = state.version, state.user.time_zone
            if chat_id in self._reported_zones:  # reported while this turn waited for the store or the lock
                self.set_browser_zone(state, self._reported_zones[chat_id])  # type: ignore[attr-defined]
            self._answering[chat_id] = state  # the browser's zone may arrive meanwhile (report_zone)
            finished_before, history_before = set(state.finished_proposals), len(state.history)
            result: TurnResult | None = None
            try:
                result = await self.handle_message(state, text, emit)  # type: ignore[attr-defined]
            finally:
                del self._answering[chat_id]
                kept = await self._save(store, state, expected)
                if not kept:  # a proposal this turn decided (typed yes/no, or withdrawn) stays decided
                    typed = result is not None and result.outcome == "typed_answer"
                    for proposal_id in set(state.finished_proposals) - finished_before:
                        await self._merge(store, state, proposal_id, state.history[history_before:] if typed else [])
            if not kept:
                await emit(CodeReply(CHAT_CHANGED_ELSEWHERE, "error"))
                return TurnResult("failed", error=CHAT_CHANGED_ELSEWHERE)
            await self._keep_zone(person, state, zone_before)
            return result

    async def choose(self, chat_id: str, choice: Any, emit: Emit, *, person: Person | None = None) -> bool:
        """A button pressed in the chat `chat_id` that asks for something in code (calbot.chat.Choice: a free time,
        a meeting's Cancel or Move), saved as a turn is. False when the chat is gone or not the person's."""
        store = await self._open(chat_id)
        async with self._lock(chat_id):
            state = await self._mine(store, chat_id, person)
            if state is None:
                await emit(CodeReply(RESUMED_CHAT_GONE, "error"))
                return False
            expected = state.version
            try:
                await self.handle_choice(state, choice, emit)  # type: ignore[attr-defined]
            finally:
                kept = await self._save(store, state, expected)
            if not kept:
                await emit(CodeReply(CHAT_CHANGED_ELSEWHERE, "error"))
            return kept

    async def report_zone(self, chat_id: str, time_zone: str, *, person: Person | None = None) -> bool:
        """The browser's zone for this chat (never over one the user gave in the chat). True if it changed.

        A page reports its zone as it opens, so the first message may already be being answered in this process:
        then the zone goes into that turn's state at once (its tools see it; the turn's save keeps it), as it
        would have in a chat held in the page's memory, rather than waiting for the turn to end."""
        answering = self._answering.get(chat_id)  # (checked before any await: no turn can start in between)
        if answering is not None and answering.owner == _owner(person):
            return bool(self.set_browser_zone(answering, time_zone))  # type: ignore[attr-defined]
        self._reported_zones[chat_id] = time_zone  # a turn that starts before this is saved applies it
        try:
            return await self._save_zone(chat_id, time_zone, person)
        except _NotYours:
            return False
        finally:
            if self._reported_zones.get(chat_id) == time_zone:
                del self._reported_zones[chat_id]

    async def _save_zone(self, chat_id: str, time_zone: str, person: Person | None) -> bool:
        store = await self._open(chat_id)
        async with self._lock(chat_id):
            loaded = await self._load(store, chat_id, person)
            state = loaded or self._new_chat(chat_id, None, person)
            changed: bool = self.set_browser_zone(state, time_zone)  # type: ignore[attr-defined]
            if changed:  # (an unknown zone changes nothing and stores nothing)
                return await self._save(store, state, 0 if loaded is None else loaded.version)
            return False

    async def press_confirm(self, chat_id: str, proposal_id: str, *, person: Person | None = None) -> dict[str, Any]:
        """The user's Confirm: executes the proposal once, whichever processes the clicks reach."""
        store = await self._open(chat_id)
        async with self._lock(chat_id):
            state = await self._mine(store, chat_id, person)
            if state is None:
                return _no_chat()
            expected, history_before, before = state.version, len(state.history), state.to_json()
            try:
                outcome: dict[str, Any] = await self.confirm(state, proposal_id)  # type: ignore[attr-defined]
            finally:  # (a click that changed nothing, e.g. one that lost the claim, saves nothing)
                if state.to_json() != before and not await self._save(store, state, expected):
                    await self._merge(store, state, proposal_id, state.history[history_before:])
            return outcome

    async def press_discard(self, chat_id: str, proposal_id: str, *, person: Person | None = None) -> dict[str, Any]:
        """The user's Discard: nothing written; loses to a Confirm of the same proposal anywhere."""
        store = await self._open(chat_id)
        async with self._lock(chat_id):
            state = await self._mine(store, chat_id, person)
            if state is None:
                return _no_chat()
            if proposal_id in state.finished_proposals:
                return {**state.finished_proposals[proposal_id], "repeated": True}
            await self._calendar_if_possible()  # type: ignore[attr-defined]  # (a chat begun in another process)
            proposal = state.proposal
            if (proposal is not None and proposal.id == proposal_id and proposal.status != "executing"
                    and not await self.claim(chat_id, proposal_id)):
                return {"ok": False, "status": "in_progress", "message": CHANGE_IN_PROGRESS}
            expected, history_before = state.version, len(state.history)
            outcome: dict[str, Any] = self.discard(state, proposal_id)  # type: ignore[attr-defined]
            if outcome.get("status") == "discarded" and not await self._save(store, state, expected):
                await self._merge(store, state, proposal_id, state.history[history_before:])
            return outcome

    async def load_chat(self, chat_id: str, *, person: Person | None = None) -> SessionState | None:
        """The saved chat (None: none, expired, or someone else's). For front doors that show it; changes to it are
        not saved."""
        store = await self._open(chat_id)
        return await self._mine(store, chat_id, person)

    async def delete_chat(self, chat_id: str, *, person: Person | None = None) -> bool:
        """Forget the chat (the person deleted it); True if it was theirs and is gone. Someone else's is kept."""
        store = await self._open(chat_id)
        async with self._lock(chat_id):
            if await self._mine(store, chat_id, person) is None:
                return False
            await store.delete(chat_id)
            return True

    async def _mine(self, store: SessionStore, chat_id: str, person: Person | None) -> SessionState | None:
        try:
            return await self._load(store, chat_id, person)
        except _NotYours:
            log.warning("refused a step on a chat that belongs to someone else")
            return None

    async def _merge(self, store: SessionStore, mine: SessionState, proposal_id: str,
                     notes: list[dict[str, Any]]) -> None:
        """A proposal's outcome into the chat as another process saved it meanwhile, so it is never lost."""
        outcome = mine.finished_proposals.get(proposal_id)
        if outcome is None:
            return
        for _ in range(MERGE_ATTEMPTS):
            latest = await store.load(mine.chat_id)
            if latest is None or proposal_id in latest.finished_proposals:
                return
            latest.record_outcome(proposal_id, outcome)
            for uid in mine.seen_booking_uids:
                latest.remember_seen(uid)
            for uid in mine.made_booking_uids:
                latest.remember_made(uid)
            if latest.proposal is not None and latest.proposal.id == proposal_id:
                latest.proposal = None
                latest.clear_pending()
            history.append(latest.history, *notes)
            if await self._save(store, latest, latest.version):
                return
        log.error("chat %s: the outcome of proposal %s could not be saved: %s", mine.chat_id, proposal_id,
                  SOMETHING_WENT_WRONG)
