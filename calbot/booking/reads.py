"""Reading the calendar: the user's meetings (list_meetings), free times (check_availability), and whether one
start is free (`slot_check`, used by proposals and by Confirm when Cal.com says a slot is gone).

A list answer is kept briefly in the context's recent lists (context.py) for the proposal that usually follows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from calbot.booking.session import SessionState
from calbot.booking.access import is_owner, visible
from calbot.booking.args import CheckAvailabilityArgs, ListMeetingsArgs
from calbot.booking.choice import clear_choice, require_choice
from calbot.booking.context import Context
from calbot.booking.results import Status, booking_view, fail
from calbot.booking.slots import Bounds, StartRefused, free_windows, step_minutes
from calbot.calcom import EventType, Slot
from calbot.explain import EMAIL_UNKNOWN_FOR_PERSON
from calbot.timezones import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    clock_instants,
    format_when,
    format_window,
    local_date,
    local_days_range,
    parse_date,
    parse_start,
    to_utc_iso,
)

MAX_AVAILABILITY_DAYS = 14
ALTERNATIVES_WINDOW_DAYS = 7  # slots fetched around a requested time: that day and the following days
MAX_LISTED = 25
NEAREST_WINDOW_DAYS = 7  # when nothing matches, the nearest bookings are looked for this far around


# -- free time -----------------------------------------------------------------------------------------------------
def _minutes(lengths: list[int]) -> str:
    words = [str(n) for n in lengths]
    return (", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]) + " minutes"


def _kind(event_type: EventType) -> dict[str, Any]:
    return {"event_type_id": event_type.id, "title": event_type.title or event_type.slug,
            "lengths_minutes": event_type.allowed_lengths}


def meeting_length(ctx: Context, requested: int | None, event_type_id: int | None = None
                   ) -> tuple[EventType, int, dict[str, Any] | None]:
    """The kind of meeting (event type) and length for a new meeting. Without a length: the default event type's.
    With one the default does not offer: the account's event type that does (unless CAL_EVENT_TYPE_ID pins one),
    asking which when several do (the model passes the chosen `event_type_id`). The third item is a failure."""
    kinds = ctx.account.bookable_event_types
    default = kinds[0]
    if event_type_id is not None:
        chosen = next((et for et in kinds if et.id == event_type_id), None)
        if chosen is None:
            offered = "; ".join(f"{et.id} ({et.title or et.slug})" for et in kinds)
            return default, 0, fail(Status.INVALID_ARGUMENTS, f"event_type_id {event_type_id} is not a kind of "
                                    f"meeting calbot can book; offered: {offered}.", kinds=[_kind(et) for et in kinds])
        kinds, default = (chosen,), chosen
    if requested is None:
        return default, default.length_in_minutes, None
    if requested in default.allowed_lengths:
        return default, requested, None
    fits = [et for et in kinds if requested in et.allowed_lengths]
    if len(fits) > 1:
        exact = [et for et in fits if et.length_in_minutes == requested]  # the ones made for that length
        fits = exact if len(exact) == 1 else fits
    if len(fits) == 1:
        return fits[0], requested, None
    if fits:
        names = "; ".join(f"{et.title or et.slug} (event_type_id {et.id})" for et in fits)
        return default, 0, fail(Status.CHOOSE_EVENT_TYPE, f"Several kinds of meeting offer {requested} minutes: "
                                f"{names}. Ask the user which one, then call again with its event_type_id.",
                                kinds=[_kind(et) for et in fits])
    lengths = sorted({n for et in kinds for n in et.allowed_lengths})
    return default, 0, fail(Status.INVALID_DURATION, f"{requested} minutes is not offered; the meetings calbot can "
                            f"book are {_minutes(lengths)} long.", allowed_minutes=lengths)


async def _slots(ctx: Context, start: datetime, end: datetime, zone: str, minutes: int,
                 event_type_id: int | None = None, reschedule_uid: str | None = None) -> list[Slot]:
    event_type = ctx.event_type(event_type_id)
    return await ctx.client.slots(
        event_type.id, start, end, time_zone=zone,
        duration=minutes if event_type.has_multiple_lengths else None,
        booking_uid_to_reschedule=reschedule_uid)


def bounds(ctx: Context, zone: str, event_type_id: int | None = None) -> Bounds:
    return Bounds.of(ctx.clock(), zone, ctx.event_type(event_type_id), ctx.account.host_time_zone)


def future_start(ctx: Context, text: str | None, zone: str) -> datetime:
    """The requested start as UTC; StartRefused (-> invalid_time with its reason) when it is past or beyond
    calbot's horizon. The event type's own window is checked with its free slots (slot_check)."""
    start = parse_start(text or "", zone)
    Bounds.of(ctx.clock(), zone).refuse_start(start)
    return start


async def slot_check(ctx: Context, state: SessionState, start: datetime, minutes: int, *,
                     event_type_id: int | None = None, reschedule_uid: str | None = None) -> dict[str, Any] | None:
    """None when `start` is a free slot; else why not (the event type's booking window, or a slot_unavailable
    result with its reason and the nearest free slots calbot accepts: see calbot.booking.slots)."""
    zone = state.user.time_zone
    limits = bounds(ctx, zone, event_type_id)
    try:
        limits.refuse_start(start)
    except StartRefused as exc:
        return fail(Status.INVALID_TIME, str(exc), reason=exc.reason)
    day = local_date(start, zone)
    window = local_days_range(day, day + timedelta(days=ALTERNATIVES_WINDOW_DAYS - 1), zone)
    slots = await _slots(ctx, max(window.start, ctx.clock()), min(window.end, limits.latest), zone, minutes,
                         event_type_id, reschedule_uid)
    if any(slot.start == start for slot in slots):
        return None
    return limits.unavailable(start, minutes, slots)


async def check_availability(ctx: Context, state: SessionState, args: CheckAvailabilityArgs) -> dict[str, Any]:
    zone = state.user.time_zone
    first = parse_date(args.date or "")
    last = parse_date(args.end_date) if args.end_date else first
    now = ctx.clock()
    today = local_date(now, zone)
    if last < today:
        return fail(Status.INVALID_TIME, f"{last.isoformat()} is in the past (today is {today.isoformat()} in "
                                         f"{zone}). Ask about a day from today on.")
    event_type, minutes, problem = meeting_length(ctx, args.duration_minutes, args.event_type_id)
    if problem:
        return problem
    limits = bounds(ctx, zone, event_type.id)
    first, last, note = limits.bookable_days(max(first, today), last)  # StartRefused: too far ahead, and why
    if (last - first).days + 1 > MAX_AVAILABILITY_DAYS:
        return fail(Status.INVALID_ARGUMENTS, f"Ask for at most {MAX_AVAILABILITY_DAYS} days at once.")
    window = local_days_range(first, last, zone)
    slots = [s for s in await _slots(ctx, max(window.start, now), min(window.end, limits.latest), zone, minutes,
                                     event_type.id)
             if window.contains(s.start) and limits.accepts(s.start)]
    by_day: dict[str, list[Slot]] = {}
    for slot in slots:
        by_day.setdefault(local_date(slot.start, zone).isoformat(), []).append(slot)
    days = []
    for day, day_slots in sorted(by_day.items()):
        windows = free_windows(day_slots, minutes)
        days.append({
            "date": day, "weekday": parse_date(day).strftime("%A"),
            "free_local": [format_window(a, b, zone) for a, b in windows],
            "free_utc": [f"{to_utc_iso(a)}/{to_utc_iso(b)}" for a, b in windows],
        })
    return {
        "ok": True, "time_zone": zone, "duration_minutes": minutes,
        **({"event_type_id": event_type.id} if event_type.id != ctx.account.event_type.id else {}),
        "starts_every_minutes": step_minutes(slots, minutes),
        "days": days, "no_free_time": not days,
        "how_to_book": "Meetings may start at the free times shown (on the starts_every_minutes grid) and must end "
                       "by the end of a free window. book_meeting takes start=YYYY-MM-DDTHH:MM, local time.",
        **({"note": note} if note else {}),
    }


# -- the user's meetings -------------------------------------------------------------------------------------------
async def list_meetings(ctx: Context, state: SessionState, args: ListMeetingsArgs) -> dict[str, Any]:
    zone = state.user.time_zone
    now = ctx.clock()
    if args.to_date and not args.from_date:
        args.from_date = local_date(now, zone).isoformat()
    if args.at_time and not args.from_date:
        args.from_date = local_date(now, zone).isoformat()
    dated = args.from_date is not None
    status = args.status or (None if dated else "upcoming")

    if not state.user.email:
        return {"ok": True, "time_zone": zone, "count": 0, "meetings": [],
                "note": "The user's email is unknown, so no meetings can be shown yet. Meetings booked in this "
                        "chat will show here.", "for_person": EMAIL_UNKNOWN_FOR_PERSON}

    after = before = None
    window = None
    target, targets = None, []
    if dated:
        first = parse_date(args.from_date or "")
        last = parse_date(args.to_date) if args.to_date else first
        window = local_days_range(first, last, zone)
        after = max(window.start - timedelta(days=NEAREST_WINDOW_DAYS), EARLIEST_INSTANT)
        before = min(window.end + timedelta(days=NEAREST_WINDOW_DAYS), LATEST_INSTANT)
        if args.at_time:  # two instants when the clock reads it twice that night (or the one its offset names)
            targets = clock_instants(first, args.at_time, zone)
            target = targets[0]
    owner = is_owner(ctx, state)
    scope = None if owner else state.user.email
    bookings = await ctx.client.list_bookings(
        status=status, attendee_email=scope,
        after_start=after, before_end=before, sort_start="desc" if status == "past" else "asc")
    ctx.recent.add(scope, status, after, before, bookings)
    bookings = [b for b in bookings if visible(ctx, state, b)]
    if status != "cancelled":
        bookings = [b for b in bookings if b.status not in ("cancelled", "rejected")]

    if window is None:
        matches, nearby = bookings, []
    else:
        in_range = [b for b in bookings if window.contains(b.start)]
        if target is not None:  # any meeting running then, also one that began the evening before
            matches = [b for b in bookings if any(b.start <= t < b.end for t in targets)]
            reference = target
        else:
            matches = in_range
            reference = window.start
        nearby = [] if matches else sorted(bookings, key=lambda b: abs((b.start - reference).total_seconds()))[:3]

    shown = matches[:MAX_LISTED]
    state.remember_seen(*(b.uid for b in shown + nearby))
    result: dict[str, Any] = {
        "ok": True, "time_zone": zone, "count": len(matches),
        "meetings": [booking_view(state, b) for b in shown],
    }
    if len(matches) > len(shown):
        result["not_shown"] = len(matches) - len(shown)
    if dated:
        result["looked_for"] = (" or ".join(format_when(t, zone) for t in targets) if targets else
                                f"{args.from_date}" + (f" to {args.to_date}" if args.to_date else ""))
    if not matches:
        result["nearest"] = [booking_view(state, b) for b in nearby]
        result["note"] = ("No meeting matches. Do not pick one of the nearest meetings unless the user "
                          "confirms it is the one they mean.")
    if target is not None and len(matches) > 1:
        result["ambiguous"] = True
        result["ask_user"] = (f"{len(matches)} meetings match {format_when(target, zone)}. Ask the user which "
                              "one they mean; do not pick one yourself.")
    unclear = (shown if target is not None and len(matches) > 1 else []) + nearby
    if unclear:
        require_choice(state, [b.uid for b in unclear])
    else:
        clear_choice(state)
    if not state.user.email_verified:
        result["scope"] = "only meetings booked in this chat (the user's email is not verified)"
    elif owner:
        result["scope"] = "all bookings on the calendar (the user owns it)"
    return result
