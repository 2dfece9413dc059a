"""The calendar failing, in the browser: a second app configured as for Cal.com (CAL_API_KEY, CAL_API_BASE_URL) but
pointed at a standalone sandbox started with --test-hooks, whose POST /_sandbox/faults makes the next requests fail.

Whatever fails, the page shows a plain sentence (never a traceback or the upstream's own text), nothing is booked,
and the next message works.
"""

from __future__ import annotations

import json
from datetime import UTC

from tests.e2e.helpers import NEW_YORK, at, body, bookings, confirm_buttons, local_day, send, shown, weekday
from testing.openai_fake import call, say

UPSTREAM = "upstream exploded: pool db-7 (token zz-secret-42)"  # must never reach the page or the model
READ_ATTEMPTS = 3  # calbot's client tries a failed read three times (calbot/calcom/client.py)


def _clean(page, model) -> None:
    text = body(page)
    for raw in ("db-7", "zz-secret", "Traceback", "InternalServerErrorException", "Exception", "HTTP 500"):
        assert raw not in text, raw
    assert all("db-7" not in json.dumps(r.messages) for r in model.requests)


def test_calendar_failures_are_plain_sentences_and_the_next_message_works(failing_app, failing_calendar, page_in):
    model = failing_app.model
    model.reset()
    day = weekday(2)
    when = f"{local_day(day)}, 10:00–10:30 {at(day, 10).tzname()} (America/New_York)"
    model.on_user(r"^book", call("book_meeting", start=f"{day.isoformat()}T10:00", reason="Failure drill"))
    model.on_tool_result("book_meeting", lambda r: say("Sorry: " + r.last_tool_result["error"]),
                         when=lambda result: result.get("status") == "calendar_error")
    page = page_in(NEW_YORK, failing_app)

    # 1. The account cannot be read when the first message needs it: a sentence written by code, no model call.
    failing_calendar.fault(method="GET", path="^/v2/me$", status=500, message=UPSTREAM, count=READ_ATTEMPTS)
    send(page, f"book a meeting on {local_day(day)} at 10am")
    shown(page, "Could not read the Cal.com account: Cal.com had an internal error. Please try again in a minute.")
    assert model.calls_count == 0
    assert failing_calendar.requests().count(("GET", "/v2/me", 500)) == READ_ATTEMPTS

    # 2. The next message connects and works: a proposal. At Confirm every create loses its connection before
    #    anything is written (calbot looks for the booking and tries once more; that is dropped too): the outcome
    #    says so plainly and tells the user to check.
    send(page, f"book a meeting on {local_day(day)} at 10am, please")
    page.get_by_role("button", name="Confirm").wait_for()
    assert model.calls_count == 1
    failing_calendar.fault(method="POST", path="^/v2/bookings$", drop=True, count=10)
    page.get_by_role("button", name="Confirm").click()
    shown(page, "Not done.")
    shown(page, "The connection to Cal.com broke before it answered, so I cannot tell whether the booking went "
                "through. List your meetings to check before trying again.")
    assert bookings(failing_calendar.db) == {}
    assert model.calls_count == 1
    failing_calendar.clear_faults()

    # 3. The free-slot look-up fails (500 with the upstream's text): the tool result the model gets is a plain
    #    sentence, and so is what the page shows.
    failing_calendar.fault(method="GET", path="^/v2/slots$", status=500, message=UPSTREAM, count=READ_ATTEMPTS)
    send(page, f"book a meeting on {local_day(day)} at 10am, third try")
    plain = "Cal.com had an internal error. Please try again in a minute."
    shown(page, f"Sorry: {plain}")
    assert model.requests[-1].last_tool_result == {"ok": False, "status": "calendar_error", "error": plain}
    assert failing_calendar.requests().count(("GET", "/v2/slots", 500)) == READ_ATTEMPTS
    assert confirm_buttons(page) == 0 and bookings(failing_calendar.db) == {}
    assert model.calls_count == 3

    # 4. The faults are used up: the next message books.
    send(page, f"book a meeting on {local_day(day)} at 10am, last try")
    page.get_by_role("button", name="Confirm").wait_for()
    assert model.calls_count == 4
    page.get_by_role("button", name="Confirm").click()
    shown(page, "Booked:")
    assert when in page.locator(".step").filter(has_text="Booked:").last.inner_text()
    (row,) = bookings(failing_calendar.db).values()
    assert row.status == "accepted" and row.start == at(day, 10).astimezone(UTC)
    assert model.calls_count == 4
    _clean(page, model)
