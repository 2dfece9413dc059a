"""Buttons that act in code (calbot/channels/choices.py, ChatService.handle_choice): a time that is not free shows
the nearest free times as buttons, and pressing one makes the proposal without a model call; an availability answer
shows its free times; each listed meeting offers Cancel and Move. The proposal still waits for Confirm, which books
or cancels once; nothing is written by the press itself. The clock is frozen at Monday 23 November 2026 08:00 UTC;
the chat is in Europe/Berlin (the setting)."""

from __future__ import annotations

from datetime import UTC, datetime

import chainlit as cl

from calbot.channels import chainlit_app as app
from calbot.chat import Choice
from calbot.explain import FREE_TIMES_NEARBY, FREE_TIMES_TO_PRESS
from calbot.sandbox.service import NewBooking
from tests.app.conftest import action_of
from testing.openai_fake import call, say

TAKEN_UTC = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 15:00 in Berlin on Tuesday 24 November


def live(sandbox) -> list[dict]:
    return [b for b in sandbox.store.all() if b["status"] != "cancelled"]


def seed(sandbox, start: datetime, email: str = "mallory@example.com") -> str:
    return sandbox.calendar.create(NewBooking(start=start, event_type_id=1001, attendee_name="Someone",
                                              attendee_email=email, attendee_time_zone="Europe/Berlin"))["uid"]


def with_note(page, note: str):
    [message] = [m for m in page.messages if m.content == note]
    return message


async def test_a_taken_time_offers_free_times_and_pressing_one_proposes_it_without_the_model(page, chat, model,
                                                                                            sandbox):
    page.attach()
    seed(sandbox, TAKEN_UTC)
    model.on_user(r"\bbook\b", call("book_meeting", start="2026-11-24T15:00", reason="Budget review"))
    model.on_tool_result("book_meeting", say("That time is taken."))
    await app.on_message(cl.Message(content="Book 30 minutes tomorrow at 3pm about the budget review"))
    times = with_note(page, FREE_TIMES_NEARBY)
    assert times.labels[:3] == ["Tue 24 Nov 14:00", "Tue 24 Nov 14:30", "Tue 24 Nov 15:30"]  # nearest, in Berlin
    assert "Tue 24 Nov 15:00" not in times.labels
    calls, before = model.calls_count, len(live(sandbox))

    await app.on_choose(action_of(times, "Tue 24 Nov 15:30"))

    assert model.calls_count == calls  # no model call between the press and the proposal
    proposal = [m for m in page.messages if m.labels == ["Confirm", "Discard"]][-1]
    assert "15:30–16:00" in proposal.content and "Budget review" in proposal.content
    assert len(live(sandbox)) == before  # pressing a time writes nothing
    await app.on_confirm(action_of(proposal, "Confirm"))
    made = [b for b in live(sandbox) if b["attendees"][0]["email"] == "ana@example.com"]
    assert [b["start"][:16] for b in made] == ["2026-11-24T14:30"]
    assert model.calls_count == calls
    saved = await app.service.load_chat(app._chat_id())
    assert any("[The user pressed: Tue 24 Nov 15:30]" in str(m.get("content")) for m in saved.history)  # the model will know


async def test_an_availability_answer_offers_its_free_times(page, chat, model, sandbox):
    page.attach()
    model.on_user(r"free", call("check_availability", date="2026-11-24"))
    model.on_tool_result("check_availability", say("Here are the free times."))
    await app.on_message(cl.Message(content="what's free on Tuesday?"))
    times = with_note(page, FREE_TIMES_TO_PRESS)
    assert times.labels[0] == "10:00" and len(times.labels) == 6  # 10:00-18:00 Berlin, the first six starts
    calls = model.calls_count

    await app.on_choose(action_of(times, "10:30"))

    # No reason given yet: calbot asks for it (in code) and keeps the time for the next message.
    assert model.calls_count == calls and live(sandbox) == []
    assert "what the meeting is about" in page.messages[-1].content.lower() or "reason" in page.messages[-1].content
    saved = await app.service.load_chat(app._chat_id())
    assert saved.pending_function == "book_meeting" and saved.pending_arguments["start"].startswith("2026-11-24T09:30")


async def test_a_listed_meeting_can_be_cancelled_from_its_row(page, chat, model, sandbox):
    page.attach()
    mine = seed(sandbox, TAKEN_UTC, email="ana@example.com")
    other = seed(sandbox, datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    model.on_user(r"show", call("list_meetings"))
    model.on_tool_result("list_meetings", say("That is your meeting."))
    await app.on_message(cl.Message(content="show me my meetings"))
    [table] = [m for m in page.messages if "|---|" in m.content]
    assert table.labels == ["Cancel Tue 24 Nov 15:00", "Move Tue 24 Nov 15:00"]  # only the user's own meeting
    calls = model.calls_count

    await app.on_choose(action_of(table, "Cancel Tue 24 Nov 15:00"))
    proposal = [m for m in page.messages if m.labels == ["Confirm", "Discard"]][-1]
    assert "Cancel" in proposal.content and model.calls_count == calls
    await app.on_confirm(action_of(proposal, "Confirm"))

    statuses = {b["uid"]: b["status"] for b in sandbox.store.all()}
    assert statuses[mine] == "cancelled" and statuses[other] == "accepted"
    assert model.calls_count == calls


async def test_move_asks_for_the_new_time_and_a_forged_choice_touches_nothing(page, chat, model, sandbox):
    page.attach()
    mine = seed(sandbox, TAKEN_UTC, email="ana@example.com")
    other = seed(sandbox, datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    model.on_user(r"show", call("list_meetings"))
    model.on_tool_result("list_meetings", say("That is your meeting."))
    await app.on_message(cl.Message(content="show me my meetings"))
    [table] = [m for m in page.messages if "|---|" in m.content]

    await app.on_choose(action_of(table, "Move Tue 24 Nov 15:00"))
    saved = await app.service.load_chat(app._chat_id())
    assert saved.pending_function == "reschedule_meeting" and saved.pending_arguments["booking_uid"] == mine
    assert saved.proposal is None

    # Someone else's booking, named by a forged button: refused by the same rules, nothing proposed or written.
    forged = Choice(kind="cancel", booking_uid=other, label="Cancel")
    await app.on_choose(cl.Action(name="choose", payload=forged.model_dump(exclude_none=True), label="Cancel"))
    saved = await app.service.load_chat(app._chat_id())
    assert saved.proposal is None
    assert {b["uid"]: b["status"] for b in sandbox.store.all()}[other] == "accepted"
    await app.on_choose(cl.Action(name="choose", payload={"kind": "drop_tables"}, label="x"))  # ignored


async def test_a_booked_meeting_offers_an_ics_file_and_a_google_calendar_link(page, chat, model, sandbox):
    page.attach()
    model.on_user(r"\bbook\b", call("book_meeting", start="2026-11-24T15:00", reason="Budget review"))
    await app.on_message(cl.Message(content="Book 30 minutes tomorrow at 3pm about the budget review"))
    proposal = [m for m in page.messages if m.labels == ["Confirm", "Discard"]][-1]

    await app.on_confirm(action_of(proposal, "Confirm"))

    [uid] = [b["uid"] for b in live(sandbox)]
    [element] = page.elements
    assert element["mime"] == "text/calendar" and element["name"] == f"calbot-{uid}.ics"
    outcome = page.messages[-1]
    assert element["forId"] == outcome.id and f"calbot-{uid}.ics" in outcome.content
    assert "[Google Calendar](https://calendar.google.com/calendar/render?action=TEMPLATE&" in outcome.content
    assert "dates=20261124T140000Z%2F20261124T143000Z" in outcome.content  # the booked instant, in UTC


async def test_an_indicator_shows_until_the_reply_starts_and_steps_are_named_for_people(page, chat, model):
    page.attach()
    model.on_user(r"free", call("check_availability", date="2026-11-24"))
    model.on_tool_result("check_availability", say("Here are the free times."))

    await app.on_message(cl.Message(content="what's free on Tuesday?"))

    sent = [data["name"] for kind, data in page.events if kind == "send_step"]
    assert sent[0] == "Reading your request"  # at once, before the model answers
    deleted = [data["name"] for kind, data in page.events if kind == "delete_step"]
    assert deleted == ["Reading your request"]  # gone once the reply began
    first_other = next(i for i, (kind, data) in enumerate(page.events)
                       if kind in ("send_step", "stream_start") and data["name"] != "Reading your request")
    assert page.events.index(next(e for e in page.events if e[0] == "delete_step")) < first_other
    assert [s.name for s in page.steps] == ["Looking for free times"]
