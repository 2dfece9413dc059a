"""calbot/channels/markdown.py with booking text written by other people (issue 15, finding 2): a URL, a www name or an email
address in a title, name or reason never becomes a link, bidi controls are shown, and what a cell or a field shows
is capped so a 3000-character name cannot widen the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calbot.booking.session import Proposal
from calbot.channels.markdown import CELL_CHARS, FIELD_CHARS, meetings_markdown, outcome_markdown, proposal_markdown
from tests.markdown_hazards import BIDI_CONTROLS, hazards, text_of
from testing.common import FIXED_NOW

NOW = FIXED_NOW
START = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
HOSTILE = ("Visit \u202egpj.exe\u202c https://paypal.com.evil.example/login or www.paypal.com.evil.example, mail "
           "ceo@evil.example \u2066x\u2069 ![p](http://h.example/p.gif) <img src=http://h.example/q.gif>")
LONG = "W" * 3000


def proposal(action: str, **changes) -> Proposal:
    values = dict(id="p1", action=action, created_at=NOW, time_zone="Europe/Berlin", summary="(summary)",
                  event_type_id=1001, start=START, end=START + timedelta(minutes=30), duration_minutes=30,
                  reason=HOSTILE, attendee_name=HOSTILE, attendee_email="ana@example.com", guests=[HOSTILE],
                  title=HOSTILE, old_start=START - timedelta(days=1), old_end=START - timedelta(days=1, minutes=-30))
    values.update(changes)
    return Proposal(**values)


def meeting(title: str, with_: list[str]) -> dict:
    return {"uid": "u1", "when": "x", "start_utc": "2026-11-24T14:00:00Z", "duration_minutes": 30, "status": "booked",
            "untrusted": {"title": title, "with": with_}}


def everything() -> dict[str, str]:
    booked = {"ok": True, "status": "booked", "message": "Booked.",
              "booking": {"uid": "u1", "when": "Tuesday", "status": "booked",
                          "untrusted": {"title": HOSTILE, "link": "https://sandbox.calbot.invalid/video/u1"}}}
    shown = {f"{action} proposal": proposal_markdown(proposal(action)) for action in ("book", "cancel", "reschedule")}
    shown["outcome"] = outcome_markdown(booked)
    shown["table"] = meetings_markdown({"time_zone": "UTC", "meetings": [meeting(HOSTILE, [HOSTILE]),
                                                                         meeting("www.evil.example", ["b@c.example"])]})
    return shown


@pytest.mark.parametrize("name", list(everything()))
def test_booking_text_never_becomes_a_link_an_image_or_html(name):
    markdown = everything()[name]
    found = hazards(markdown.replace("[https://sandbox.calbot.invalid/video/u1](https://sandbox.calbot.invalid/"
                                     "video/u1)", "JOIN"))
    assert found == []


@pytest.mark.parametrize("name", list(everything()))
def test_bidi_controls_in_booking_text_are_shown_by_name(name):
    markdown = everything()[name]
    assert not set(markdown) & set(BIDI_CONTROLS)
    assert r"\<U\+202E\>gpj.exe\<U\+202C\>" in markdown


def test_what_a_person_reads_is_the_text_as_written():
    row = [line for line in everything()["table"].splitlines() if line.startswith("| Tue")][0]
    assert text_of(row) == (
        "| Tue 24 Nov 2026 | 14:00–14:30 UTC | Visit <U+202E>gpj.exe<U+202C> https://paypal.com.evil.example/login or "
        "www.payp… | Visit <U+202E>gpj.exe<U+202C> https://paypal.com.evil.example/login or www.payp… | booked |")


def test_a_3000_character_name_is_cut_in_the_table_and_in_proposals():
    table = meetings_markdown({"time_zone": "UTC", "meetings": [meeting(LONG, [LONG, LONG])]})
    [row] = [line for line in table.splitlines() if line.startswith("| Tue")]
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert cells[2] == "W" * (CELL_CHARS - 1) + "…" and cells[3] == "W" * (CELL_CHARS - 1) + "…"
    assert len(row) < 4 * CELL_CHARS
    book = proposal_markdown(proposal("book", reason=LONG, attendee_name=LONG, guests=[LONG]))
    assert max(len(line) for line in book.splitlines()) < 2 * FIELD_CHARS + 40
    cancel = proposal_markdown(proposal("cancel", title=LONG, reason=LONG))
    assert max(len(line) for line in cancel.splitlines()) < FIELD_CHARS + 40


@pytest.mark.parametrize("link", ["https://sandbox.calbot.invalid/video/u1\u202e", "https://ex\u0430mple.com/x",
                                  "https://h.example/a b", "https://h.example/<x>"])
def test_a_join_link_that_is_not_plain_ascii_is_not_made_a_link(link):
    booked = {"ok": True, "status": "booked", "message": "Booked.",
              "booking": {"uid": "u1", "when": "Tuesday", "status": "booked", "untrusted": {"link": link}}}
    assert "Join" not in outcome_markdown(booked)


def test_a_join_link_shows_exactly_where_it_goes():
    url = "https://sandbox.calbot.invalid/video/a_b?x=1&y=2"
    booked = {"ok": True, "status": "booked", "message": "Booked.",
              "booking": {"uid": "u1", "when": "Tuesday", "status": "booked", "untrusted": {"link": url}}}
    assert outcome_markdown(booked).splitlines()[-1] == rf"- **Join:** [https://sandbox.calbot.invalid/video/a\_b?x=1&y=2]({url})"
