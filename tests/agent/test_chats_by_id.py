"""ChatService keyed by chat id (calbot/sessions.py): load -> per-chat lock -> run -> save, on the memory store and
on SQLite. "Two processes" are two ChatService instances, each with its own store over the same database (for the
memory store: the same store object), over one sandbox calendar.

Each test runs on both stores; the store contract itself (Postgres too) is tests/store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from calbot.agent.loop import CodeReply, ProposalWithdrawn, TextDelta
from calbot.chat import ChatService
from calbot.explain import CHAT_CHANGED_ELSEWHERE, PROPOSAL_NOT_OPEN
from calbot.sandbox import FaultSpec
from calbot.sessions import ChatIdError
from calbot.store.base import SessionStore, StaleSessionError, StoreUnavailableError
from calbot.store.memory import MemoryStore
from calbot.store.sql import SqlStore
from tests.agent.conftest import Events, assert_history_valid, bookings_in, calendar_requests
from testing.openai_fake import call, say

BOOK = call("book_meeting", start="2026-11-24T15:00", reason="budget review")
BOOK_TEXT = "book me tomorrow at 3pm about the budget review"
TTL = 3600


class SessionClock:
    """The time the stores and services stamp chats with (the calendar has its own fixed clock)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def session_clock() -> SessionClock:
    return SessionClock()


@pytest.fixture(params=["memory", "sqlite"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path,
                     session_clock: SessionClock) -> AsyncIterator[Callable[[], Any]]:
    """Each call: the store a new process would open over this test's one database."""
    opened: list[SessionStore] = []
    shared = MemoryStore(ttl=TTL, clock=session_clock)

    async def open_() -> SessionStore:
        if request.param == "memory":
            return shared
        store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/chats/calbot.db", ttl=TTL, clock=session_clock)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


@pytest.fixture
async def processes(open_store, model, sandbox, clock, make_settings, session_clock) -> list[ChatService]:
    """Two chat services ("processes") over one chat database and one calendar."""
    made = [ChatService(make_settings(), model_client=model.client(), sandbox=sandbox, clock=clock,
                        store=await open_store(), session_clock=session_clock) for _ in range(2)]
    yield made
    for service in made:
        await service.aclose()


def bookings_posted(sandbox) -> list[dict]:
    return calendar_requests(sandbox, "POST", "/v2/bookings")


async def propose_in(service: ChatService, model, chat_id: str, events: Events):
    model.on_user("book", BOOK)
    result = await service.send(chat_id, BOOK_TEXT, events)
    assert result.outcome == "proposal", events.all
    return result.proposal


# -- one chat, any process -------------------------------------------------------------------------------------------
async def test_a_chat_begun_in_one_process_continues_in_the_other(processes, model, sandbox, events):
    a, b = processes
    proposal = await propose_in(a, model, "chat-1", events)

    outcome = await b.press_confirm("chat-1", proposal.id)  # the Confirm reaches the other process
    assert outcome["status"] == "booked"
    [booking] = bookings_in(sandbox)
    assert booking["uid"] == outcome["booking"]["uid"]

    model.on_user("thanks", say("You're welcome."))
    await a.send("chat-1", "thanks", events)  # and the next message the first one again
    sent = model.requests[-1].messages
    assert any(m["role"] == "user" and m["content"] == BOOK_TEXT for m in sent)
    assert any(m["role"] == "assistant" and f"(uid {booking['uid']})" in (m.get("content") or "") for m in sent)

    saved = await b.load_chat("chat-1")
    assert saved is not None and saved.version == 3 and saved.proposal is None
    assert booking["uid"] in saved.made_booking_uids  # the meeting it made stays the user's in every process
    assert saved.finished_proposals[proposal.id]["status"] == "booked"
    assert_history_valid(saved.history)
    assert await a.load_chat("chat-2") is None  # chats do not mix


async def test_the_same_proposal_confirmed_through_both_processes_at_once_books_once(processes, model, sandbox,
                                                                                       events):
    a, b = processes
    proposal = await propose_in(a, model, "chat-1", events)
    sandbox.server.add_fault(FaultSpec(method="POST", path="^/v2/bookings$", delay=0.05))  # both clicks in flight

    first, second = await asyncio.gather(a.press_confirm("chat-1", proposal.id),
                                         b.press_confirm("chat-1", proposal.id))

    statuses = sorted([first["status"], second["status"]])
    assert statuses == ["booked", "in_progress"], (first, second)
    assert len(bookings_posted(sandbox)) == 1 and len(bookings_in(sandbox)) == 1
    for service in (a, b):  # a later click anywhere gets the one outcome, and writes nothing
        again = await service.press_confirm("chat-1", proposal.id)
        assert again["repeated"] is True and again["status"] == "booked"
    assert len(bookings_posted(sandbox)) == 1
    saved = await a.load_chat("chat-1")
    assert sum("[The user pressed Confirm]" in str(m.get("content")) for m in saved.history) == 1


async def test_confirm_and_discard_of_one_proposal_in_two_processes_one_wins(processes, model, sandbox, events):
    a, b = processes
    proposal = await propose_in(a, model, "chat-1", events)
    sandbox.server.add_fault(FaultSpec(method="POST", path="^/v2/bookings$", delay=0.05))

    confirmed, discarded = await asyncio.gather(a.press_confirm("chat-1", proposal.id),
                                                b.press_discard("chat-1", proposal.id))

    won = [confirmed["status"] == "booked", discarded["status"] == "discarded"]
    assert won.count(True) == 1, (confirmed, discarded)
    assert len(bookings_in(sandbox)) == (1 if won[0] else 0)
    assert (confirmed if won[1] else discarded)["status"] == "in_progress"


async def test_a_message_typed_while_another_process_confirms_does_not_withdraw_it(processes, model, sandbox,
                                                                                   events):
    a, b = processes
    proposal = await propose_in(a, model, "chat-1", events)
    assert await a.claim("chat-1", proposal.id)  # process A is executing this proposal right now
    model.on_user("hello", say("Hello."))
    events.clear()

    await b.send("chat-1", "hello", events)

    assert events.of(ProposalWithdrawn) == []
    saved = await b.load_chat("chat-1")
    assert saved.proposal is not None and saved.proposal.id == proposal.id
    assert proposal.id not in saved.finished_proposals


async def test_a_confirm_whose_chat_changed_meanwhile_merges_its_outcome(processes, model, sandbox, events,
                                                                         monkeypatch):
    """B answers a message while A's Confirm runs: A's save is stale, so A merges its outcome into B's chat."""
    a, b = processes
    proposal = await propose_in(a, model, "chat-1", events)
    await b.calendar()  # B's calendar is open, so its message would withdraw the proposal if its claim won
    model.on_user("hello", say("Hello."))
    original = a.confirm

    async def confirm_while_b_answers(state, proposal_id):
        outcome = await original(state, proposal_id)
        await b.send("chat-1", "hello", Events())
        return outcome

    monkeypatch.setattr(a, "confirm", confirm_while_b_answers)
    outcome = await a.press_confirm("chat-1", proposal.id)

    assert outcome["status"] == "booked"
    saved = await a.load_chat("chat-1")
    uid = outcome["booking"]["uid"]
    assert saved.finished_proposals[proposal.id]["status"] == "booked"
    assert uid in saved.made_booking_uids and saved.proposal is None
    texts = [str(m.get("content")) for m in saved.history]
    assert "hello" in texts  # B's turn is kept ...
    assert sum(t.startswith("[The user pressed Confirm]") and uid in t for t in texts) == 1  # ... and A's note
    assert len(bookings_in(sandbox)) == 1


# -- stale versions ----------------------------------------------------------------------------------------------------
async def test_a_save_with_a_stale_version_is_refused_and_writes_nothing(processes, model, events):
    a, b = processes
    model.on_user("hello", say("Hello."))
    await a.send("chat-1", "hello", events)
    stale = await a.load_chat("chat-1")
    await b.send("chat-1", "hello again", events)  # version 2 now

    store = await a.store()
    stale.history.append({"role": "user", "content": "lost"})
    with pytest.raises(StaleSessionError):
        await store.save(stale, stale.version)
    saved = await b.load_chat("chat-1")
    assert saved.version == 2 and "lost" not in str(saved.history)


async def test_a_turn_that_finds_its_chat_saved_meanwhile_says_so_and_overwrites_nothing(processes, model):
    a, b = processes
    model.on_user("first", say("One."))
    model.on_user("second", say("Two."))
    seen = Events()

    async def emit(event) -> None:
        await seen(event)
        if isinstance(event, TextDelta) and len(seen.of(TextDelta)) == 1:
            await b.send("chat-1", "second", Events())  # another process answers this chat meanwhile

    result = await a.send("chat-1", "first", emit)

    assert result.outcome == "failed" and result.error == CHAT_CHANGED_ELSEWHERE
    assert seen.codes("error")[-1].text == CHAT_CHANGED_ELSEWHERE
    saved = await a.load_chat("chat-1")
    texts = [m.get("content") for m in saved.history if m["role"] == "user"]
    assert texts == ["second"] and saved.version == 1


# -- expiry ----------------------------------------------------------------------------------------------------------
async def test_expired_chats_are_swept_without_being_opened(processes, model, events, session_clock):
    a, b = processes
    model.on_user("hello", say("Hello."))
    await a.send("old", "hello", events)
    session_clock.now += timedelta(seconds=TTL - 60)
    await a.send("fresh", "hello", events)
    session_clock.now += timedelta(seconds=120)  # "old" idle for TTL + 60 s, "fresh" for 120 s

    assert await b.sweep() == 1
    store = await a.store()
    assert await store.load("old") is None  # deleted, not merely hidden
    assert (await store.load("fresh")) is not None


async def test_an_expired_chat_is_never_continued(processes, model, events, session_clock):
    a, _ = processes
    model.on_user("hello", say("Hello."))
    await a.send("chat-1", "hello", events)
    session_clock.now += timedelta(seconds=TTL + 1)

    model.on_user("again", say("Hi."))
    await a.send("chat-1", "again", events)

    sent = model.requests[-1].messages
    assert [m["content"] for m in sent if m["role"] == "user"] == ["again"]
    assert (await a.press_confirm("chat-9", "p1"))["message"] == PROPOSAL_NOT_OPEN


async def test_a_process_sweeps_by_itself_as_chats_arrive(processes, model, events, session_clock):
    a, _ = processes
    model.on_user("hello", say("Hello."))
    await a.send("old", "hello", events)  # the first call of a process sweeps (nothing to sweep yet)
    session_clock.now += timedelta(seconds=TTL + 1)
    a._swept_at -= 3600  # the sweep interval has passed

    await a.send("new", "hello", events)
    await asyncio.gather(*a._sweeping)

    assert await (await a.store()).load("old") is None


# -- the browser's zone, bad ids, a store that cannot open -------------------------------------------------------------
async def test_the_browser_zone_is_kept_for_the_chat(processes, model, events):
    a, b = processes
    assert await a.report_zone("chat-1", "America/New_York") is True
    saved = await b.load_chat("chat-1")
    assert (saved.user.time_zone, saved.user.time_zone_source) == ("America/New_York", "browser")


async def test_a_zone_reported_while_the_first_message_is_answered_joins_that_turn(processes, model):
    """The page reports its zone as it opens; a quick first message may be answered already. The zone must not wait
    for the turn's end (its tools would use the wrong zone), nor be lost."""
    a, _ = processes
    model.on_user("hello", say("Hello there."))
    reported = []

    async def emit(event) -> None:
        if isinstance(event, TextDelta) and not reported:
            reported.append(await asyncio.wait_for(a.report_zone("chat-1", "America/New_York"), 2))
            state = a._answering["chat-1"]
            assert (state.user.time_zone, state.user.time_zone_source) == ("America/New_York", "browser")

    await a.send("chat-1", "hello", emit)

    assert reported == [True]
    saved = await a.load_chat("chat-1")
    assert (saved.user.time_zone, saved.user.time_zone_source) == ("America/New_York", "browser")
    assert saved.version == 1


async def test_a_zone_reported_while_the_first_turn_loads_its_chat_is_used_by_that_turn(processes, model,
                                                                                      monkeypatch):
    a, _ = processes
    model.on_user("hello", say("Hello there."))
    loading = asyncio.Event()
    original = a._load

    async def slow_load(store, chat_id, person):
        loading.set()
        state = await original(store, chat_id, person)
        await asyncio.sleep(0.05)  # the turn holds the chat's lock and has no state yet
        return state

    monkeypatch.setattr(a, "_load", slow_load)
    turn = asyncio.create_task(a.send("chat-1", "hello", Events()))
    await loading.wait()
    monkeypatch.setattr(a, "_load", original)
    await a.report_zone("chat-1", "America/New_York")
    await turn

    assert "America/New_York" in model.requests[0].messages[0]["content"]  # the turn's system prompt
    saved = await a.load_chat("chat-1")
    assert (saved.user.time_zone, saved.user.time_zone_source) == ("America/New_York", "browser")


@pytest.mark.parametrize("chat_id", ["", "   ", "x" * 101])
async def test_a_chat_id_must_be_1_to_100_characters(processes, chat_id, events):
    a, _ = processes
    with pytest.raises(ChatIdError):
        await a.send(chat_id, "hello", events)


async def test_a_store_that_cannot_open_is_said_in_the_chat_and_tried_again(make_settings, model, sandbox, clock,
                                                                            events):
    attempts = []

    async def opener() -> SessionStore:
        attempts.append(1)
        if len(attempts) == 1:
            raise StoreUnavailableError("The chat database cannot be used: check CALBOT_DATABASE_URL.")
        return MemoryStore()

    service = ChatService(make_settings(), model_client=model.client(), sandbox=sandbox, clock=clock,
                          store_opener=opener)
    try:
        first = await service.send("chat-1", "hello", events)
        assert first.outcome == "failed" and "CALBOT_DATABASE_URL" in first.error
        assert [e.text for e in events.of(CodeReply)] == [first.error]
        model.on_user("hello", say("Hello."))
        second = await service.send("chat-1", "hello", events)
        assert second.outcome != "failed" and len(attempts) == 2
    finally:
        await service.aclose()
