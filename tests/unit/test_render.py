"""calbot/channels/markdown.py: the Markdown calbot's code writes for proposals, outcomes and meeting lists.

Times are shown in the user's zone with the zone named and computed from exact data (UTC start + duration), and text
that came from people or Cal.com cannot break a table or smuggle in a link."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calbot.booking.session import Proposal
from calbot.channels.markdown import escape, meetings_markdown, outcome_markdown, proposal_markdown
from tests.markdown_hazards import without_code
from testing.common import FIXED_NOW

NOW = FIXED_NOW
EVIL = "a|b *x* [link](http://evil) _u_ `code` <b>"
HEADER = "| Day | Time | What | With | Status |"


def unescaped(text: str, char: str) -> int:
    """How many times `char` appears without a backslash before it."""
    return len(re.findall(rf"(?<!\\){re.escape(char)}", text))


def proposal(action: str = "book", **changes: Any) -> Proposal:
    start = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    values: dict[str, Any] = dict(
        id="p1", action=action, created_at=NOW, time_zone="Europe/Berlin", summary="(summary)",
        event_type_id=1001, start=start, end=start + timedelta(minutes=30), duration_minutes=30,
        reason="budget review", attendee_name="Ana Diaz", attendee_email="ana@example.com")
    values.update(changes)
    return Proposal(**values)


def view(start_utc: str, minutes: int = 30, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"uid": "u1", "title": "Budget review", "when": "WHEN-TEXT-NOT-USED",
                              "start_local": "ignored", "start_utc": start_utc, "duration_minutes": minutes,
                              "status": "booked", "with": ["Hana Host"]}
    values.update(changes)
    return as_tool_result(values)


def as_tool_result(values: dict[str, Any]) -> dict[str, Any]:
    """A meeting as the executor puts it in a tool result: other people's text under "untrusted"."""
    written = {key: values.pop(key) for key in ("title", "with", "reason", "link") if key in values}
    return {**values, "untrusted": written}


def rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ") and line != HEADER]


def cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]


# -- escape ----------------------------------------------------------------------------------------------------------
def test_escape_neutralises_markdown_and_flattens_lines():
    assert escape("a|b *x* [l](u)") == r"a\|b \*x\* \[l\]\(u\)"
    assert escape("first\n\n# heading\n- item") == r"first \# heading - item"
    assert escape(None) == "" and escape(42) == "42"


# -- proposals -------------------------------------------------------------------------------------------------------
def test_book_proposal_names_local_time_zone_length_reason_and_attendee():
    md = proposal_markdown(proposal(guests=["bo@example.com"]))

    assert md.splitlines()[0] == "**Book this meeting?**"
    assert "- **When:** Tuesday 24 November 2026, 15:00–15:30 CET (Europe/Berlin)" in md  # 14:00 UTC
    assert "- **Length:** 30 minutes" in md
    assert "- **About:** budget review" in md
    assert "- **For:** Ana Diaz (`ana@example.com`)" in md  # code spans: never auto-linked
    assert "- **Guests:** `bo@example.com`" in md
    assert md.endswith("Nothing is booked until you press **Confirm**.")


def test_book_proposal_in_another_zone_shows_that_zones_wall_time():
    md = proposal_markdown(proposal(time_zone="America/New_York"))
    assert "Tuesday 24 November 2026, 09:00–09:30 EST (America/New_York)" in md
    assert "Guests" not in md


def test_cancel_proposal():
    md = proposal_markdown(proposal("cancel", title="Weekly sync", reason="I'm ill", booking_uid="u1",
                                    attendee_name=None, attendee_email=None))

    assert md.splitlines()[0] == "**Cancel this meeting?**"
    assert "- **Meeting:** Weekly sync" in md
    assert "- **When:** Tuesday 24 November 2026, 15:00–15:30 CET (Europe/Berlin)" in md
    assert "- **Reason:** I'm ill" in md
    assert md.endswith("Nothing is cancelled until you press **Confirm**.")


def test_cancel_proposal_without_a_reason_has_no_reason_line():
    assert "Reason" not in proposal_markdown(proposal("cancel", title="Weekly sync", reason=None))


def test_reschedule_proposal_shows_old_and_new():
    old = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    new = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    md = proposal_markdown(proposal("reschedule", title="Weekly sync", start=new, end=new + timedelta(minutes=60),
                                    duration_minutes=60, old_start=old, old_end=old + timedelta(minutes=30),
                                    reason="clash"))

    assert md.splitlines()[0] == "**Move this meeting?**"
    assert "- **From:** Tuesday 24 November 2026, 15:00–15:30 CET (Europe/Berlin)" in md
    assert "- **To:** Thursday 26 November 2026, 10:00–11:00 CET (Europe/Berlin)" in md
    assert "- **Length:** 60 minutes" in md and "- **Reason:** clash" in md
    assert md.index("**From:**") < md.index("**To:**")
    assert md.endswith("Nothing is changed until you press **Confirm**.")


def test_warnings_are_shown_escaped():
    md = proposal_markdown(proposal(warnings=["The user already has 'Lunch *with* Bo' at 15:00, which overlaps.",
                                              "The meeting now lasts 45 minutes."]))
    warnings = [line for line in md.splitlines() if line.startswith("- ⚠️ ")]
    assert warnings == [r"- ⚠️ The user already has 'Lunch \*with\* Bo' at 15:00, which overlaps.",
                        "- ⚠️ The meeting now lasts 45 minutes."]


@pytest.mark.parametrize("action", ["cancel", "reschedule"])
def test_a_hostile_title_cannot_format_or_link(action):
    old = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    md = proposal_markdown(proposal(action, title=EVIL, reason="x](http://evil2) and\n\n# big",
                                    old_start=old, old_end=old + timedelta(minutes=30)))

    [line] = [line for line in md.splitlines() if line.startswith("- **Meeting:**")]
    text = line.removeprefix("- **Meeting:** ")
    assert text == r"a\|b \*x\* `[link](http://evil)` \_u\_ \`code\` \<b\>"
    for char in "|*[]()`<>_":
        assert unescaped(without_code(text), char) == 0, char
    assert "](http" not in without_code(md).replace(r"\]\(http", "")
    assert not any(line.startswith("#") for line in md.splitlines())


def test_a_hostile_reason_and_name_in_a_book_proposal():
    md = proposal_markdown(proposal(reason="[click](http://evil)", attendee_name="**Boss**"))
    assert r"- **About:** `[click](http://evil)`" in md
    assert r"- **For:** \*\*Boss\*\* (`ana@example.com`)" in md


# -- outcomes --------------------------------------------------------------------------------------------------------
def booked_outcome(**booking: Any) -> dict[str, Any]:
    data = {"uid": "u1", "title": "Budget review", "when": "Tuesday 24 November 2026, 15:00–15:30 CET (Europe/Berlin)",
            "status": "booked", "link": "https://sandbox.calbot.invalid/video/u1"}
    data.update(booking)
    return {"ok": True, "status": "booked", "message": "Booked.", "booking": as_tool_result(data)}


def test_booked_outcome_shows_title_when_status_and_link():
    md = outcome_markdown(booked_outcome())
    assert md.splitlines() == [
        "**✅ Booked:** Budget review", "",
        r"- **When:** Tuesday 24 November 2026, 15:00–15:30 CET \(Europe/Berlin\)",
        "- **Status:** booked",
        "- **Join:** [https://sandbox.calbot.invalid/video/u1](https://sandbox.calbot.invalid/video/u1)"]


@pytest.mark.parametrize(("status", "title"), [("rescheduled", "✅ Moved"), ("awaiting_host", "🕓 Requested"),
                                                ("cancelled", "✅ Cancelled"), ("something_new", "Done")])
def test_outcome_titles(status, title):
    outcome = {**booked_outcome(), "status": status}
    md = outcome_markdown(outcome)
    assert md.startswith(f"**{title}:** Budget review")
    assert ("**Join:**" in md) is (status != "cancelled")


@pytest.mark.parametrize("link", ["javascript:alert(1)", "https://evil.test/a)(b", "ftp://x.test/f", "", None])
def test_unsafe_or_missing_links_are_not_shown(link):
    md = outcome_markdown(booked_outcome(link=link))
    assert "Join" not in md and "javascript" not in md


def test_outcome_escapes_the_booking_title():
    md = outcome_markdown(booked_outcome(title=EVIL))
    assert md.splitlines()[0] == r"**✅ Booked:** a\|b \*x\* `[link](http://evil)` \_u\_ \`code\` \<b\>"


def test_failed_outcome_with_alternatives():
    md = outcome_markdown({"ok": False, "status": "slot_unavailable",
                           "message": "That time is not free on the calendar any more. Nothing was changed.",
                           "alternatives": [{"when": "Tuesday 24 November 2026, 15:30 CET (Europe/Berlin)"},
                                            {"when": "Wednesday 25 November 2026, 10:00 CET (Europe/Berlin)"}]})
    assert md.splitlines() == [
        "**Not done.** That time is not free on the calendar any more. Nothing was changed.", "",
        "Free times nearby:",
        r"- Tuesday 24 November 2026, 15:30 CET \(Europe/Berlin\)",
        r"- Wednesday 25 November 2026, 10:00 CET \(Europe/Berlin\)"]


def test_failed_outcome_without_alternatives_and_discarded():
    failed = outcome_markdown({"ok": False, "status": "failed", "message": "Cal.com had an *internal* error."})
    assert failed == r"**Not done.** Cal.com had an \*internal\* error."
    assert outcome_markdown({"ok": True, "status": "discarded",
                             "message": "Discarded: nothing was changed."}) == "Discarded: nothing was changed."


# -- meeting lists ---------------------------------------------------------------------------------------------------
def test_meetings_table_columns_and_times_across_the_london_dst_change():
    # Clocks go forward in London on Sunday 28 March 2027: 10:00 GMT before, 10:00 BST (09:00 UTC) after.
    result = {"ok": True, "time_zone": "Europe/London", "count": 2,
              "meetings": [view("2027-03-26T10:00:00Z"), view("2027-03-29T09:00:00Z", 60, title="Planning",
                                                             **{"with": ["Hana Host", "Bo"]}, status="cancelled")]}
    md = meetings_markdown(result)

    lines = md.splitlines()
    assert lines[0] == r"**Your meetings** (times in Europe/London)"
    assert lines[2] == HEADER and lines[3] == "|---|---|---|---|---|"
    assert [cells(r) for r in rows(md)] == [
        ["Fri 26 Mar 2027", "10:00–10:30 GMT", "Budget review", "Hana Host", "booked"],
        ["Mon 29 Mar 2027", "10:00–11:00 BST", "Planning", "Hana Host, Bo", "cancelled"]]
    assert "WHEN-TEXT-NOT-USED" not in md  # computed from start_utc, not copied


def test_meetings_follow_the_results_zone():
    result = {"time_zone": "America/New_York", "meetings": [view("2027-03-26T10:00:00Z")]}
    [row] = rows(meetings_markdown(result))
    assert cells(row)[:2] == ["Fri 26 Mar 2027", "06:00–06:30 EDT"]  # US DST started on 14 March


def test_meetings_crossing_midnight_name_the_second_day():
    result = {"time_zone": "Europe/London", "meetings": [view("2027-01-15T23:30:00Z", 60),
                                                         view("2027-01-15T23:30:00Z", 30)]}
    first, second = (cells(r) for r in rows(meetings_markdown(result)))
    assert first[:2] == ["Fri 15 Jan 2027", "23:30–Sat 00:30 GMT"]
    assert second[:2] == ["Fri 15 Jan 2027", "23:30–00:00 GMT"]  # ending at midnight stays on the day


def test_a_hostile_title_cannot_break_the_table():
    result = {"time_zone": "UTC", "meetings": [view("2026-11-24T14:00:00Z", title=EVIL,
                                                    **{"with": ["x|y", "[a](http://b)"]}, status="ok|no")]}
    [row] = rows(meetings_markdown(result))
    assert unescaped(row, "|") == 6  # five columns, whatever the text
    assert "](http" not in without_code(row).replace(r"\]\(http", "")
    assert cells(row)[2] == r"a\|b \*x\* `[link](http://evil)` \_u\_ \`code\` \<b\>"


def test_a_view_without_start_utc_falls_back_to_its_text():
    result = {"time_zone": "UTC", "meetings": [{"untrusted": {"title": "Odd"}, "when": "Someday (soon)",
                                                "status": "booked"}]}
    [row] = rows(meetings_markdown(result))
    assert cells(row)[:3] == [r"Someday \(soon\)", "", "Odd"]


def test_empty_list():
    assert meetings_markdown({"time_zone": "UTC", "count": 0, "meetings": []}) == "You have no meetings to show."
    note = "The user's email is unknown, so no meetings can be shown yet."  # for the model: never on the page
    person = "I don't know your email address yet, so I can't look up your meetings."
    assert meetings_markdown({"time_zone": "UTC", "meetings": [], "note": note}) == "You have no meetings to show."
    assert meetings_markdown({"time_zone": "UTC", "meetings": [], "note": note, "for_person": person}) == person


def test_nothing_found_for_a_day_shows_the_nearest():
    result = {"time_zone": "Europe/Berlin", "count": 0, "meetings": [], "looked_for": "2026-11-25",
              "nearest": [view("2026-11-26T09:00:00Z")], "note": "No meeting matches."}
    md = meetings_markdown(result)
    assert md.startswith("No meeting found for 2026-11-25.\n\n**Nearest meetings** (times in Europe/Berlin)")
    assert "No meeting matches" not in md
    assert [cells(r)[:2] for r in rows(md)] == [["Thu 26 Nov 2026", "10:00–10:30 CET"]]


def test_nothing_found_without_nearest():
    md = meetings_markdown({"time_zone": "Europe/Berlin", "meetings": [], "nearest": [],
                            "looked_for": "Wednesday 25 November 2026, 11:00 CET (Europe/Berlin)"})
    assert md == r"No meeting found for Wednesday 25 November 2026, 11:00 CET \(Europe/Berlin\)."


def test_looked_for_titles_the_table_and_not_shown_is_counted():
    md = meetings_markdown({"time_zone": "UTC", "count": 28, "looked_for": "2026-11-23 to 2026-12-20",
                            "meetings": [view("2026-11-24T14:00:00Z")], "not_shown": 3})
    assert md.splitlines()[0] == "**Meetings for 2026-11-23 to 2026-12-20** (times in UTC)"  # a date names no zone
    assert [cells(r)[1] for r in rows(md)] == ["14:00–14:30 UTC"]  # every time names its zone
    assert md.endswith("…and 3 more. Ask for a shorter period to see them.")


def test_a_looked_for_time_names_the_zone_in_the_heading_once():
    looked_for = "Wednesday 25 November 2026, 11:00 CET (Europe/Berlin)"
    md = meetings_markdown({"time_zone": "Europe/Berlin", "looked_for": looked_for,
                            "meetings": [view("2026-11-25T10:00:00Z")]})
    assert md.splitlines()[0] == r"**Meetings for Wednesday 25 November 2026, 11:00 CET \(Europe/Berlin\)**"
    assert md.count("Europe/Berlin") == 1
    assert "more" not in meetings_markdown({"time_zone": "UTC", "meetings": [view("2026-11-24T14:00:00Z")]})


# -- with real tool results ------------------------------------------------------------------------------------------
async def test_a_real_list_meetings_result_renders_in_the_users_zone():
    from calbot.booking.account import load_account
    from calbot.booking.executor import Executor
    from calbot.calcom import CalcomClient
    from calbot.sandbox import EMBEDDED_BASE_URL, SANDBOX_API_KEY, Sandbox, SandboxConfig
    from calbot.sandbox.service import NewBooking

    sandbox = Sandbox(SandboxConfig(rate_limit=0), ":memory:", lambda: NOW)
    try:
        sandbox.calendar.create(NewBooking(start=datetime(2026, 11, 25, 10, 0, tzinfo=UTC), event_type_id=1001,
                                           attendee_name="Ana Diaz", attendee_email="ana@example.com",
                                           attendee_time_zone="Europe/Berlin"))
        async with CalcomClient(SANDBOX_API_KEY, EMBEDDED_BASE_URL, transport=sandbox.transport()) as client:
            executor = Executor(client, await load_account(client), clock=lambda: NOW)
            state = executor.new_session(email="ana@example.com", name="Ana Diaz", time_zone="Europe/Berlin")
            result = await executor.call(state, "list_meetings", {})
            book = await executor.call(state, "book_meeting", {"start": "2026-11-25T12:00", "reason": "budget"})
    finally:
        sandbox.close()

    md = meetings_markdown(result)
    assert md.startswith("**Your meetings** (times in Europe/Berlin)")
    assert [cells(r) for r in rows(md)] == [["Wed 25 Nov 2026", "11:00–11:30 CET",
                                             "30 Min Meeting between Sandbox Host and Ana Diaz", "Sandbox Host",
                                             "booked"]]
    assert book["status"] == "awaiting_confirmation"
    proposal_md = proposal_markdown(state.proposal)
    assert "- **When:** Wednesday 25 November 2026, 12:00–12:30 CET (Europe/Berlin)" in proposal_md
    assert "- **About:** budget" in proposal_md and "- **For:** Ana Diaz (`ana@example.com`)" in proposal_md
