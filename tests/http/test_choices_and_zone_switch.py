"""Issue 15, findings 6 and 7, at the executor (on the sandbox calendar, as tests/http/test_executor.py):

- a pending wall time keeps its instant when the user's zone changes (and the result says what became of it);
- a lookup by time that matches several meetings (or none, offering the nearest) is marked, and in that turn none
  of them may be proposed for a change until the user says which one.
"""

from __future__ import annotations

from calbot.channels.markdown import meetings_markdown, zone_change_markdown
from tests.fakes.sandbox_calcom import at
from tests.http.test_executor import HOST, TUE, USER, executor, fake, session  # noqa: F401 - fixtures


def next_turn(state, said: str) -> None:
    """The user answered: the turn ends and a new one starts (the history grows)."""
    state.history += [{"role": "user", "content": said}, {"role": "assistant", "content": "ok"}]


# -- finding 6: a zone switch keeps a pending time's instant ---------------------------------------------------------
async def test_a_pending_wall_time_keeps_its_instant_when_the_zone_changes(executor, fake):
    state = session(executor, zone="America/New_York")
    first = await executor.call(state, "book_meeting", {"start": "2026-11-24T10:00", "reason": "intro"})
    assert first["start_utc"] == "2026-11-24T15:00:00Z"
    executor.withdraw(state)  # the user typed "I'm in Berlin this week"
    switched = await executor.call(state, "set_time_zone", {"time_zone": "Europe/Berlin"})
    again = await executor.call(state, "book_meeting", {})  # "ok, book it"

    assert again["status"] == "awaiting_confirmation"
    assert again["start_utc"] == "2026-11-24T15:00:00Z" and again["start_local"] == "2026-11-24T16:00"
    [kept] = switched["pending_times"]
    assert kept["was"] == "2026-11-24T10:00" and kept["now"] == "2026-11-24T16:00"
    shown = zone_change_markdown(switched)  # what the page shows the person
    assert "10:00 EST" in shown and "16:00 CET" in shown and "Europe/Berlin" in shown
    assert "do not pass" not in shown  # the words meant for the model stay out of the page


async def test_the_browser_reporting_another_zone_also_keeps_the_pending_instant(executor, fake):
    state = session(executor, zone="America/New_York")
    state.user.time_zone_source = "setting"
    await executor.call(state, "book_meeting", {"start": "2026-11-24T10:00"})  # the reason is still missing
    assert executor.apply_browser_zone(state, "Asia/Tokyo")
    assert state.pending_arguments["start"] == "2026-11-25T00:00"  # 15:00 UTC, the next day in Tokyo


async def test_a_pending_time_becoming_a_doubled_hour_is_kept_with_its_offset(executor, fake):
    """20:30 in New York on 24 October 2026 is 01:30 in London on the 25th, an hour London lives twice that night
    (clocks back at 02:00 BST): the offset names which one, so the instant cannot move."""
    state = session(executor, zone="America/New_York")
    state.pending_function, state.pending_arguments = "book_meeting", {"start": "2026-10-24T20:30"}
    switched = await executor.call(state, "set_time_zone", {"time_zone": "Europe/London"})
    assert state.pending_arguments["start"] == "2026-10-25T01:30+01:00"
    assert switched["pending_times"][0]["when_now"].startswith("Sunday 25 October 2026, 01:30 BST")


async def test_a_pending_time_that_named_no_single_instant_is_asked_again(executor, fake):
    state = session(executor, zone="Europe/Berlin")
    state.pending_function, state.pending_arguments = "book_meeting", {"start": "2026-10-25T02:30", "reason": "x"}
    switched = await executor.call(state, "set_time_zone", {"time_zone": "Europe/London"})
    assert state.pending_arguments == {"reason": "x"}
    assert "ask for it again" in zone_change_markdown(switched)


# -- finding 7: several meetings at the time the user named ----------------------------------------------------------
async def test_two_meetings_at_the_named_time_make_the_user_choose(executor, fake):
    dentist = fake.add_booking(at(TUE, 14), attendee_email=USER, title="Dentist")  # 15:00-15:30 Berlin
    standup = fake.add_booking(at(TUE, 13, 30), attendee_email=USER, title="Standup", minutes=60,
                               host_email="other-host@example.com")  # 14:30-15:30 Berlin
    state = session(executor)
    found = await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "at_time": "15:00"})

    assert found["count"] == 2 and found["ambiguous"] is True and "Ask the user which one" in found["ask_user"]
    assert "which one do you mean?" in meetings_markdown(found).splitlines()[0]  # the page asks too
    for uid in (dentist["uid"], standup["uid"]):  # the model picking one in the same turn: refused in code
        refused = await executor.call(state, "cancel_meeting", {"booking_uid": uid})
        assert refused["status"] == "ask_which" and state.proposal is None
        moved = await executor.call(state, "reschedule_meeting", {"booking_uid": uid, "new_start": "2026-11-24T17:00"})
        assert moved["status"] == "ask_which"

    next_turn(state, "the dentist one")
    proposal = await executor.call(state, "cancel_meeting", {"booking_uid": dentist["uid"]})
    assert proposal["status"] == "awaiting_confirmation"
    assert [r for r in fake.requests if r.method == "POST"] == []


async def test_one_match_is_not_ambiguous_and_nearest_meetings_need_the_users_word(executor, fake):
    only = fake.add_booking(at(TUE, 14), attendee_email=USER, title="Dentist")
    state = session(executor)
    found = await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "at_time": "15:00"})
    assert found["count"] == 1 and "ambiguous" not in found
    assert (await executor.call(state, "cancel_meeting", {"booking_uid": only["uid"]}))["status"] == \
        "awaiting_confirmation"

    state = session(executor)
    missed = await executor.call(state, "list_meetings", {"from_date": "2026-11-24", "at_time": "11:00"})
    assert missed["count"] == 0 and [m["uid"] for m in missed["nearest"]] == [only["uid"]]
    refused = await executor.call(state, "cancel_meeting", {"booking_uid": only["uid"]})
    assert refused["status"] == "ask_which"
    next_turn(state, "yes, the 3pm one")
    assert (await executor.call(state, "cancel_meeting", {"booking_uid": only["uid"]}))["status"] == \
        "awaiting_confirmation"
