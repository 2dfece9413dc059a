"""Pure unit tests for calbot.booking.session: plain JSON-serialisable per-chat state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from calbot.booking.session import MAX_FINISHED_PROPOSALS, MAX_REMEMBERED_UIDS, Proposal, SessionState, User


def make_proposal(**changes: Any) -> Proposal:
    values: dict[str, Any] = {
        "id": "p-1",
        "action": "reschedule",
        "status": "open",
        "created_at": datetime(2026, 11, 20, 9, 15, 30, tzinfo=UTC),
        "time_zone": "Europe/Berlin",
        "summary": "Move 'Intro' from Tuesday 24 November 2026, 15:00–15:30 CET to Wednesday 25 November 2026, "
                   "10:00–10:30 CET (Europe/Berlin)",
        "event_type_id": 123456,
        "start": datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        "end": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        "duration_minutes": 30,
        "reason": "Clash",
        "booking_uid": "abc123",
        "title": "Intro between Ana and Bob",
        "old_start": datetime(2026, 11, 24, 15, 0, tzinfo=timezone(timedelta(hours=1))),  # an offset, not UTC
        "old_end": datetime(2026, 11, 24, 14, 30, tzinfo=UTC),
        "guests": ["bob@example.com"],
        "warnings": ["The new time uses the event type's default length."],
    }
    values.update(changes)
    return Proposal(**values)


def make_state() -> SessionState:
    return SessionState(
        history=[
            {"role": "system", "content": "You are calbot."},
            {"role": "user", "content": "Move my intro to Wednesday 10:00"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "reschedule_meeting",
                              "arguments": json.dumps({"booking_uid": "abc123", "new_start": "2026-11-25T10:00"})}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": json.dumps({"ok": True, "status": "proposed"})},
            {"role": "assistant", "content": "Confirm the move?"},
        ],
        pending_function="reschedule_meeting",
        pending_arguments={"booking_uid": "abc123", "new_start": "2026-11-25T10:00"},
        user=User(email="ana@example.com", name="Ana Diaz", time_zone="Europe/Berlin", email_verified=True),
        seen_booking_uids=["abc123", "def456"],
        made_booking_uids=["def456"],
        proposal=make_proposal(),
        finished_proposals={"p-0": {"ok": True, "status": "booked", "uid": "def456",
                                    "at": "2026-11-20T09:00:00Z"}},
        version=3,
        last_activity=datetime(2026, 11, 20, 9, 16, tzinfo=UTC),
        owner="ana@example.com",
    )


# -- serialisation -------------------------------------------------------------------------------------------------

def test_json_round_trip() -> None:
    state = make_state()
    restored = SessionState.from_json(state.to_json())
    assert restored == state
    assert restored.proposal is not None
    assert restored.proposal.start == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert restored.proposal.start.utcoffset() == timedelta(0)
    assert restored.proposal.old_start == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # same instant
    assert restored.proposal.old_start.utcoffset() == timedelta(hours=1)  # offset kept
    assert restored.history[2]["tool_calls"][0]["function"]["name"] == "reschedule_meeting"
    assert restored.finished_proposals == {"p-0": {"ok": True, "status": "booked", "uid": "def456",
                                                   "at": "2026-11-20T09:00:00Z"}}
    assert restored.user.email_verified is True
    assert (restored.version, restored.owner) == (3, "ana@example.com")
    assert restored.last_activity == datetime(2026, 11, 20, 9, 16, tzinfo=UTC)


def test_dict_round_trip() -> None:
    state = make_state()
    restored = SessionState.from_dict(state.to_dict())
    assert restored == state
    assert restored.to_dict() == state.to_dict()


def test_to_dict_is_plain_json() -> None:
    data = make_state().to_dict()
    text = json.dumps(data)  # no datetimes or models left
    assert json.loads(text) == data
    proposal = data["proposal"]
    assert isinstance(proposal["start"], str)
    assert datetime.fromisoformat(proposal["start"]) == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert datetime.fromisoformat(proposal["created_at"]) == datetime(2026, 11, 20, 9, 15, 30, tzinfo=UTC)
    assert data["user"] == {"email": "ana@example.com", "name": "Ana Diaz", "time_zone": "Europe/Berlin",
                            "time_zone_source": "default", "email_verified": True}


def test_dict_survives_a_json_store() -> None:
    state = make_state()
    stored = json.loads(json.dumps(state.to_dict()))
    assert SessionState.from_dict(stored) == state


def test_to_json_is_a_json_object_string() -> None:
    state = make_state()
    assert json.loads(state.to_json()) == state.to_dict()


def test_default_state_round_trips() -> None:
    state = SessionState()
    data = state.to_dict()
    chat_id = data.pop("chat_id")  # a fresh random id per chat (its share of the Cal.com rate budget)
    assert isinstance(chat_id, str) and len(chat_id) == 32 and chat_id != SessionState().chat_id
    last_activity = datetime.fromisoformat(data.pop("last_activity"))  # when the state was made, in UTC
    assert last_activity.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - last_activity) < timedelta(minutes=1)
    assert data == {
        "history": [], "pending_function": None, "pending_arguments": {},
        "user": {"email": None, "name": None, "time_zone": "UTC", "time_zone_source": "default",
                 "email_verified": False},
        "seen_booking_uids": [], "made_booking_uids": [], "proposal": None, "finished_proposals": {},
        "notices_shown": False, "choice_uids": [], "choice_turn": [],
        "turns_started": 0, "version": 0, "owner": None,
    }
    assert SessionState.from_json(state.to_json()) == state


def test_states_do_not_share_mutable_defaults() -> None:
    first, second = SessionState(), SessionState()
    first.history.append({"role": "user", "content": "hi"})
    first.remember_seen("abc")
    first.pending_arguments["x"] = 1
    first.record_outcome("p", {"ok": True})
    assert second.history == []
    assert second.seen_booking_uids == []
    assert second.pending_arguments == {}
    assert second.finished_proposals == {}


def test_round_trip_of_a_book_proposal_with_defaults() -> None:
    proposal = Proposal(id="p-2", action="book", created_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
                        time_zone="Asia/Kolkata", summary="Book", event_type_id=1,
                        start=datetime(2026, 11, 24, 9, 30, tzinfo=UTC), end=datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
                        duration_minutes=30, attendee_name="Ana", attendee_email="ana@example.com",
                        length_in_minutes=30)
    state = SessionState(proposal=proposal)
    restored = SessionState.from_json(state.to_json())
    assert restored.proposal == proposal
    assert restored.proposal is not None
    assert restored.proposal.status == "open"
    assert restored.proposal.guests == []
    assert restored.proposal.warnings == []


def test_invalid_data_is_refused() -> None:
    data = make_state().to_dict()
    data["proposal"]["action"] = "delete"
    with pytest.raises(ValidationError):
        SessionState.from_dict(data)
    data = make_state().to_dict()
    data["proposal"]["status"] = "done"
    with pytest.raises(ValidationError):
        SessionState.from_dict(data)


# -- remember_seen / remember_made ---------------------------------------------------------------------------------

def test_remember_seen_dedups_and_keeps_order() -> None:
    state = SessionState()
    state.remember_seen("a", "b", "a")
    state.remember_seen("c", "b", "", "d")
    assert state.seen_booking_uids == ["a", "b", "c", "d"]


def test_remember_seen_is_bounded_keeping_the_newest() -> None:
    state = SessionState()
    state.remember_seen(*(f"uid{i}" for i in range(MAX_REMEMBERED_UIDS + 25)))
    assert MAX_REMEMBERED_UIDS == 500
    assert len(state.seen_booking_uids) == 500
    assert state.seen_booking_uids[0] == "uid25"
    assert state.seen_booking_uids[-1] == "uid524"
    state.remember_seen("new")
    assert len(state.seen_booking_uids) == 500
    assert state.seen_booking_uids[0] == "uid26"
    assert state.seen_booking_uids[-1] == "new"


def test_remember_made_also_marks_seen() -> None:
    state = SessionState()
    state.remember_made("x1")
    state.remember_made("x1")
    state.remember_made("x2")
    assert state.made_booking_uids == ["x1", "x2"]
    assert state.seen_booking_uids == ["x1", "x2"]


def test_remember_made_is_bounded() -> None:
    state = SessionState()
    for i in range(MAX_REMEMBERED_UIDS + 3):
        state.remember_made(f"m{i}")
    assert len(state.made_booking_uids) == 500
    assert state.made_booking_uids[0] == "m3"
    assert state.made_booking_uids[-1] == "m502"


# -- record_outcome ------------------------------------------------------------------------------------------------

def test_record_outcome_stores() -> None:
    state = SessionState()
    state.record_outcome("p-1", {"ok": True, "uid": "abc"})
    assert state.finished_proposals == {"p-1": {"ok": True, "uid": "abc"}}


def test_record_outcome_is_bounded_keeping_the_newest() -> None:
    state = SessionState()
    for i in range(MAX_FINISHED_PROPOSALS + 10):
        state.record_outcome(f"p{i}", {"n": i})
    assert MAX_FINISHED_PROPOSALS == 50
    assert len(state.finished_proposals) == 50
    assert list(state.finished_proposals) == [f"p{i}" for i in range(10, 60)]
    assert state.finished_proposals["p59"] == {"n": 59}
    assert "p9" not in state.finished_proposals


# -- user_texts / user_typed ---------------------------------------------------------------------------------------

def chat() -> SessionState:
    return SessionState(history=[
        {"role": "system", "content": "System: the user is probably sys@example.com"},
        {"role": "user", "content": "Book me with Bob at 3pm"},
        {"role": "assistant", "content": "Is your email assistant@example.com?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "book_meeting", "arguments": "{\"attendee_email\": \"args@example.com\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"attendee\": \"tool@example.com\"}"},
        {"role": "user", "content": [
            {"type": "text", "text": "My email is Ana@Example.com"},
            {"type": "image_url", "image_url": {"url": "https://img.example/x.png"}},
            {"type": "text", "text": "and my name is   Ana   Diaz"},
        ]},
        {"role": "user", "content": None},
        {"role": "assistant", "content": [{"type": "text", "text": "multi-part assistant@example.org"}]},
    ])


def test_user_texts_only_user_messages() -> None:
    texts = [t for t in chat().user_texts() if t]
    assert texts == ["Book me with Bob at 3pm", "My email is Ana@Example.com", "and my name is   Ana   Diaz"]


@pytest.mark.parametrize(("needle", "expected"), [
    ("ana@example.com", True),             # case-insensitive
    ("ANA@EXAMPLE.COM", True),
    ("Ana Diaz", True),                    # whitespace-normalised
    ("  ana   diaz ", True),
    ("bob", True),
    ("assistant@example.com", False),      # only the assistant said it
    ("assistant@example.org", False),      # multi-part assistant content
    ("tool@example.com", False),           # only a tool result said it
    ("args@example.com", False),           # only in tool-call arguments
    ("sys@example.com", False),            # only the system prompt
    ("https://img.example/x.png", False),  # non-text parts are not text the user typed
    ("", False),
    ("   ", False),
])
def test_user_typed(needle: str, expected: bool) -> None:
    assert chat().user_typed(needle) is expected


def test_user_typed_with_empty_history() -> None:
    assert SessionState().user_typed("anything") is False
    assert SessionState().user_texts() == []


# -- clear_pending -------------------------------------------------------------------------------------------------

def pending_state() -> SessionState:
    return SessionState(pending_function="book_meeting",
                        pending_arguments={"start": "2026-11-24T15:00", "reason": "Intro"})


def test_clear_pending_without_name_clears() -> None:
    state = pending_state()
    state.clear_pending()
    assert state.pending_function is None
    assert state.pending_arguments == {}


def test_clear_pending_for_the_pending_function_clears() -> None:
    state = pending_state()
    state.clear_pending("book_meeting")
    assert state.pending_function is None
    assert state.pending_arguments == {}


def test_clear_pending_for_another_function_keeps_it() -> None:
    state = pending_state()
    state.clear_pending("list_meetings")
    assert state.pending_function == "book_meeting"
    assert state.pending_arguments == {"start": "2026-11-24T15:00", "reason": "Intro"}


def test_clear_pending_then_round_trip() -> None:
    state = pending_state()
    state.clear_pending()
    assert SessionState.from_json(state.to_json()).pending_function is None


# -- the one time-zone precedence rule: chat > browser > setting > the host's ("default") > UTC ----------------------
@pytest.mark.parametrize(("current", "offered", "taken"), [
    ("default", "default", True), ("default", "setting", True), ("default", "browser", True),
    ("default", "chat", True), ("setting", "default", False), ("setting", "browser", True),
    ("browser", "setting", False), ("browser", "browser", True), ("browser", "chat", True),
    ("chat", "browser", False), ("chat", "setting", False), ("chat", "default", False), ("chat", "chat", True),
])
def test_a_zone_is_taken_only_from_a_source_ranked_at_least_as_high(current: str, offered: str,
                                                                      taken: bool) -> None:
    user = User(time_zone="Europe/Berlin", time_zone_source=current)
    assert user.offer_zone("Asia/Tokyo", offered) is taken
    expected = ("Asia/Tokyo", offered) if taken else ("Europe/Berlin", current)
    assert (user.time_zone, user.time_zone_source) == expected


def test_every_door_makes_a_chat_the_same_way() -> None:
    from calbot.booking.access import new_session
    assert new_session().user.time_zone == "UTC"
    assert (new_session(host_time_zone="Europe/London").user.time_zone_source) == "default"
    both = new_session(time_zone="US/Eastern", host_time_zone="Europe/London", email="ana@example.com")
    assert (both.user.time_zone, both.user.time_zone_source) == ("America/New_York", "setting")
    assert both.user.email_verified is True
    assert new_session(time_zone="Mars/Base", host_time_zone="Europe/London").user.time_zone == "Europe/London"
