"""Existing meetings in the browser: list, cancel by time (Confirm and Discard), reschedule and then cancel "it", and
someone else's booking.

The bookings are seeded straight into the app's sandbox file (the `calendar` fixture); the app sees them at once.
Each test checks the page, the SQLite file and exactly how many model calls the flow took. Days: see helpers.py.
"""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from tests.e2e.helpers import (
    NEW_YORK,
    USER_EMAIL,
    USER_NAME,
    at,
    body,
    bookings,
    confirm_buttons,
    latest_uid_note,
    local_day,
    message_with,
    on_day,
    seed,
    send,
    shown,
    table_day,
    weekday,
)
from testing.openai_fake import call, say


def _seed_ana(calendar, start, about: str) -> str:
    return seed(calendar, start, email=USER_EMAIL, name=USER_NAME, about=about)


def test_list_shows_local_times_and_names_the_zone(app_server, calendar, page_in):
    model = app_server.model
    model.reset()
    day = weekday(3)
    early = _seed_ana(calendar, at(day, 9), "Design sync")
    late = _seed_ana(calendar, at(day, 11), "Hiring")
    model.on_user(r"^what is on my calendar", call("list_meetings", from_date=day.isoformat()))
    model.on_tool_result("list_meetings", say("You have two meetings that day."))
    page = page_in(NEW_YORK)

    send(page, f"what is on my calendar on {day.isoformat()}?")
    shown(page, "You have two meetings that day.")
    table = page.locator("table").last.inner_text()
    rows = [line for line in table.splitlines() if table_day(day) in line]
    assert len(rows) == 2
    assert f"09:00–09:30 {at(day, 9).tzname()}" in rows[0] and f"11:00–11:30 {at(day, 11).tzname()}" in rows[1]
    assert all("Sandbox Host" in row and "booked" in row for row in rows)
    utc_clock = at(day, 9).astimezone(UTC).strftime("%H:%M")
    assert utc_clock not in table  # local times, not UTC
    assert shown(page, "(times in America/New_York)").is_visible()
    assert model.calls_count == 2
    result = model.requests[1].last_tool_result
    assert [m["uid"] for m in result["meetings"]] == [early, late] and result["time_zone"] == NEW_YORK
    # Listing changes nothing.
    held = on_day(app_server.sandbox_db, day)
    assert sorted(held) == sorted([early, late]) and {row.status for row in held.values()} == {"accepted"}


@pytest.mark.parametrize("button, index, status, said", [
    ("Confirm", 4, "cancelled", "Cancelled:"),
    ("Discard", 5, "accepted", "Discarded: nothing was changed."),
], ids=["confirm", "discard"])
def test_cancel_by_time(app_server, calendar, page_in, button, index, status, said):
    model = app_server.model
    model.reset()
    day = weekday(index)
    uid = _seed_ana(calendar, at(day, 10), "Quarterly check-in")
    model.on_user(r"^cancel my meeting", call("list_meetings", from_date=day.isoformat(), at_time="10:00"))
    model.on_tool_result("list_meetings",
                         lambda r: call("cancel_meeting", booking_uid=r.last_tool_result["meetings"][0]["uid"]))
    page = page_in(NEW_YORK)

    send(page, f"cancel my meeting on {local_day(day)} at 10am")
    page.get_by_role("button", name=button).wait_for()
    proposal = message_with(page, "Cancel this meeting?").inner_text()
    assert f"{local_day(day)}, 10:00–10:30 {at(day, 10).tzname()} (America/New_York)" in proposal
    assert model.calls_count == 2
    assert model.requests[1].reply.tool_calls[0].arguments == {"booking_uid": uid}
    assert bookings(app_server.sandbox_db)[uid].status == "accepted"  # nothing before the button

    page.get_by_role("button", name=button).click()
    shown(page, said)
    assert f"You pressed {button}" in message_with(page, "Cancel this meeting?").inner_text()
    assert confirm_buttons(page) == 0
    row = bookings(app_server.sandbox_db)[uid]
    assert row.status == status and row.start == at(day, 10).astimezone(UTC)
    assert list(on_day(app_server.sandbox_db, day)) == [uid]
    assert model.calls_count == 2  # both buttons are answered by code


def test_reschedule_then_cancel_it_uses_the_new_uid(app_server, calendar, page_in):
    model = app_server.model
    model.reset()
    day = weekday(6)
    old = _seed_ana(calendar, at(day, 10), "Roadmap")
    model.on_user(r"^move my meeting", call("list_meetings", from_date=day.isoformat(), at_time="10:00"))
    model.on_tool_result("list_meetings", lambda r: call(
        "reschedule_meeting", booking_uid=r.last_tool_result["meetings"][0]["uid"],
        new_start=f"{day.isoformat()}T11:00"))
    # "it" = the meeting just moved: the model takes the uid from the note the Confirm left in the history.
    model.on_user(r"^cancel it", lambda r: call("cancel_meeting", booking_uid=latest_uid_note(r) or "missing"))
    page = page_in(NEW_YORK)
    est = at(day, 10).tzname()

    send(page, f"move my meeting on {local_day(day)} at 10am to 11am")
    page.get_by_role("button", name="Confirm").wait_for()
    proposal = message_with(page, "Move this meeting?").inner_text()
    assert f"From: {local_day(day)}, 10:00–10:30 {est} (America/New_York)" in proposal
    assert f"To: {local_day(day)}, 11:00–11:30 {est} (America/New_York)" in proposal
    assert model.calls_count == 2
    page.get_by_role("button", name="Confirm").click()
    shown(page, "Moved:")
    assert f"{local_day(day)}, 11:00–11:30 {est} (America/New_York)" in message_with(page, "Moved:").inner_text()
    held = on_day(app_server.sandbox_db, day)
    (new,) = [uid for uid in held if uid != old]
    assert held[old].status == "cancelled" and held[old].data["rescheduledToUid"] == new
    assert held[new].status == "accepted" and held[new].start == at(day, 11).astimezone(UTC)
    assert held[new].data["rescheduledFromUid"] == old
    assert model.calls_count == 2

    send(page, "cancel it, please")
    page.get_by_role("button", name="Confirm").wait_for()
    assert model.calls_count == 3
    assert model.requests[2].reply.tool_calls[0].arguments == {"booking_uid": new}
    assert f"{local_day(day)}, 11:00–11:30 {est}" in message_with(page, "Cancel this meeting?").inner_text()
    page.get_by_role("button", name="Confirm").click()
    shown(page, "Cancelled:")
    held = on_day(app_server.sandbox_db, day)
    assert {uid: row.status for uid, row in held.items()} == {old: "cancelled", new: "cancelled"}
    assert model.calls_count == 3


def test_someone_elses_booking_is_not_listed_and_cannot_be_cancelled(app_server, calendar, page_in):
    model = app_server.model
    model.reset()
    day = weekday(7)
    bobs = seed(calendar, at(day, 10), email="bob@example.com", name="Bob Stone", about="Bob's private meeting")
    mine = _seed_ana(calendar, at(day, 11), "Ana's own")
    bob_before = bookings(app_server.sandbox_db)[bobs]
    refusal = "I cannot cancel that meeting: it is not one of yours."
    model.on_user(r"^show my meetings", call("list_meetings", from_date=day.isoformat()))
    model.on_tool_result("list_meetings", say("Here is your day."))
    model.on_user(r"^cancel the 10", call("cancel_meeting", booking_uid=bobs))
    model.on_tool_result("cancel_meeting", say(refusal), when=lambda result: not result.get("ok"))
    page = page_in(NEW_YORK)

    send(page, f"show my meetings on {day.isoformat()}")
    shown(page, "Here is your day.")
    table = page.locator("table").last.inner_text()
    assert f"11:00–11:30 {at(day, 11).tzname()}" in table and "10:00–10:30" not in table
    assert "Bob" not in body(page)
    listed = model.requests[1].last_tool_result
    assert [m["uid"] for m in listed["meetings"]] == [mine] and bobs not in json.dumps(listed)
    assert model.calls_count == 2

    send(page, "cancel the 10:00 meeting that day")
    shown(page, refusal)
    refused = model.requests[3].last_tool_result
    # The uid never appeared in this chat, so the executor refuses before even looking the booking up.
    assert (refused["ok"], refused["status"]) == (False, "unknown_booking")
    assert "Cancel this meeting?" not in body(page) and confirm_buttons(page) == 0
    assert model.calls_count == 4
    assert bookings(app_server.sandbox_db)[bobs] == bob_before  # untouched
    assert bookings(app_server.sandbox_db)[mine].status == "accepted"
