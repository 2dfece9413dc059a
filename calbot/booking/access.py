"""Who the user is, in which zone, and which bookings they may see and change.

- Identity comes from the session, never from the model: `attendee_*` arguments may only fill an unknown identity
  with words the user typed, and an address typed in the chat stays unverified.
- Ownership is checked when proposing and again at Confirm. An unverified user may only act on bookings made in
  this chat; the account owner (verified email == GET /v2/me email) may act on any of the account's bookings.
- A uid the model passes must have been seen in a tool result of this chat.
"""

from __future__ import annotations

import logging
from typing import Any

from calbot.booking.session import SessionState, User
from calbot.booking.args import BookMeetingArgs, SetTimeZoneArgs, ToolArgs
from calbot.booking.choice import needs_choice
from calbot.booking.context import Context
from calbot.booking.pending import describe, keep_pending_instants
from calbot.booking.results import Status, fail
from calbot.calcom import Booking, NotFoundError
from calbot.calcom.models import as_bookings
from calbot.timezones import UnknownTimeZoneError, format_when, get_zone, resolve_zone
from calbot.validation import same_email

log = logging.getLogger(__name__)


# -- the user and their zone ---------------------------------------------------------------------------------------
def new_session(*, email: str | None = None, name: str | None = None, time_zone: str | None = None,
                host_time_zone: str | None = None, email_verified: bool | None = None) -> SessionState:
    """A fresh chat, the one way every door makes one. `email` from configuration or a login is verified; the zone:
    `time_zone` (CALBOT_TIMEZONE), else the calendar host's, else UTC (User.offer_zone keeps the precedence)."""
    verified = bool(email) if email_verified is None else email_verified
    state = SessionState(user=User(email=email, name=name, email_verified=verified))
    for candidate, source in ((host_time_zone, "default"), (time_zone, "setting")):
        if candidate:
            try:
                state.user.offer_zone(get_zone(candidate).key, source)  # type: ignore[arg-type]
            except UnknownTimeZoneError:
                continue
    return state


def apply_browser_zone(state: SessionState, name: str) -> bool:
    """Use the zone the browser reports, unless the user chose one in the chat. True when the zone changed."""
    try:
        zone = get_zone(str(name)).key
    except UnknownTimeZoneError:
        log.info("ignored an unknown browser time zone")
        return False
    previous = state.user.time_zone
    if not state.user.offer_zone(zone, "browser"):
        return False
    keep_pending_instants(state, previous, zone)
    return zone != previous


async def set_time_zone(ctx: Context, state: SessionState, args: SetTimeZoneArgs) -> dict[str, Any]:
    """The set_time_zone tool: the zone the user names in the chat wins over the browser's and the setting."""
    zone = resolve_zone(args.time_zone or "").key  # UnknownTimeZoneError -> invalid_time with a sentence
    previous = state.user.time_zone
    state.user.offer_zone(zone, "chat")  # (a zone the user names always wins)
    result: dict[str, Any] = {"ok": True, "time_zone": zone, "previous_time_zone": previous,
                              "now_local": format_when(ctx.clock(), zone),
                              "note": f"From now on times are read and shown in {zone}."}
    kept = keep_pending_instants(state, previous, zone)
    if kept:  # the page shows `pending_times` itself; the model is told to pass the new wall times
        result["pending_times"] = kept
        result["pending_note"] = (describe(kept) + " The pending call already has the converted time: do not "
                                  "pass the old wall time again.")
    if state.proposal is not None:
        result["open_proposal"] = ("The open proposal was written in the old zone; it still stands at the same "
                                   "instant.")
    return result


# -- identity ------------------------------------------------------------------------------------------------------
def is_owner(ctx: Context, state: SessionState) -> bool:
    return state.user.email_verified and same_email(state.user.email, ctx.account.owner_email)


def fill_identity(state: SessionState, args: ToolArgs) -> dict[str, Any] | None:
    """A booking's attendee_* arguments may fill an unknown identity with the user's own typed words; else a refusal."""
    if not isinstance(args, BookMeetingArgs):
        return None
    user = state.user
    if args.attendee_email:
        if user.email:
            if not same_email(user.email, args.attendee_email):
                return fail(Status.NOT_ALLOWED, f"Meetings are booked for the user ({user.email}); calbot cannot "
                                                "book in someone else's name. To invite "
                                                f"{args.attendee_email}, pass it in guests.")
        elif not state.user_typed(args.attendee_email):
            return fail(Status.NOT_ALLOWED, "attendee_email must be the user's own address, exactly as the user "
                                            "typed it in this chat. Ask the user for their email.")
        else:
            user.email, user.email_verified = args.attendee_email, False  # typed: stored once, unverified
    if args.attendee_name and not user.name:
        if not state.user_typed(args.attendee_name):
            return fail(Status.NOT_ALLOWED, "attendee_name must be the user's own name as the user typed it in "
                                            "this chat. Ask the user for their name.")
        user.name = args.attendee_name.strip()
    return None


def identity_missing(state: SessionState, args: ToolArgs) -> list[str]:
    if not isinstance(args, BookMeetingArgs):
        return []
    return [f for f, v in (("attendee_email", state.user.email), ("attendee_name", state.user.name)) if not v]


# -- ownership -----------------------------------------------------------------------------------------------------
def may_act_on(ctx: Context, state: SessionState, booking: Booking) -> str | None:
    """None when the user may change `booking`, else a sentence for the model."""
    user = state.user
    if is_owner(ctx, state):
        hosts = booking.host_emails()
        if not hosts or ctx.account.owner_email.lower() in hosts:
            return None
        return "That booking is not on this Cal.com account's calendar."
    if not user.email:
        return ("I do not know who the user is yet, so I cannot change existing meetings. Only meetings "
                "booked in this chat can be changed.")
    if not user.email_verified and booking.uid not in state.made_booking_uids:
        return ("The user's email was typed in this chat and is not verified, so only meetings booked in this "
                "chat can be changed.")
    attendees = {a.email.lower() for a in booking.attendees if a.email}
    if user.email.lower() in attendees or user.email.lower() in booking.host_emails():
        return None
    return "That meeting is not one of the user's meetings, so it cannot be changed."


def visible(ctx: Context, state: SessionState, booking: Booking) -> bool:
    return may_act_on(ctx, state, booking) is None


async def owned_booking(ctx: Context, state: SessionState, uid: str, *,
                        fresh: bool = True) -> Booking | dict[str, Any]:
    """The booking behind `uid` if this user may change it, else a result explaining why not.

    With fresh=False (a proposal) a booking from a list answer of the last minute is used as it was; Confirm
    always fetches it again, so ownership and status are checked on the booking as it is then."""
    if uid not in state.seen_booking_uids:
        return fail(Status.UNKNOWN_BOOKING, f"No meeting with uid {uid!r} has been shown in this chat. Call "
                                            "list_meetings to find the meeting, then use its uid.")
    if not fresh and needs_choice(state, uid):
        return fail(Status.ASK_WHICH, "The user's words match more than one meeting (or none exactly). Ask the user "
                                      "which meeting they mean and wait for the answer; do not pick one yourself.")
    booking = None if fresh else ctx.recent.booking(uid)
    if booking is None:
        try:
            data = await ctx.client.get_booking(uid)
        except NotFoundError:
            return fail(Status.UNKNOWN_BOOKING, "That meeting no longer exists in the calendar. List the meetings "
                                                "again.")
        bookings = as_bookings(data)
        booking = next((b for b in bookings if b.uid == uid), bookings[0] if bookings else None)
    if booking is None:
        return fail(Status.UNKNOWN_BOOKING, "That meeting no longer exists in the calendar.")
    refusal = may_act_on(ctx, state, booking)
    if refusal:
        return fail(Status.NOT_ALLOWED, refusal)
    if booking.status == "cancelled":
        moved = f" It was moved; its new uid is {booking.rescheduled_to_uid}." if booking.rescheduled_to_uid \
            else ""
        if booking.rescheduled_to_uid:
            state.remember_seen(booking.rescheduled_to_uid)
        return fail(Status.ALREADY_CANCELLED, f"That meeting is already cancelled.{moved}")
    if booking.status == "rejected":
        return fail(Status.ALREADY_CANCELLED, "The host declined that meeting; there is nothing to change.")
    if booking.end <= ctx.clock():
        return fail(Status.IN_THE_PAST, "That meeting is already over, so it cannot be changed.")
    return booking


def own_seat(ctx: Context, state: SessionState, booking: Booking) -> str | None:
    """The user's own seat in a seated booking (Cal.com changes seats one at a time)."""
    if not booking.is_seated or is_owner(ctx, state):
        return None
    email = (state.user.email or "").lower()
    return next((a.seat_uid for a in booking.attendees if a.email.lower() == email and a.seat_uid), None)
