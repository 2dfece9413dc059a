"""The four flows a person uses, in a real browser against `chainlit run`: book, list, reschedule, cancel, plus
Discard. Each asserts what the page shows and what the sandbox calendar holds afterwards, and how many model calls
the flow took.

The app runs on the real clock, so the days are computed: the first weekday at least two days ahead. The browser is
in America/New_York; 10:00 there is 14:00 or 15:00 in London, inside the sandbox host's working hours.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from testing.openai_fake import call, say

ZONE = "America/New_York"


def _weekday_after(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _days() -> tuple[date, date]:
    """This test's two days: the first two weekdays at least two days ahead (helpers.weekday(0) and (1))."""
    first = _weekday_after(datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=1))
    return first, _weekday_after(first)


def _bookings(db) -> dict[str, dict]:
    """The bookings on this test's two days (other tests book other days in the same sandbox file)."""
    days = _days()
    with closing(sqlite3.connect(db)) as con:
        rows = con.execute("SELECT uid, status, start_ms, data FROM bookings").fetchall()
    found = {uid: {"status": status, "start": datetime.fromtimestamp(ms / 1000, ZoneInfo("UTC")),
                   "data": json.loads(data)} for uid, status, ms, data in rows}
    return {uid: b for uid, b in found.items() if b["start"].astimezone(ZoneInfo(ZONE)).date() in days}


def _send(page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-submit").click()


def test_book_list_reschedule_discard_and_cancel_in_the_page(app_server, page_in):
    model = app_server.model
    model.reset()
    first, second = _days()
    book_at, move_to = f"{first.isoformat()}T10:00", f"{second.isoformat()}T11:00"

    model.on_user("^book", call("book_meeting", start=book_at, reason="Budget review"))
    model.on_user("^show", call("list_meetings"))
    model.on_user("^move", call("list_meetings", from_date=first.isoformat(), at_time="10:00"))
    model.on_user("^cancel", call("list_meetings", from_date=second.isoformat(), at_time="11:00"))
    model.on_request(lambda r: r.last_tool_name == "list_meetings" and r.latest_user_text.startswith("move"),
                     lambda r: call("reschedule_meeting", booking_uid=r.last_tool_result["meetings"][0]["uid"],
                                    new_start=move_to))
    model.on_request(lambda r: r.last_tool_name == "list_meetings" and r.latest_user_text.startswith("cancel"),
                     lambda r: call("cancel_meeting", booking_uid=r.last_tool_result["meetings"][0]["uid"]))
    model.on_request(lambda r: r.last_tool_name == "list_meetings", say("That is everything on your calendar."))

    page = page_in(ZONE)
    page.locator("#starter-book-a-meeting").wait_for()

    # Book: one model call until the proposal shows; Confirm books at the right UTC instant, shown in local time.
    _send(page, "book me a meeting about the budget")
    confirm = page.get_by_role("button", name="Confirm")
    confirm.wait_for()
    proposal = page.locator(".step").filter(has_text="Book this meeting?").last
    local = f"{first:%A} {first.day} {first:%B %Y}, 10:00–10:30"
    assert local in proposal.inner_text() and "(America/New_York)" in proposal.inner_text()
    assert page.get_by_role("button", name="Discard").is_visible()
    assert model.calls_count == 1
    assert _bookings(app_server.sandbox_db) == {}
    confirm.click()
    page.get_by_text("Booked:").wait_for()
    booked = _bookings(app_server.sandbox_db)
    assert len(booked) == 1
    (uid, booking), = booked.items()
    expected = datetime.combine(first, datetime.min.time(), ZoneInfo(ZONE)).replace(hour=10)
    assert booking["status"] == "accepted" and booking["start"] == expected
    assert model.calls_count == 1  # Confirm is executed by code
    assert page.get_by_role("button", name="Confirm").count() == 0  # the buttons are gone

    # List: a table in the browser's zone.
    _send(page, "show my meetings")
    page.get_by_text("That is everything on your calendar.").wait_for()
    table = page.locator("table").last
    assert re.search(r"10:00–10:30 E[SD]T", table.inner_text())
    assert page.get_by_text("(times in America/New_York)").last.is_visible()
    assert model.calls_count == 3

    # Reschedule, then Discard: nothing changes.
    _send(page, "move my meeting to the next day at 11")
    page.get_by_role("button", name="Discard").wait_for()
    assert "Move this meeting?" in page.locator(".step").filter(has_text="Move this meeting?").last.inner_text()
    page.get_by_role("button", name="Discard").click()
    page.get_by_text("Discarded: nothing was changed.").wait_for()
    assert _bookings(app_server.sandbox_db)[uid]["status"] == "accepted"
    assert model.calls_count == 5  # Discard is answered by code

    # Reschedule for real: a new uid, the old one cancelled.
    _send(page, "move my meeting to the next day at 11, please")
    page.get_by_role("button", name="Confirm").wait_for()
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("Moved:").wait_for()
    after = _bookings(app_server.sandbox_db)
    assert after[uid]["status"] == "cancelled"
    (new_uid,) = [u for u, b in after.items() if u != uid]
    assert after[new_uid]["status"] == "accepted"
    assert after[new_uid]["start"] == datetime.combine(second, datetime.min.time(), ZoneInfo(ZONE)).replace(hour=11)
    assert model.calls_count == 7

    # Cancel by time: the new uid is the one cancelled.
    _send(page, "cancel my meeting at 11")
    page.get_by_role("button", name="Confirm").wait_for()
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("Cancelled:").wait_for()
    final = _bookings(app_server.sandbox_db)
    assert final[new_uid]["status"] == "cancelled" and len(final) == 2
    assert model.calls_count == 9
    assert "Traceback" not in page.locator("body").inner_text()
