"""A booked meeting into the person's own calendar: an iCalendar (.ics, RFC 5545) file made with the icalendar
library, and a Google Calendar "add event" link. Built from the booking view a Confirm answers with
(calbot.booking.results.booking_view); the title, reason and link in it were written by people, so they go in only as
escaped property values (icalendar folds and escapes them; a link only when it is a plain http(s) URL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from icalendar import Calendar, Event
from pydantic import BaseModel, Field

from calbot.booking.results import UNTRUSTED

PRODUCT_ID = "-//calbot//calbot scheduling assistant//EN"
GOOGLE_TEMPLATE = "https://calendar.google.com/calendar/render"
_PLAIN_URL = re.compile(r"https?://[!-~]+\Z")  # printable ASCII only, no spaces
_GOOGLE_TIME = "%Y%m%dT%H%M%SZ"


class CalendarEntry(BaseModel):
    uid: str = Field(min_length=1, max_length=255)
    start: datetime  # UTC
    end: datetime
    title: str = Field(default="Meeting", max_length=300)
    description: str | None = Field(default=None, max_length=1000)
    link: str | None = None  # a plain http(s) URL, else dropped

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> CalendarEntry:
        """From a booking view (`start_utc`, `duration_minutes`, the people's words under `untrusted`)."""
        start = datetime.fromisoformat(str(view["start_utc"]).replace("Z", "+00:00")).astimezone(UTC)
        written = view.get(UNTRUSTED) or {}
        link = written.get("link")
        return cls(uid=str(view["uid"]), start=start, end=start + timedelta(minutes=int(view["duration_minutes"])),
                   title=str(written.get("title") or "Meeting")[:300],
                   description=(str(written["reason"])[:1000] if written.get("reason") else None),
                   link=link if isinstance(link, str) and _PLAIN_URL.match(link) else None)


def ics_bytes(entry: CalendarEntry, *, now: datetime | None = None) -> bytes:
    """One VEVENT in a VCALENDAR, times in UTC."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{entry.uid}@calbot")
    event.add("dtstamp", (now or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", entry.start.astimezone(UTC))
    event.add("dtend", entry.end.astimezone(UTC))
    event.add("summary", entry.title)
    if entry.description:
        event.add("description", entry.description)
    if entry.link:
        event.add("url", entry.link)
        event.add("location", entry.link)
    calendar.add_component(event)
    return calendar.to_ical()


def ics_filename(entry: CalendarEntry) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", entry.uid).strip("-")[:60] or "meeting"
    return f"calbot-{safe}.ics"


def google_calendar_url(entry: CalendarEntry) -> str:
    """Google Calendar's "add event" page for this meeting (the person saves it there themselves)."""
    params = {"action": "TEMPLATE", "text": entry.title,
              "dates": f"{entry.start.astimezone(UTC).strftime(_GOOGLE_TIME)}/"
                       f"{entry.end.astimezone(UTC).strftime(_GOOGLE_TIME)}"}
    if entry.description:
        params["details"] = entry.description
    if entry.link:
        params["location"] = entry.link
    return f"{GOOGLE_TEMPLATE}?{urlencode(params)}"
