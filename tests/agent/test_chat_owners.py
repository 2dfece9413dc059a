"""Chats that belong to people (calbot/sessions.py, Person): a chat is its owner's; anyone else, a single-user caller
included, is treated as if it did not exist, and nothing of it is changed or written. A person's saved zone starts
their chats; a zone they give in a chat is handed to the zone keeper (their account). On the memory store and on
SQLite, as tests/agent/test_chats_by_id.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from calbot.agent.loop import CodeReply
from calbot.chat import ChatService
from calbot.explain import NOT_YOUR_CHAT, PROPOSAL_NOT_OPEN
from calbot.sessions import Person
from calbot.store.base import SessionStore
from calbot.store.memory import MemoryStore
from calbot.store.sql import SqlStore
from tests.agent.conftest import Events, bookings_in, calendar_requests
from testing.openai_fake import call, say

BOOK = call("book_meeting", start="2026-11-24T15:00", reason="budget review")
BOOK_TEXT = "book me tomorrow at 3pm about the budget review"
TTL = 3600
CONFIGURED = "configured@example.com"  # CAL_USER_EMAIL: never the attendee of a signed-in person's booking
BEA = Person(email="bea@example.com", name="Bea Brown")
CAI = Person(email="cai@example.com", name="Cai Chen")


class SessionClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable[[], Any]]:
    """Each call: the store a new process would open over this test's one database."""
    clock = SessionClock()
    opened: list[SessionStore] = []
    shared = MemoryStore(ttl=TTL, clock=clock)

    async def open_() -> SessionStore:
        if request.param == "memory":
            return shared
        store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/chats/calbot.db", ttl=TTL, clock=clock)
        opened.append(store)
        return store

    open_.clock = clock  # type: ignore[attr-defined]
    yield open_
    for store in opened:
        await store.close()


@pytest.fixture
async def processes(open_store, model, sandbox, clock, make_settings) -> AsyncIterator[list[ChatService]]:
    """Two chat services ("processes") over one chat database and one calendar; CAL_USER_EMAIL is someone else."""
    made = [ChatService(make_settings(cal_user_email=CONFIGURED, cal_user_name="Configured User"),
                        model_client=model.client(), sandbox=sandbox, clock=clock, store=await open_store(),
                        session_clock=open_store.clock) for _ in range(2)]
    yield made
    for service in made:
        await service.aclose()


def bookings_posted(sandbox) -> list[dict]:
    return calendar_requests(sandbox, "POST", "/v2/bookings")


async def propose_as(service: ChatService, model, chat_id: str, person: Person | None, events: Events):
    model.on_user("book", BOOK)
    result = await service.send(chat_id, BOOK_TEXT, events, person=person)
    assert result.outcome == "proposal", events.all
    return result.proposal


async def hello_as(service: ChatService, model, chat_id: str, person: Person | None) -> None:
    model.on_user("hello", say("Hello."))
    result = await service.send(chat_id, "hello", Events(), person=person)
    assert result.outcome == "answered", result


# -- a person's chat ---------------------------------------------------------------------------------------------------
async def test_a_persons_new_chat_is_theirs_and_books_for_their_email(processes, model, sandbox, events):
    a, b = processes
    proposal = await propose_as(a, model, "chat-1", BEA, events)

    assert proposal.attendee_email == BEA.email and proposal.attendee_name == BEA.name
    saved = await b.load_chat("chat-1", person=BEA)
    assert saved is not None and saved.owner == BEA.email
    assert (saved.user.email, saved.user.email_verified) == (BEA.email, True)
    assert CONFIGURED not in str(model.requests[-1].messages[0]["content"])  # the prompt names Bea, not the setting

    outcome = await b.press_confirm("chat-1", proposal.id, person=BEA)
    assert outcome["status"] == "booked"
    [booking] = bookings_in(sandbox)
    assert [a["email"] for a in booking["attendees"]] == [BEA.email]


async def test_someone_elses_message_is_refused_saves_nothing_and_never_reaches_the_model(processes, model, events):
    a, b = processes
    await hello_as(a, model, "chat-1", BEA)
    calls = model.calls_count

    refused = await b.send("chat-1", "hello, show me everything", events, person=CAI)

    assert (refused.outcome, refused.error) == ("refused", NOT_YOUR_CHAT)
    assert [(e.text, e.kind) for e in events.of(CodeReply)] == [(NOT_YOUR_CHAT, "error")]
    assert model.calls_count == calls
    saved = await a.load_chat("chat-1", person=BEA)
    assert saved.version == 1 and saved.owner == BEA.email
    assert "show me everything" not in str(saved.history)


async def test_someone_elses_confirm_writes_nothing_and_the_owners_books_once(processes, model, sandbox, events):
    a, b = processes
    proposal = await propose_as(a, model, "chat-1", BEA, events)
    version = (await a.load_chat("chat-1", person=BEA)).version

    for stranger in (CAI, None):
        outcome = await b.press_confirm("chat-1", proposal.id, person=stranger)
        assert (outcome["ok"], outcome["status"], outcome["message"]) == (False, "no_proposal", PROPOSAL_NOT_OPEN)
    assert bookings_posted(sandbox) == [] and bookings_in(sandbox) == []
    saved = await a.load_chat("chat-1", person=BEA)
    assert saved.version == version and saved.proposal.id == proposal.id and saved.proposal.status == "open"
    assert proposal.id not in saved.finished_proposals

    outcome = await b.press_confirm("chat-1", proposal.id, person=BEA)
    assert outcome["status"] == "booked"
    assert len(bookings_posted(sandbox)) == 1 and len(bookings_in(sandbox)) == 1


async def test_someone_elses_discard_leaves_the_proposal_open(processes, model, sandbox, events):
    a, b = processes
    proposal = await propose_as(a, model, "chat-1", BEA, events)
    version = (await a.load_chat("chat-1", person=BEA)).version

    outcome = await b.press_discard("chat-1", proposal.id, person=CAI)

    assert (outcome["ok"], outcome["status"]) == (False, "no_proposal")
    saved = await a.load_chat("chat-1", person=BEA)
    assert saved.version == version and saved.proposal is not None and saved.proposal.status == "open"
    assert proposal.id not in saved.finished_proposals
    assert (await a.press_discard("chat-1", proposal.id, person=BEA))["status"] == "discarded"  # still the owner's
    assert bookings_in(sandbox) == []


async def test_someone_elses_zone_report_changes_nothing(processes, model):
    a, b = processes
    await hello_as(a, model, "chat-1", BEA)
    before = await a.load_chat("chat-1", person=BEA)

    assert await b.report_zone("chat-1", "America/New_York", person=CAI) is False
    assert await b.report_zone("chat-1", "America/New_York") is False  # nor a single-user caller

    after = await a.load_chat("chat-1", person=BEA)
    assert after.version == before.version
    assert (after.user.time_zone, after.user.time_zone_source) == (before.user.time_zone,
                                                                   before.user.time_zone_source)
    assert after.user.time_zone != "America/New_York"
    assert await a.report_zone("chat-1", "America/New_York", person=BEA) is True  # the owner's is taken


async def test_someone_elses_chat_cannot_be_read(processes, model):
    a, b = processes
    await hello_as(a, model, "chat-1", BEA)

    assert await b.load_chat("chat-1", person=CAI) is None
    assert (await b.load_chat("chat-1", person=BEA)).owner == BEA.email


async def test_only_the_owner_deletes_a_chat(processes, model):
    a, b = processes
    await hello_as(a, model, "chat-1", BEA)

    assert await b.delete_chat("chat-1", person=CAI) is False
    assert await b.delete_chat("chat-1") is False
    assert (await a.load_chat("chat-1", person=BEA)) is not None  # kept

    assert await b.delete_chat("chat-1", person=BEA) is True
    assert await a.load_chat("chat-1", person=BEA) is None
    assert await (await a.store()).load("chat-1") is None  # gone from the store, not merely hidden
    assert await a.delete_chat("chat-1", person=BEA) is False  # nothing left to delete


async def test_single_user_and_signed_in_chats_do_not_reach_each_other(processes, model, events):
    a, b = processes
    await hello_as(a, model, "persons", BEA)
    await hello_as(a, model, "anonymous", None)

    assert await b.load_chat("persons") is None  # a single-user caller cannot read a person's chat
    assert await b.load_chat("anonymous", person=BEA) is None  # nor a person a single-user chat
    anonymous = await b.load_chat("anonymous")
    assert anonymous is not None and anonymous.owner is None and anonymous.user.email == CONFIGURED

    calls = model.calls_count
    refused = await b.send("anonymous", "hello", events, person=BEA)
    assert refused.outcome == "refused" and model.calls_count == calls
    assert (await b.load_chat("anonymous")).version == anonymous.version


# -- the person's zone -------------------------------------------------------------------------------------------------
async def test_the_persons_saved_zone_starts_their_chat_and_beats_the_browsers(processes, model, events):
    a, b = processes
    traveller = Person(email="dee@example.com", time_zone="Asia/Tokyo")
    model.on_user("hello", say("Hello."))

    await a.send("chat-1", "hello", events, time_zone="America/New_York", person=traveller)
    assert await b.report_zone("chat-1", "America/Chicago", person=traveller) is False

    saved = await b.load_chat("chat-1", person=traveller)
    assert (saved.user.time_zone, saved.user.time_zone_source) == ("Asia/Tokyo", "chat")
    assert "Asia/Tokyo" in model.requests[0].messages[0]["content"]  # the turn's system prompt used it

    fresh = a.new_state("America/New_York", person=traveller)  # a chat begun without a message
    assert (fresh.user.time_zone, fresh.user.time_zone_source, fresh.owner) == ("Asia/Tokyo", "chat",
                                                                                traveller.email)
    plain = a.new_state("America/New_York", person=BEA)  # no saved zone: the browser's, as before
    assert (plain.user.time_zone, plain.user.time_zone_source) == ("America/New_York", "browser")


async def test_a_zone_set_in_the_chat_is_kept_with_the_account_once(processes, model, events):
    a, _ = processes
    kept: list[tuple[str, str]] = []

    async def keeper(email: str, zone: str) -> None:
        kept.append((email, zone))

    a.zone_keeper = keeper
    await hello_as(a, model, "chat-1", BEA)  # a turn that sets no zone
    assert kept == []

    model.on_user("Tokyo", call("set_time_zone", time_zone="Asia/Tokyo"))
    model.on_tool_result("set_time_zone", say("Tokyo time from now on."))
    result = await a.send("chat-1", "I'm in Tokyo this week", events, person=BEA)
    assert result.tools_called == ["set_time_zone"]
    assert kept == [(BEA.email, "Asia/Tokyo")]

    await a.send("chat-1", "hello again", Events(), person=BEA)  # the zone stays; nothing new to keep
    assert await a.report_zone("chat-1", "America/New_York", person=BEA) is False  # the browser's is no choice
    assert kept == [(BEA.email, "Asia/Tokyo")]


async def test_a_single_user_zone_is_not_kept_and_a_failing_keeper_keeps_the_chat(processes, model, events):
    a, _ = processes
    kept: list[tuple[str, str]] = []

    async def keeper(email: str, zone: str) -> None:
        kept.append((email, zone))
        raise RuntimeError("the account store is down")

    a.zone_keeper = keeper
    model.on_user("Tokyo", call("set_time_zone", time_zone="Asia/Tokyo"))
    model.on_tool_result("set_time_zone", say("Tokyo time from now on."))

    await a.send("single", "I'm in Tokyo this week", events)  # single-user mode: no account to keep it in
    assert kept == []

    result = await a.send("bea", "I'm in Tokyo this week", events, person=BEA)
    assert result.outcome == "answered" and kept == [(BEA.email, "Asia/Tokyo")]
    saved = await a.load_chat("bea", person=BEA)
    assert (saved.user.time_zone, saved.user.time_zone_source) == ("Asia/Tokyo", "chat")
