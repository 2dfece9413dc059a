"""Two people in different zones on one calendar: each browser reports its own zone (public/calbot.js) and each page
shows the same booking in its own local time.
"""

from __future__ import annotations

from datetime import UTC

from tests.e2e.helpers import (
    BERLIN,
    NEW_YORK,
    at,
    local_day,
    message_with,
    on_day,
    send,
    shown,
    table_day,
    weekday,
)
from testing.openai_fake import call, say


def test_two_browsers_in_new_york_and_berlin_see_one_booking_in_their_own_time(app_server, page_in):
    model = app_server.model
    model.reset()
    day = weekday(9)
    model.on_user(r"^book", call("book_meeting", start=f"{day.isoformat()}T10:00", reason="Across the Atlantic"))
    model.on_user(r"^show", call("list_meetings", from_date=day.isoformat()))
    model.on_tool_result("list_meetings", say("That is your day."))
    new_york, berlin = page_in(NEW_YORK), page_in(BERLIN)
    # The zone each app session got is the one calbot.js read from its browser.
    assert new_york.evaluate("window.__calbotZoneSent") == NEW_YORK
    assert berlin.evaluate("window.__calbotZoneSent") == BERLIN

    send(new_york, f"book a meeting on {local_day(day)} at 10am")
    new_york.get_by_role("button", name="Confirm").wait_for()
    ny_span = f"10:00–10:30 {at(day, 10).tzname()}"
    assert f"{local_day(day)}, {ny_span} (America/New_York)" in message_with(
        new_york, "Book this meeting?").inner_text()
    new_york.get_by_role("button", name="Confirm").click()
    shown(new_york, "Booked:")
    (row,) = on_day(app_server.sandbox_db, day).values()
    assert row.status == "accepted" and row.start == at(day, 10).astimezone(UTC)
    assert model.calls_count == 1

    # Both ask at the same time; each session answers in its own zone.
    send(berlin, f"show my meetings on {day.isoformat()}")
    send(new_york, f"show my meetings on {day.isoformat()}")
    shown(berlin, "That is your day.")
    shown(new_york, "That is your day.")
    berlin_local = row.start.astimezone(at(day, 0, zone=BERLIN).tzinfo)
    berlin_span = f"{berlin_local:%H:%M}–{berlin_local.replace(minute=30):%H:%M} {berlin_local.tzname()}"
    assert berlin_span == f"16:00–16:30 {berlin_local.tzname()}"  # 10:00 in New York
    berlin_table = berlin.locator("table").last.inner_text()
    assert table_day(day) in berlin_table and berlin_span in berlin_table and "10:00" not in berlin_table
    assert shown(berlin, "(times in Europe/Berlin)").is_visible()
    ny_table = new_york.locator("table").last.inner_text()
    assert table_day(day) in ny_table and ny_span in ny_table and "16:00" not in ny_table
    assert shown(new_york, "(times in America/New_York)").is_visible()
    assert sorted(r.last_tool_result["time_zone"] for r in model.requests if r.last_tool_name == "list_meetings") \
        == sorted([BERLIN, NEW_YORK])
    assert model.calls_count == 5
    assert list(on_day(app_server.sandbox_db, day)) == [row.uid]  # still the one booking
