"""Shared helpers of the browser tests: days on the real clock, seeding and reading the sandbox's SQLite file, and
driving the chat page.

The app runs on the real clock, so days are computed: `weekday(n)` is the n-th weekday (Monday-Friday) counting from
the first one at least two days ahead in America/New_York. Each test uses its own day so that tests sharing the app's
sandbox file never meet: test_flows.py uses weekday(0) and weekday(1); the other tests use weekday(2) to weekday(9);
test_untrusted_text.py uses weekday(10), test_origin.py weekday(11), test_event_types.py weekday(12) and
test_choices.py weekday(13) and weekday(14), test_screenshots.py weekday(15) and weekday(16), test_accessibility.py weekday(17);
a test that needs another day (after a DST change) takes one after weekday(ALLOTTED - 1).
The sandbox host works Mon-Fri 09:00-17:00 Europe/London, which is 04:00/05:00-12:00/13:00 in New York and
10:00-18:00 in Berlin, so 09:00-11:30 New York and 10:00-17:30 Berlin are always inside it.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from calbot.sandbox import Sandbox
from calbot.sandbox.service import NewBooking

USER_EMAIL = "ana@example.com"  # the app's user (CAL_USER_EMAIL), not the sandbox host
USER_NAME = "Ana Diaz"
NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
THIRTY_MIN = 1001  # the sandbox's default (30 minute) event type, the one the app books
ALLOTTED = 18  # weekday(0) .. weekday(17) are reserved for tests that name their day by index


def weekday(n: int, zone: str = NEW_YORK) -> date:
    """The n-th weekday (0-based) from the first weekday at least two days after today in `zone`."""
    day = datetime.now(ZoneInfo(zone)).date() + timedelta(days=2)
    while True:
        if day.weekday() < 5:
            if n == 0:
                return day
            n -= 1
        day += timedelta(days=1)


def at(day: date, hour: int, minute: int = 0, zone: str = NEW_YORK) -> datetime:
    """The instant of a wall-clock time on `day` in `zone`."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))


def local_day(day: date) -> str:
    """`Monday 23 November 2026`, as the page writes a day in proposals and outcomes."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def table_day(day: date) -> str:
    """`Mon 23 Nov 2026`, as the page writes a day in a meetings table."""
    return f"{day:%a} {day.day} {day:%b %Y}"


# -- the calendar --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    uid: str
    status: str
    start: datetime  # UTC
    end: datetime  # UTC
    data: dict[str, Any]

    @property
    def attendee(self) -> str:
        return self.data["attendees"][0]["email"]


def bookings(db: Path) -> dict[str, Row]:
    """Every booking in the sandbox's SQLite file (table bookings(uid, status, start_ms, end_ms, data)); none before
    the app (or the `calendar` fixture) has created it."""
    if not db.exists():
        return {}
    with closing(sqlite3.connect(db)) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'bookings'").fetchone():
            return {}
        rows = con.execute("SELECT uid, status, start_ms, end_ms, data FROM bookings").fetchall()
    return {uid: Row(uid, status, datetime.fromtimestamp(start / 1000, UTC), datetime.fromtimestamp(end / 1000, UTC),
                     json.loads(data)) for uid, status, start, end, data in rows}


def on_day(db: Path, day: date, zone: str = NEW_YORK) -> dict[str, Row]:
    """The bookings starting on `day` in `zone`."""
    return {uid: row for uid, row in bookings(db).items() if row.start.astimezone(ZoneInfo(zone)).date() == day}


def seed(calendar: Sandbox, start: datetime, *, email: str, name: str, about: str = "Seeded",
         time_zone: str = NEW_YORK) -> str:
    """Book a 30-minute meeting straight through the sandbox's service (the host must be free); returns its uid."""
    booking = calendar.calendar.create(NewBooking(
        start=start, event_type_id=THIRTY_MIN, attendee_name=name, attendee_email=email,
        attendee_time_zone=time_zone, responses={"notes": about}))
    return booking["uid"]


# -- the page ------------------------------------------------------------------------------------------------------

def send(page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-submit").click()


def shown(page, text: str):
    """Wait until `text` shows in the page; returns the (last) element holding it."""
    locator = page.get_by_text(text).last
    locator.wait_for()
    return locator


def body(page) -> str:
    return page.locator("body").inner_text()


def message_with(page, text: str):
    """The last chat message (Chainlit's `.step`) containing `text`."""
    return page.locator(".step").filter(has_text=text).last


def confirm_buttons(page) -> int:
    return page.get_by_role("button", name="Confirm").count()


def latest_uid_note(request) -> str | None:
    """The uid in the last "[The user pressed Confirm] ... (uid X)" note of the history the model was sent."""
    for message in reversed(request.messages):
        content = message.get("content")
        if message.get("role") == "assistant" and isinstance(content, str) and "(uid " in content:
            return content.rsplit("(uid ", 1)[1].split(")", 1)[0]
    return None


# Text written for the model (tool results' notes and instructions, the history's notes), which the person must never
# see outside a tool step they open themselves.
MODEL_TEXT = ("how_to_book", "Meetings may start at the free times shown", "Do not pick one of the nearest",
              "[The user pressed", "[calbot showed the proposal", "untrusted", "ask_user_for",
              "is never an instruction", "Fix these and call again")


def no_model_text(page) -> None:
    """The page as the person sees it (collapsed tool steps stay collapsed) carries none of MODEL_TEXT."""
    text = body(page)
    assert not [phrase for phrase in MODEL_TEXT if phrase in text], text
