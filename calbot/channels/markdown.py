"""Markdown for people, written by code from exact data (never by the model): proposals, outcomes, meeting lists.

Every time is shown in the user's zone with the zone named. Text that came from a person or from Cal.com (titles,
reasons, names) goes through calbot.safe_text.plain: escaped so it cannot break the table or inject links and
formatting, never auto-linked (a URL or email address in a title reads as text), invisible controls such as U+202E
shown as <U+202E>, and capped (CELL_CHARS in a table cell, FIELD_CHARS in a proposal or outcome) with an ellipsis.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from calbot import safe_text
from calbot.booking.pending import describe
from calbot.booking.session import Proposal
from calbot.timezones import format_span, get_zone, parse_instant, zone_abbreviation

CELL_CHARS = 80  # characters of a title or of the people shown in one cell of a meetings table
FIELD_CHARS = 200  # characters of a title, reason, name or guest list shown in a proposal or an outcome
# A join link is a link only when it is plain ASCII (RFC 3986 characters but parentheses): its text is its target.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+")


def escape(text: Any, limit: int | None = None) -> str:
    """Plain text safe inside Markdown (and a table cell): specials escaped, line breaks flattened, invisible
    controls shown, no autolink, at most `limit` characters."""
    return safe_text.plain(text, limit)


def _link(url: str | None) -> str | None:
    if not url or not _PLAIN_URL.fullmatch(url):
        return None
    return f"[{safe_text.escape_markdown(url)}]({url})"


def _written(view: dict[str, Any], key: str) -> Any:
    """A field other people wrote into a meeting of a tool result (the executor keeps them under "untrusted")."""
    written = view.get("untrusted")
    return written.get(key) if isinstance(written, dict) else None


def proposal_markdown(proposal: Proposal) -> str:
    """What will happen if the user presses Confirm: day, local time and zone, duration, reason; old -> new."""
    zone = proposal.time_zone
    lines: list[str]
    if proposal.action == "book":
        lines = ["**Book this meeting?**", "",
                 f"- **When:** {format_span(proposal.start, proposal.end, zone)}",
                 f"- **Length:** {proposal.duration_minutes} minutes",
                 f"- **About:** {escape(proposal.reason or '-', FIELD_CHARS)}",
                 f"- **For:** {escape(proposal.attendee_name or '', FIELD_CHARS)} "
                 f"({escape(proposal.attendee_email or '', FIELD_CHARS)})"]
        if proposal.guests:
            lines.append(f"- **Guests:** {escape(', '.join(proposal.guests), FIELD_CHARS)}")
        verb = "booked"
    elif proposal.action == "cancel":
        lines = ["**Cancel this meeting?**", "",
                 f"- **Meeting:** {escape(proposal.title or 'Meeting', FIELD_CHARS)}",
                 f"- **When:** {format_span(proposal.start, proposal.end, zone)}"]
        if proposal.reason:
            lines.append(f"- **Reason:** {escape(proposal.reason, FIELD_CHARS)}")
        verb = "cancelled"
    else:
        old = (format_span(proposal.old_start, proposal.old_end, zone)
               if proposal.old_start and proposal.old_end else "?")
        lines = ["**Move this meeting?**", "",
                 f"- **Meeting:** {escape(proposal.title or 'Meeting', FIELD_CHARS)}",
                 f"- **From:** {old}",
                 f"- **To:** {format_span(proposal.start, proposal.end, zone)}",
                 f"- **Length:** {proposal.duration_minutes} minutes"]
        if proposal.reason:
            lines.append(f"- **Reason:** {escape(proposal.reason, FIELD_CHARS)}")
        verb = "changed"
    for warning in proposal.warnings:
        lines.append(f"- ⚠️ {escape(warning)}")
    lines += ["", f"Nothing is {verb} until you press **Confirm**."]
    return "\n".join(lines)


_DONE_TITLES = {"booked": "✅ Booked", "rescheduled": "✅ Moved", "cancelled": "✅ Cancelled",
                "awaiting_host": "🕓 Requested", "discarded": "Discarded"}


def outcome_markdown(outcome: dict[str, Any]) -> str:
    """The result of Confirm or Discard: what happened, when (local), status and link."""
    message = escape(outcome.get("message") or "")
    if not outcome.get("ok"):
        lines = [f"**Not done.** {message}"]
        alternatives = outcome.get("alternatives") or []
        if alternatives:
            lines += ["", "Free times nearby:"] + [f"- {escape(a.get('when'))}" for a in alternatives]
        return "\n".join(lines)
    booking = outcome.get("booking") or {}
    title = _DONE_TITLES.get(str(outcome.get("status")), "Done")
    if not booking:
        return message
    lines = [f"**{title}:** {escape(_written(booking, 'title') or 'Meeting', FIELD_CHARS)}", "",
             f"- **When:** {escape(booking.get('when'))}",
             f"- **Status:** {escape(booking.get('status'))}"]
    link = _link(_written(booking, "link"))
    if link and outcome.get("status") != "cancelled":
        lines.append(f"- **Join:** {link}")
    return "\n".join(lines)


def _when_cells(view: dict[str, Any], zone: str) -> tuple[str, str]:
    """(day, time) in the user's zone, computed from the UTC start and duration in the tool result."""
    try:
        start = parse_instant(str(view["start_utc"]))
        end = start + timedelta(minutes=int(view.get("duration_minutes") or 0))
    except (KeyError, ValueError, TypeError):
        return escape(view.get("when") or "?"), ""
    tz = get_zone(zone)
    first, last = start.astimezone(tz), end.astimezone(tz)
    day = f"{first:%a} {first.day} {first:%b %Y}"
    if last.date() != first.date() and last != last.replace(hour=0, minute=0, second=0, microsecond=0):
        return day, f"{first:%H:%M}–{last:%a} {last:%H:%M} {zone_abbreviation(first)}"
    return day, f"{first:%H:%M}–{last:%H:%M} {zone_abbreviation(first)}"


def zone_change_markdown(result: dict[str, Any]) -> str:
    """A set_time_zone result that moved a pending time: the new zone and what became of the time already given."""
    return (f"🕓 Times are now read and shown in **{escape(result.get('time_zone'))}**. "
            f"{escape(describe(list(result.get('pending_times') or [])))}")


def meetings_markdown(result: dict[str, Any]) -> str:
    """A list_meetings result as a table: when, what, with whom, status, in the user's zone (named)."""
    zone = str(result.get("time_zone") or "UTC")
    meetings = list(result.get("meetings") or [])
    nearest = list(result.get("nearest") or [])
    looked_for = result.get("looked_for")
    if not meetings:
        head = (f"No meeting found for {escape(looked_for)}." if looked_for else "You have no meetings to show.")
        if result.get("for_person") and not nearest and not looked_for:  # never `note`: that is for the model
            head = escape(result["for_person"])
        if not nearest:
            return head
        return head + "\n\n" + _table(nearest, zone, "Nearest meetings")
    if looked_for and result.get("ambiguous"):
        text = _table(meetings, zone, f"{len(meetings)} meetings match {escape(looked_for)}: which one do you mean?",
                      name_zone=zone not in str(looked_for))
    elif looked_for:
        text = _table(meetings, zone, f"Meetings for {escape(looked_for)}", name_zone=zone not in str(looked_for))
    else:
        text = _table(meetings, zone, "Your meetings")
    if result.get("not_shown"):
        text += f"\n\n…and {int(result['not_shown'])} more. Ask for a shorter period to see them."
    return text


def _table(meetings: list[dict[str, Any]], zone: str, title: str, name_zone: bool = True) -> str:
    heading = f"**{title}** (times in {escape(zone)})" if name_zone else f"**{title}**"
    rows = [heading, "", "| Day | Time | What | With | Status |",
            "|---|---|---|---|---|"]
    for view in meetings:
        day, time_ = _when_cells(view, zone)
        with_whom = ", ".join(str(w) for w in _written(view, "with") or []) or "-"
        # What it is about: the reason given when booking tells meetings apart better than the event type's title.
        what = _written(view, "reason") or _written(view, "title") or "Meeting"
        rows.append(f"| {day} | {time_} | {escape(what, CELL_CHARS)} | "
                    f"{escape(with_whom, CELL_CHARS)} | "
                    f"{escape(view.get('status') or '')} |")
    return "\n".join(rows)
