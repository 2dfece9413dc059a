"""A booked meeting as an .ics file and a Google Calendar link (calbot/channels/calendar_links.py, issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest
from icalendar import Calendar

from calbot.channels.calendar_links import CalendarEntry, google_calendar_url, ics_bytes, ics_filename

VIEW = {"uid": "bk_123", "start_utc": "2026-11-24T14:00:00Z", "duration_minutes": 30, "when": "…",
        "untrusted": {"title": "Budget review", "reason": "Q1 numbers", "link": "https://cal.example/video/bk_123",
                      "with": ["Sandbox Host"]}}


def events(data: bytes) -> list:
    return [c for c in Calendar.from_ical(data).walk() if c.name == "VEVENT"]


def test_the_ics_file_holds_the_meeting_at_its_utc_instants() -> None:
    entry = CalendarEntry.from_view(VIEW)
    data = ics_bytes(entry, now=datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    [event] = events(data)
    assert event.decoded("dtstart") == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
    assert str(event["summary"]) == "Budget review" and str(event["description"]) == "Q1 numbers"
    assert str(event["uid"]) == "bk_123@calbot" and str(event["url"]) == "https://cal.example/video/bk_123"
    assert b"\r\n" in data and data.startswith(b"BEGIN:VCALENDAR")
    assert ics_filename(entry) == "calbot-bk_123.ics"


def test_text_written_by_people_cannot_add_or_end_events() -> None:
    hostile = {**VIEW, "uid": "../../x y", "untrusted": {
        "title": "Hi\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:injected", "reason": "a;b,c\\d\nline",
        "link": "javascript:alert(1)"}}
    entry = CalendarEntry.from_view(hostile)
    [event] = events(ics_bytes(entry))
    assert str(event["summary"]).startswith("Hi") and "injected" in str(event["summary"])  # kept as text
    assert str(event["description"]) == "a;b,c\\d\nline"
    assert "url" not in event and "location" not in event  # not a plain http(s) URL: dropped
    assert ics_filename(entry) == "calbot-x-y.ics"


@pytest.mark.parametrize("link", ["http://a b", "https://exämple.org", "ftp://x", None])
def test_only_plain_http_links_are_kept(link) -> None:
    view = {**VIEW, "untrusted": {**VIEW["untrusted"], "link": link}}
    assert CalendarEntry.from_view(view).link is None


def test_the_google_link_carries_the_same_meeting() -> None:
    url = urlparse(google_calendar_url(CalendarEntry.from_view(VIEW)))
    assert (url.scheme, url.netloc, url.path) == ("https", "calendar.google.com", "/calendar/render")
    query = parse_qs(url.query)
    assert query["action"] == ["TEMPLATE"] and query["text"] == ["Budget review"]
    assert query["dates"] == ["20261124T140000Z/20261124T143000Z"]
    assert query["details"] == ["Q1 numbers"] and query["location"] == ["https://cal.example/video/bk_123"]
