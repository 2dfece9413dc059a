"""Buttons that act in code, in the browser (issue 18): a taken time shows the nearest free times as buttons;
pressing one shows the proposal with no model call in between, and Confirm books it with one POST to the calendar;
the booked answer offers an .ics file that downloads and parses; the meetings list offers Cancel for each meeting,
which opens a cancel proposal without the model. Days: weekday(13) and weekday(14), see helpers.py."""

from __future__ import annotations

import shutil

from icalendar import Calendar

from tests.e2e.helpers import NEW_YORK, USER_EMAIL, USER_NAME, at, bookings, local_day, no_model_text, on_day, seed, \
    send, shown, weekday
from testing.openai_fake import call, say
from testing.processes import ROOT


def test_a_free_time_pressed_is_proposed_without_the_model_and_booked_once(app_server, calendar, page_in):
    model = app_server.model
    model.reset()
    day = weekday(13)
    taken = seed(calendar, at(day, 10), email="carol@example.com", name="Carol King", about="Carol's slot")
    model.on_user(r"^book", call("book_meeting", start=f"{day.isoformat()}T10:00", reason="Planning"))
    model.on_tool_result("book_meeting", say("That time is taken; here are the nearest free times."),
                         when=lambda result: result.get("status") == "slot_unavailable")
    page = page_in(NEW_YORK)

    send(page, f"book a planning meeting on {local_day(day)} at 10am")
    shown(page, "Free times nearby")
    pick = page.get_by_role("button", name=f"{day:%a} {day.day} {day:%b} 10:30")
    pick.wait_for()
    calls = model.calls_count
    with page.expect_response(lambda r: "/project/action" in r.url):  # (the press's request has ended)
        pick.click()
    page.get_by_role("button", name="Confirm").wait_for()
    assert model.calls_count == calls  # no model call between the press and the proposal
    assert "10:30–11:00" in page.locator(".step").filter(has_text="Book this meeting?").last.inner_text()
    assert list(on_day(app_server.sandbox_db, day)) == [taken]  # nothing written yet

    # Another Chainlit process stopping in this directory deletes Chainlit's .files/ (it did in CI): the .ics file
    # must not depend on it.
    shutil.rmtree(ROOT / ".files", ignore_errors=True)
    page.get_by_role("button", name="Confirm").click()
    shown(page, "✅ Booked")
    made = [row for uid, row in on_day(app_server.sandbox_db, day).items() if uid != taken]
    assert [(row.start, row.attendee) for row in made] == [(at(day, 10, 30), USER_EMAIL)]  # one booking, once
    assert model.calls_count == calls

    # The booked answer's .ics file downloads and parses as that meeting.
    link = page.get_by_role("link", name=f"calbot-{made[0].uid}.ics")
    with page.expect_download() as download:
        link.click()
    calendar_file = Calendar.from_ical(open(download.value.path(), "rb").read())
    [event] = calendar_file.walk("VEVENT")
    assert event.decoded("DTSTART") == at(day, 10, 30) and str(event["UID"]).startswith(made[0].uid)
    no_model_text(page)


def test_whats_free_shows_times_to_press(app_server, calendar, page_in):
    model = app_server.model
    model.reset()
    day = weekday(13)
    model.on_user(r"^what's free", call("check_availability", date=day.isoformat()))
    model.on_tool_result("check_availability", say("Those are the free times that day."))
    page = page_in(NEW_YORK)

    send(page, f"what's free on {local_day(day)}?")
    shown(page, "Press a free time to book it")
    # The host's free times that day (09:00-17:00 London is 04:00-12:00 New York), as buttons in the browser's zone.
    buttons = page.locator('button[id^="calbot-choice-"]')
    buttons.first.wait_for()
    labels = [label.strip() for label in buttons.all_inner_texts()]
    assert 0 < len(labels) <= 6 and all(len(label) == 5 and "04:00" <= label < "12:00" for label in labels), labels
    no_model_text(page)


def test_a_listed_meeting_is_cancelled_from_its_row(app_server, calendar, page_in):
    model = app_server.model
    model.reset()
    day = weekday(14)
    mine = seed(calendar, at(day, 9), email=USER_EMAIL, name=USER_NAME, about="Weekly sync")
    model.on_user(r"^show", call("list_meetings", from_date=day.isoformat(), to_date=day.isoformat()))
    model.on_tool_result("list_meetings", say("That is your meeting that day."))
    page = page_in(NEW_YORK)

    send(page, f"show my meetings on {local_day(day)}")
    cancel = page.get_by_role("button", name=f"Cancel {day:%a} {day.day} {day:%b} 09:00")
    cancel.wait_for()
    calls = model.calls_count
    with page.expect_response(lambda r: "/project/action" in r.url):  # (the press's request has ended)
        cancel.click()
    page.get_by_role("button", name="Confirm").wait_for()
    assert model.calls_count == calls
    page.get_by_role("button", name="Confirm").click()
    shown(page, "✅ Cancelled")
    assert bookings(app_server.sandbox_db)[mine].status == "cancelled"
    assert model.calls_count == calls
    no_model_text(page)


def test_the_sandbox_notice_shows_once_per_browser(app_server, page_in):
    model = app_server.model
    model.reset()
    model.on_user(r"^hello", say("Hello! I can book, list, cancel and move your meetings."))
    first = page_in(NEW_YORK)
    send(first, "hello")
    shown(first, "Hello! I can book")
    assert "sandbox calendar" in first.locator("body").inner_text()

    # A new chat in the same browser: the notice is not repeated.
    second = first.context.new_page()
    second.goto(app_server.url)
    second.locator("#starter-book-a-meeting").wait_for()
    second.wait_for_function("window.__calbotZoneSent !== undefined")
    send(second, "hello again")
    shown(second, "Hello! I can book")
    assert "sandbox calendar" not in second.locator("body").inner_text()
