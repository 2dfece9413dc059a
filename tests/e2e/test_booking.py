"""Booking in the browser: details asked first, a taken slot, a day after a DST change, and a starter button.

Each test scripts the model, drives the page, then checks what the page shows, what the sandbox's SQLite file holds
and exactly how many model calls the flow took. The browser is in America/New_York. Days: see helpers.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.e2e.helpers import (
    ALLOTTED,
    NEW_YORK,
    at,
    body,
    bookings,
    confirm_buttons,
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

ASK_DETAILS = "Happy to. Which day and time would suit you, and what is the meeting about?"


def test_book_after_the_model_asks_for_the_details(app_server, page_in):
    model = app_server.model
    model.reset()
    day = weekday(2)
    model.on_user(r"^help me book a meeting$", say(ASK_DETAILS))
    model.on_user(r"budget review", call("book_meeting", start=f"{day.isoformat()}T10:00", reason="Budget review"))
    page = page_in(NEW_YORK)

    send(page, "help me book a meeting")
    shown(page, ASK_DETAILS)
    assert model.calls_count == 1
    assert confirm_buttons(page) == 0

    send(page, f"{local_day(day)} at 10am, for the budget review")
    page.get_by_role("button", name="Confirm").wait_for()
    assert model.calls_count == 2
    # The second call saw the first exchange: the question and the user's answer.
    second = model.requests[1]
    assert [m["content"] for m in second.messages if m["role"] in ("user", "assistant")][-3:] == [
        "help me book a meeting", ASK_DETAILS, f"{local_day(day)} at 10am, for the budget review"]
    proposal = message_with(page, "Book this meeting?").inner_text()
    abbreviation = at(day, 10).tzname()
    assert f"{local_day(day)}, 10:00–10:30 {abbreviation} (America/New_York)" in proposal
    assert "Budget review" in proposal and "Ana Diaz" in proposal and "ana@example.com" in proposal
    assert on_day(app_server.sandbox_db, day) == {}  # nothing is written before Confirm

    page.get_by_role("button", name="Confirm").click()
    outcome = shown(page, "Booked:")
    (row,) = on_day(app_server.sandbox_db, day).values()
    assert (row.status, row.attendee) == ("accepted", "ana@example.com")
    assert row.start == at(day, 10).astimezone(UTC) and row.end - row.start == timedelta(minutes=30)
    assert row.data["bookingFieldsResponses"]["notes"] == "Budget review"
    assert row.data["attendees"][0]["timeZone"] == NEW_YORK
    assert f"{local_day(day)}, 10:00–10:30 {abbreviation} (America/New_York)" in message_with(
        page, "Booked:").inner_text()
    assert outcome.is_visible() and confirm_buttons(page) == 0
    assert model.calls_count == 2  # Confirm is executed by code


def test_a_taken_slot_offers_alternatives_and_books_nothing(app_server, calendar, page_in):
    model = app_server.model
    model.reset()
    day = weekday(8)
    taken = seed(calendar, at(day, 10), email="carol@example.com", name="Carol King", about="Carol's slot")
    model.on_user(r"^book", call("book_meeting", start=f"{day.isoformat()}T10:00", reason="Planning"))
    model.on_tool_result("book_meeting",
                         lambda r: say("Not free. Nearest: " + ", ".join(
                             a["when"] for a in r.last_tool_result["alternatives"])),
                         when=lambda result: result.get("status") == "slot_unavailable")
    page = page_in(NEW_YORK)

    send(page, f"book a planning meeting on {local_day(day)} at 10am")
    model.wait_for_requests(2, timeout=20)
    result = model.requests[1].last_tool_result
    assert result["status"] == "slot_unavailable"
    reply = model.requests[1].reply.text
    shown(page, reply)
    # The nearest free times that day (the host is free around Carol's meeting), in the browser's zone.
    for hour, minute in ((9, 30), (10, 30)):
        assert f"{local_day(day)}, {hour:02d}:{minute:02d} {at(day, hour).tzname()} (America/New_York)" in reply
    assert all(a["when"] in body(page) for a in result["alternatives"])
    assert "Book this meeting?" not in body(page) and confirm_buttons(page) == 0
    assert model.calls_count == 2
    assert list(on_day(app_server.sandbox_db, day)) == [taken]  # only Carol's booking
    assert bookings(app_server.sandbox_db)[taken].status == "accepted"


def _next_transition(zone: str, today: date) -> date:
    """The first day after `today` whose noon UTC offset differs from the day before's (a DST change)."""
    tz = ZoneInfo(zone)
    day = today
    while True:
        following = day + timedelta(days=1)
        if datetime(following.year, following.month, following.day, 12, tzinfo=tz).utcoffset() != datetime(
                day.year, day.month, day.day, 12, tzinfo=tz).utcoffset():
            return following
        day = following


def test_booking_on_a_weekday_after_the_next_dst_change(app_server, page_in):
    model = app_server.model
    model.reset()
    today = datetime.now(ZoneInfo(NEW_YORK)).date()
    change = _next_transition(NEW_YORK, today)
    # The first weekday on or after the change (it happens at 02:00 on a Sunday), unless that is one of the days
    # other tests use: then the first weekday after those (still after the change: changes are months apart).
    last_allotted = weekday(ALLOTTED - 1)
    day = change if change > last_allotted else last_allotted + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    now_abbreviation = datetime.now(ZoneInfo(NEW_YORK)).tzname()
    after_abbreviation = at(day, 9, 30).tzname()
    assert today < change <= day and now_abbreviation != after_abbreviation  # e.g. EST today, EDT on the day
    model.on_user(r"^book", call("book_meeting", start=f"{day.isoformat()}T09:30", reason="After the clocks change"))
    model.on_user(r"^show", call("list_meetings", from_date=day.isoformat()))
    model.on_tool_result("list_meetings", say("That is the day after the clocks change."))
    page = page_in(NEW_YORK)

    send(page, f"book a meeting on {local_day(day)} at 9:30")
    page.get_by_role("button", name="Confirm").wait_for()
    expected = f"{local_day(day)}, 09:30–10:00 {after_abbreviation} (America/New_York)"
    assert expected in message_with(page, "Book this meeting?").inner_text()
    assert model.calls_count == 1
    page.get_by_role("button", name="Confirm").click()
    shown(page, "Booked:")
    assert expected in message_with(page, "Booked:").inner_text()

    (row,) = on_day(app_server.sandbox_db, day).values()
    # 09:30 under the offset that day has, not today's: one hour apart.
    assert row.status == "accepted" and row.start == at(day, 9, 30).astimezone(UTC)
    today_offset = datetime.now(ZoneInfo(NEW_YORK)).utcoffset()
    wrong = datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC) - today_offset
    assert row.start != wrong and abs(row.start - wrong) == timedelta(hours=1)

    send(page, f"show my meetings on {day.isoformat()}")
    shown(page, "That is the day after the clocks change.")
    table = page.locator("table").last.inner_text()
    assert table_day(day) in table and f"09:30–10:00 {after_abbreviation}" in table
    assert f"{now_abbreviation}" not in table
    assert model.calls_count == 3


def test_a_starter_sends_its_message(app_server, page_in):
    model = app_server.model
    model.reset()
    reply = "Sure! Which day and time would you like, and what is the meeting about?"
    model.on_user(r"^Help me book a meeting\.$", say(reply))
    before = bookings(app_server.sandbox_db)
    page = page_in(NEW_YORK)

    page.locator("#starter-book-a-meeting").click()
    shown(page, reply)
    assert model.calls_count == 1
    assert model.requests[0].latest_user_text == "Help me book a meeting."
    assert page.get_by_text("Help me book a meeting.", exact=True).count() >= 1  # the user's message shows
    assert page.locator("#starter-book-a-meeting").count() == 0  # the starters are gone once the chat started
    assert bookings(app_server.sandbox_db) == before
