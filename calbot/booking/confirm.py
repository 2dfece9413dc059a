"""The user's Confirm: the stored proposal is carried out exactly as stored, at most once.

A second click gets the first outcome; a click while it runs gets "in progress". Ownership is checked again on the
booking as it is now. A create or reschedule whose answer was lost (timeout, dropped connection, 5xx) is looked for
before it is repeated (API-NOTES §12: Cal.com has no idempotency key), so a retry never books twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from calbot.booking.session import Proposal, SessionState
from calbot.booking.access import is_owner, owned_booking
from calbot.booking.context import Context
from calbot.booking.reads import slot_check
from calbot.booking.results import Status, done, told
from calbot.calcom import (
    Booking,
    CalcomConnectionLostError,
    CalcomError,
    CalcomTimeoutError,
    ServerError,
    SlotUnavailableError,
)
from calbot.calcom.models import CreateBookingRequest, NewAttendee, RescheduleRequest, as_bookings
from calbot.explain import CONFIRM_REFUSED, CONFIRM_REFUSED_OTHER, SOMETHING_WENT_WRONG, explain

log = logging.getLogger(__name__)

_UNKNOWN_OUTCOME = (CalcomTimeoutError, CalcomConnectionLostError, ServerError)


async def confirm(ctx: Context, state: SessionState, proposal_id: str) -> dict[str, Any]:
    """Execute the stored proposal exactly as stored, at most once (a second click gets the first outcome)."""
    if proposal_id in state.finished_proposals:
        return {**state.finished_proposals[proposal_id], "repeated": True}
    proposal = state.proposal
    if proposal is None or proposal.id != proposal_id:
        return told(False, Status.NO_PROPOSAL,
                    "That proposal is no longer open (it was replaced or discarded); nothing was changed.")
    if proposal.status == "executing":
        return told(False, Status.IN_PROGRESS, "That change is already being made.")
    proposal.status = "executing"  # set before the first await: a concurrent second click stops above
    ctx.recent.clear()
    outcome: dict[str, Any] | None = None
    try:
        try:
            outcome = await _execute(ctx, state, proposal)
        except SlotUnavailableError as exc:
            outcome = await _gone_at_confirm(ctx, state, proposal, exc)
        except CalcomError as exc:
            outcome = told(False, Status.FAILED, explain(exc, write=proposal.action))
        except Exception:  # the proposal must not stay stuck in "executing"
            log.exception("confirm failed")
            outcome = told(False, Status.FAILED, SOMETHING_WENT_WRONG)
    finally:
        if outcome is None:  # cancelled (Stop, a closed page) while Cal.com was asked: it may have happened
            noun = {"book": "booking", "cancel": "cancellation", "reschedule": "move"}[proposal.action]
            outcome = told(False, Status.FAILED, f"Stopped before Cal.com answered, so I cannot tell whether the "
                                                 f"{noun} went through. List your meetings to check before trying "
                                                 "again.")
        ctx.recent.clear()
        if state.proposal is proposal:  # a proposal made while this one ran stays open
            state.proposal = None
            state.clear_pending()
        state.record_outcome(proposal_id, outcome)
    return outcome


async def _gone_at_confirm(ctx: Context, state: SessionState, proposal: Proposal,
                           exc: SlotUnavailableError) -> dict[str, Any]:
    outcome = told(False, Status.SLOT_UNAVAILABLE, f"{explain(exc)} Nothing was changed.")
    try:
        check = await slot_check(ctx, state, proposal.start, proposal.duration_minutes,
                                 event_type_id=proposal.event_type_id,
                                 reschedule_uid=proposal.booking_uid if proposal.action == "reschedule" else None)
    except CalcomError:
        check = None
    if check and check.get("alternatives"):
        outcome["alternatives"] = check["alternatives"]
    return outcome


async def _execute(ctx: Context, state: SessionState, proposal: Proposal) -> dict[str, Any]:
    zone = state.user.time_zone
    if proposal.action == "book":
        if proposal.start <= ctx.clock():
            return told(False, Status.FAILED, "That time has passed while waiting for Confirm; nothing was booked.")
        request = CreateBookingRequest(
            start=proposal.start, event_type_id=proposal.event_type_id,
            attendee=NewAttendee(name=proposal.attendee_name or "", email=proposal.attendee_email or "",
                                 time_zone=proposal.time_zone),
            guests=proposal.guests or None, length_in_minutes=proposal.length_in_minutes,
            booking_fields_responses={"notes": proposal.reason} if proposal.reason else None,
            metadata={"source": "calbot", "calbot_proposal": proposal.id},
        )
        try:
            booking = as_bookings(await ctx.client.create_booking(request))[0]
        except _UNKNOWN_OUTCOME as exc:
            # The booking may exist (API-NOTES §12: no idempotency key): look for our marker before repeating.
            booking = await _recover_create(ctx, proposal, request, exc)
        state.remember_made(booking.uid)
        return done(state, "book", booking, zone)

    # cancel / reschedule: ownership again, on the booking as it is now
    booking = await owned_booking(ctx, state, proposal.booking_uid or "")
    if isinstance(booking, dict):
        return told(False, booking["status"],  # for the person: booking["error"] is for the model
                    CONFIRM_REFUSED.get(booking["status"], CONFIRM_REFUSED_OTHER))
    if proposal.action == "cancel":
        result = as_bookings(await ctx.client.cancel_booking(booking.uid, proposal.reason,
                                                             seat_uid=proposal.seat_uid))
        cancelled = next((b for b in result if b.uid == booking.uid), result[0])
        return done(state, "cancel", cancelled, zone)

    rescheduled_by = ctx.account.owner_email if is_owner(ctx, state) else state.user.email
    request = RescheduleRequest(start=proposal.start, rescheduled_by=rescheduled_by, seat_uid=proposal.seat_uid,
                                rescheduling_reason=None if proposal.seat_uid else proposal.reason)
    try:
        new = as_bookings(await ctx.client.reschedule_booking(booking.uid, request))[0]
    except _UNKNOWN_OUTCOME as exc:
        new = await _recover_reschedule(ctx, booking.uid, request, exc)
    if booking.uid in state.made_booking_uids:
        state.remember_made(new.uid)
    else:
        state.remember_seen(new.uid)
    return done(state, "reschedule", new, zone, old_uid=booking.uid)


async def _recover_create(ctx: Context, proposal: Proposal, request: CreateBookingRequest,
                          failure: CalcomError) -> Booking:
    """After a create whose outcome is unknown: the booking carrying this proposal's marker if it was made,
    else one more create. If the look-up itself fails, the original failure stands (it may have happened)."""
    try:
        bookings = await ctx.client.list_bookings(
            attendee_email=proposal.attendee_email or None, after_start=proposal.start - timedelta(minutes=1),
            before_end=proposal.end + timedelta(minutes=1))
    except CalcomError:
        raise failure from None
    made = [b for b in bookings if b.metadata.get("calbot_proposal") == proposal.id
            and b.status not in ("cancelled", "rejected")]
    if made:
        log.info("create answered %s but the booking exists; not repeating it", type(failure).__name__)
        return made[0]
    log.info("create answered %s and no booking exists; trying once more", type(failure).__name__)
    return as_bookings(await ctx.client.create_booking(request))[0]


async def _recover_reschedule(ctx: Context, old_uid: str, request: RescheduleRequest,
                              failure: CalcomError) -> Booking:
    """After a reschedule whose outcome is unknown: follow the old booking's rescheduledToUid if it moved,
    else one more reschedule. If the look-up itself fails, the original failure stands."""
    try:
        old = next(iter(b for b in as_bookings(await ctx.client.get_booking(old_uid)) if b.uid == old_uid), None)
        if old is not None and old.rescheduled_to_uid:
            moved = as_bookings(await ctx.client.get_booking(old.rescheduled_to_uid))
            log.info("reschedule answered %s but it happened; not repeating it", type(failure).__name__)
            return moved[0]
    except CalcomError:
        raise failure from None
    if old is not None and old.status == "cancelled":
        raise failure  # cancelled without a new booking: do not guess
    log.info("reschedule answered %s and nothing moved; trying once more", type(failure).__name__)
    return as_bookings(await ctx.client.reschedule_booking(old_uid, request))[0]
