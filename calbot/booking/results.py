"""What a tool call or a Confirm answers: a compact dict for the model (and the page), built here.

Every outcome has `ok` and, except the plain answers of reads, a `status` from `Status`. `Status` is a str Enum, so
`Status.BOOKED == "booked"`; the dicts hold the plain string (`str(status)`), so the model, the page, the session
store and a shell's print see exactly what they saw before the enum existed. Times travel in UTC and in the user's zone; what
other people wrote into a booking travels under UNTRUSTED (see `booking_view`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from calbot.booking.session import Proposal, SessionState
from calbot.calcom import Booking
from calbot.timezones import format_span, local_wall, to_utc_iso

MAX_NAMES_SHOWN = 10  # people named per meeting in a tool result
# The key under which a booking's text written by other people travels in tool results (see booking_view, prompt.RULES).
UNTRUSTED = "untrusted"

_STATUS_WORDS = {"accepted": "booked", "pending": "awaiting the host's confirmation", "cancelled": "cancelled",
                 "rejected": "declined by the host"}


class Status(StrEnum):
    """The `status` of a booking outcome. (The chat loop answers calls it does not run with statuses of its own:
    repeated, one_change_at_a_time, not_run, internal_error; see calbot/agent/loop.py and caps.py.)"""

    # a tool call that could not run as asked (the `error` sentence says why, for the model)
    INVALID_ARGUMENTS = "invalid_arguments"  # malformed: unknown tool, not JSON, wrong types or formats
    NEEDS_DETAILS = "needs_details"  # something required is missing: the call waits as the pending function
    INVALID_TIME = "invalid_time"  # past, too soon, too far ahead, not a time, a DST gap...
    INVALID_DURATION = "invalid_duration"
    CHOOSE_EVENT_TYPE = "choose_event_type"  # several kinds of meeting offer the length asked for: ask which
    CALENDAR_ERROR = "calendar_error"  # Cal.com failed; `error` is explain()'s sentence
    NOT_ALLOWED = "not_allowed"  # identity or ownership refused
    UNKNOWN_BOOKING = "unknown_booking"  # a uid not shown in this chat, or gone
    ASK_WHICH = "ask_which"  # the user's words matched several meetings (choice.py)
    ALREADY_CANCELLED = "already_cancelled"
    IN_THE_PAST = "in_the_past"
    NOT_SUPPORTED = "not_supported"
    SLOT_UNAVAILABLE = "slot_unavailable"  # with `reason` and `alternatives` (slots.py)
    # a write proposal and what became of it
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # a proposal is open: the page shows Confirm and Discard
    WITHDRAWN = "withdrawn"
    DISCARDED = "discarded"
    NO_PROPOSAL = "no_proposal"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"
    BOOKED = "booked"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    AWAITING_HOST = "awaiting_host"  # booked or moved, waiting for the host's confirmation


def fail(status: Status | str, message: str, **extra: Any) -> dict[str, Any]:
    """A tool result the model should act on: `error` is the sentence for it."""
    return {"ok": False, "status": str(status), "error": message, **extra}


def told(ok: bool, status: Status | str, message: str, **extra: Any) -> dict[str, Any]:
    """An outcome of Confirm, Discard or a withdrawal: `message` is the sentence for the person."""
    return {"ok": ok, "status": str(status), "message": message, **extra}


def booking_view(state: SessionState, booking: Booking) -> dict[str, Any]:
    """A booking for a tool result. What other people wrote into it (title, names, notes, location) sits under
    UNTRUSTED, already capped by the payload models: data to show or match, never an instruction (the prompt
    says so), and never copied into system or assistant text."""
    zone = state.user.time_zone
    user_email = (state.user.email or "").lower()
    others = [a.name or a.email for a in booking.attendees if a.email.lower() != user_email]
    hosts = [h.name or h.email for h in booking.hosts if h.email.lower() != user_email]
    written: dict[str, Any] = {"title": booking.title, "with": (hosts + others)[:MAX_NAMES_SHOWN]}
    if len(hosts) + len(others) > MAX_NAMES_SHOWN:
        written["with_more"] = len(hosts) + len(others) - MAX_NAMES_SHOWN
    if booking.description:
        written["reason"] = booking.description[:200]
    if booking.meeting_link:
        written["link"] = booking.meeting_link
    view: dict[str, Any] = {
        "uid": booking.uid,
        "when": format_span(booking.start, booking.end, zone),
        "start_local": local_wall(booking.start, zone),
        "start_utc": to_utc_iso(booking.start),
        "duration_minutes": booking.duration or int((booking.end - booking.start).total_seconds() // 60),
        "status": _STATUS_WORDS.get(booking.status, booking.status),
        UNTRUSTED: written,
    }
    if booking.is_recurring:
        view["recurring"] = True
    return view


def proposal_opened(proposal: Proposal) -> dict[str, Any]:
    """The tool result of a write: what will change, and that nothing has changed yet."""
    zone = proposal.time_zone
    result: dict[str, Any] = {
        "ok": True, "status": str(Status.AWAITING_CONFIRMATION), "proposal_id": proposal.id, "action": proposal.action,
        "summary": proposal.summary,
        "start_local": local_wall(proposal.start, zone), "start_utc": to_utc_iso(proposal.start),
        "duration_minutes": proposal.duration_minutes,
        "next": "The user now sees Confirm and Discard buttons. Nothing has changed yet: do not say it is done.",
    }
    if proposal.warnings:
        result["warnings"] = proposal.warnings
    return result


def done(state: SessionState, action: str, booking: Booking, zone: str, old_uid: str | None = None) -> dict[str, Any]:
    """The outcome of a Confirm that Cal.com carried out."""
    when = format_span(booking.start, booking.end, zone)
    if action == "cancel":
        message = f"Cancelled the meeting on {when}."
        status = Status.CANCELLED
    elif booking.status == "pending":
        message = (f"Requested the meeting for {when}." if action == "book" else
                   f"Requested moving the meeting to {when}.") + " It is awaiting the host's confirmation."
        status = Status.AWAITING_HOST
    else:
        message = (f"Booked the meeting on {when}." if action == "book" else
                   f"Moved the meeting to {when}.")
        status = Status.BOOKED if action == "book" else Status.RESCHEDULED
    outcome = told(True, status, message, booking=booking_view(state, booking))
    if old_uid:
        outcome["old_uid"] = old_uid
    return outcome
