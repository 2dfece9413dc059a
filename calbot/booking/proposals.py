"""Writes are proposals: book_meeting, cancel_meeting and reschedule_meeting only check and describe.

A proposal holds the exact change (times in UTC and the user's zone) and becomes the chat's one open proposal; only
the user's Confirm carries it out (confirm.py). Typing a new message withdraws it, Discard drops it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from calbot.booking.session import Proposal, SessionState
from calbot.booking.access import is_owner, own_seat, owned_booking, visible
from calbot.booking.args import BookMeetingArgs, CancelMeetingArgs, RescheduleMeetingArgs
from calbot.booking.context import Context
from calbot.booking.reads import future_start, meeting_length, slot_check
from calbot.booking.results import Status, fail, proposal_opened, told
from calbot.timezones import format_span, format_when
from calbot.validation import same_email

OVERLAP_MARGIN = timedelta(days=1)  # bookings looked at around a new time for overlap warnings


def _open(state: SessionState, proposal: Proposal) -> dict[str, Any]:
    state.proposal = proposal  # one open proposal at a time: a new one replaces the old
    return proposal_opened(proposal)


async def _overlap_warnings(ctx: Context, state: SessionState, start: datetime, end: datetime,
                            ignore_uid: str | None = None) -> list[str]:
    """Meetings the user already has that overlap [start, end)."""
    if not state.user.email:
        return []
    scope = None if is_owner(ctx, state) else state.user.email
    after, before = start - OVERLAP_MARGIN, end + OVERLAP_MARGIN
    recent = ctx.recent.covering(scope, after, before)
    bookings = list(recent.bookings) if recent is not None else await ctx.client.list_bookings(
        attendee_email=scope, after_start=after, before_end=before)
    zone = state.user.time_zone
    warnings = []
    for booking in bookings:
        if (booking.uid == ignore_uid or booking.status in ("cancelled", "rejected")
                or not visible(ctx, state, booking)):
            continue
        if booking.start < end and booking.end > start:
            state.remember_seen(booking.uid)
            warnings.append(f"The user already has a meeting at {format_span(booking.start, booking.end, zone)}, "
                            "which overlaps.")
    return warnings


async def propose_booking(ctx: Context, state: SessionState, args: BookMeetingArgs) -> dict[str, Any]:
    zone = state.user.time_zone
    start = future_start(ctx, args.start, zone)
    event_type, minutes, problem = meeting_length(ctx, args.duration_minutes, args.event_type_id)
    if problem:
        return problem
    unavailable = await slot_check(ctx, state, start, minutes, event_type_id=event_type.id)
    if unavailable:
        return unavailable
    end = start + timedelta(minutes=minutes)
    warnings = await _overlap_warnings(ctx, state, start, end)
    guests = [g for g in (args.guests or []) if not same_email(g, state.user.email)]
    summary = (f"Book a {minutes}-minute {event_type.title or 'meeting'} on {format_span(start, end, zone)} "
               f"for {state.user.name} <{state.user.email}>, about: {args.reason}")
    if guests:
        summary += f"; guests: {', '.join(guests)}"
    proposal = Proposal(
        id=uuid.uuid4().hex[:12], action="book", created_at=ctx.clock(), time_zone=zone, summary=summary,
        event_type_id=event_type.id, start=start, end=end, duration_minutes=minutes, reason=args.reason,
        attendee_name=state.user.name, attendee_email=state.user.email, guests=guests,
        length_in_minutes=minutes if event_type.has_multiple_lengths else None, warnings=warnings,
    )
    return _open(state, proposal)


async def propose_cancel(ctx: Context, state: SessionState, args: CancelMeetingArgs) -> dict[str, Any]:
    zone = state.user.time_zone
    booking = await owned_booking(ctx, state, args.booking_uid or "", fresh=False)
    if isinstance(booking, dict):
        return booking
    seat = own_seat(ctx, state, booking)
    summary = f"Cancel the meeting {booking.uid} on {format_span(booking.start, booking.end, zone)}"
    if args.reason:
        summary += f" (reason: {args.reason})"
    if booking.is_recurring:
        summary += "; only this occurrence is cancelled"
    if seat:
        summary += "; only your seat is cancelled, the others keep theirs"
    elif booking.is_seated:
        summary += f"; this cancels it for all {len(booking.attendees)} attendees"
    minutes = int((booking.end - booking.start).total_seconds() // 60)
    proposal = Proposal(
        id=uuid.uuid4().hex[:12], action="cancel", created_at=ctx.clock(), time_zone=zone, summary=summary,
        event_type_id=ctx.event_type_id(booking),
        start=booking.start, end=booking.end, duration_minutes=minutes, reason=args.reason,
        booking_uid=booking.uid, title=booking.title, seat_uid=seat,
    )
    return _open(state, proposal)


async def propose_reschedule(ctx: Context, state: SessionState, args: RescheduleMeetingArgs) -> dict[str, Any]:
    zone = state.user.time_zone
    new_start = future_start(ctx, args.new_start, zone)
    booking = await owned_booking(ctx, state, args.booking_uid or "", fresh=False)
    if isinstance(booking, dict):
        return booking
    seat = own_seat(ctx, state, booking)
    if booking.is_seated and not seat:
        return fail(Status.NOT_SUPPORTED, "This is a seated event with several attendees; move it on the Cal.com "
                                          "page, where each attendee's seat can be handled.")
    if new_start == booking.start:
        return fail(Status.INVALID_TIME, f"That meeting is already at {format_when(new_start, zone)}.")
    event_type_id = ctx.event_type_id(booking)
    # Cal.com gives the new booking the event type's default length, whatever the old one lasted.
    minutes = ctx.event_type(event_type_id).length_in_minutes
    unavailable = await slot_check(ctx, state, new_start, minutes, event_type_id=event_type_id,
                                   reschedule_uid=booking.uid)
    if unavailable:
        return unavailable
    new_end = new_start + timedelta(minutes=minutes)
    warnings = await _overlap_warnings(ctx, state, new_start, new_end, ignore_uid=booking.uid)
    old_minutes = int((booking.end - booking.start).total_seconds() // 60)
    if old_minutes != minutes:
        warnings.append(f"The meeting now lasts {old_minutes} minutes; after the move it will last "
                        f"{minutes} minutes (the event type's standard length).")
    summary = (f"Move the meeting {booking.uid} from {format_span(booking.start, booking.end, zone)} to "
               f"{format_span(new_start, new_end, zone)}")
    if args.reason:
        summary += f" (reason: {args.reason})"
    proposal = Proposal(
        id=uuid.uuid4().hex[:12], action="reschedule", created_at=ctx.clock(), time_zone=zone,
        summary=summary, event_type_id=event_type_id, start=new_start, end=new_end, duration_minutes=minutes,
        reason=args.reason, booking_uid=booking.uid, title=booking.title, old_start=booking.start,
        old_end=booking.end, warnings=warnings, seat_uid=seat,
    )
    return _open(state, proposal)


def withdraw(state: SessionState) -> Proposal | None:
    """The user typed instead of pressing a button: the open proposal is dropped (nothing written) but the
    pending arguments stay, so "make it 4pm instead" only needs the changed detail. Returns what was dropped."""
    proposal = state.proposal
    if proposal is None or proposal.status == "executing":
        return None
    state.proposal = None
    state.record_outcome(proposal.id, told(False, Status.WITHDRAWN, "That proposal was withdrawn when you typed a "
                                                                    "new message; nothing was changed."))
    return proposal


def discard(state: SessionState, proposal_id: str) -> dict[str, Any]:
    proposal = state.proposal
    if proposal is None or proposal.id != proposal_id:
        return told(False, Status.NO_PROPOSAL, "That proposal is no longer open; nothing was changed.")
    if proposal.status == "executing":
        return told(False, Status.IN_PROGRESS, "That change is already being made.")
    state.proposal = None
    state.clear_pending()
    outcome = told(True, Status.DISCARDED, "Discarded: nothing was changed.")
    state.record_outcome(proposal_id, outcome)
    return outcome
