"""Booking 60 minutes in the browser books the account's 60-minute event type (issue 18): the proposal says 60
minutes, Confirm books event type 1002 for an hour, and the model is called once."""

from __future__ import annotations

from datetime import UTC, timedelta

from tests.e2e.helpers import NEW_YORK, at, confirm_buttons, local_day, message_with, on_day, send, shown, weekday
from testing.openai_fake import call


def test_booking_60_minutes_books_the_60_minute_event_type(app_server, page_in):
    model = app_server.model
    model.reset()
    day = weekday(12)
    model.on_user(r"an hour", call("book_meeting", start=f"{day.isoformat()}T10:00", reason="Roadmap",
                                   duration_minutes=60))
    page = page_in(NEW_YORK)

    send(page, f"book an hour on {local_day(day)} at 10am about the roadmap")
    page.get_by_role("button", name="Confirm").wait_for()
    proposal = message_with(page, "Book this meeting?").inner_text()
    assert "10:00–11:00" in proposal and "60 minutes" in proposal

    page.get_by_role("button", name="Confirm").click()
    shown(page, "Booked:")
    (row,) = on_day(app_server.sandbox_db, day).values()
    assert row.data["eventTypeId"] == 1002
    assert row.start == at(day, 10).astimezone(UTC) and row.end - row.start == timedelta(minutes=60)
    assert confirm_buttons(page) == 0 and model.calls_count == 1
