"""The executor: runs the model's tool calls against Cal.com and enforces calbot's rules in code.

- Identity comes from the session, never from the model: `attendee_*` arguments may only fill an unknown identity
  with words the user typed, and an address typed in the chat stays unverified.
- Ownership is checked when proposing and again at Confirm. An unverified user may only act on bookings made in
  this chat; the account owner (verified email == GET /v2/me email) may act on any of the account's bookings.
- A uid the model passes must have been seen in a tool result of this chat.
- Writes are proposals: book/cancel/reschedule only check and describe; `confirm()` executes the stored proposal
  exactly once; `discard()` drops it.
- Missing details make the call the session's pending function; later calls merge into it.

Every tool result is a compact dict for the model, with times in UTC and in the user's zone.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from calbot.agent.account import Account
from calbot.agent.choice import clear_choice, needs_choice, require_choice
from calbot.agent.pending import describe, keep_pending_instants
from calbot.agent.session import Proposal, SessionState, User
from calbot.agent.slots import Bounds, StartRefused, free_windows, step_minutes
from calbot.agent.tools import (
    TOOL_ARGS,
    BookMeetingArgs,
    CancelMeetingArgs,
    CheckAvailabilityArgs,
    ListMeetingsArgs,
    RescheduleMeetingArgs,
    SetTimeZoneArgs,
    ToolArgs,
)
from calbot.calcom import (
    Booking,
    CalcomClient,
    CalcomConnectionLostError,
    CalcomError,
    CalcomTimeoutError,
    NotFoundError,
    ServerError,
    Slot,
    SlotUnavailableError,
)
from calbot.calcom.models import CreateBookingRequest, NewAttendee, RescheduleRequest, as_bookings
from calbot.explain import (CONFIRM_REFUSED, CONFIRM_REFUSED_OTHER, EMAIL_UNKNOWN_FOR_PERSON, SOMETHING_WENT_WRONG,
                            explain)
from calbot.timezones import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    TimeInputError,
    UnknownTimeZoneError,
    clock_instants,
    format_span,
    format_when,
    format_window,
    get_zone,
    local_date,
    local_days_range,
    local_wall,
    parse_date,
    parse_start,
    resolve_zone,
    to_utc_iso,
)
from calbot.validation import same_email

log = logging.getLogger(__name__)

MAX_AVAILABILITY_DAYS = 14
ALTERNATIVES_WINDOW_DAYS = 7  # slots fetched around a requested time: that day and the following days
MAX_LISTED = 25
NEAREST_WINDOW_DAYS = 7  # when nothing matches, the nearest bookings are looked for this far around
RECENT_LIST_SECONDS = 60.0  # a list_meetings answer is reused this long for proposals (never at Confirm)
RECENT_LISTS_KEPT = 64
OVERLAP_MARGIN = timedelta(days=1)  # bookings looked at around a new time for overlap warnings
MAX_NAMES_SHOWN = 10  # people named per meeting in a tool result
# The key under which a booking's text written by other people travels in tool results (see _view, prompt.RULES).
UNTRUSTED = "untrusted"

_FIELD_WORDS = {
    "start": "the day and time of the meeting",
    "new_start": "the new day and time",
    "reason": "what the meeting is about",
    "date": "which day to look at",
    "booking_uid": "which meeting (list the user's meetings to find its uid)",
    "attendee_email": "the user's email address",
    "attendee_name": "the user's name",
}

_STATUS_WORDS = {"accepted": "booked", "pending": "awaiting the host's confirmation", "cancelled": "cancelled",
                 "rejected": "declined by the host"}

_FORMAT_HINTS = {
    "start": "use YYYY-MM-DDTHH:MM in the user's time zone, e.g. 2026-11-24T15:00",
    "new_start": "use YYYY-MM-DDTHH:MM in the user's time zone, e.g. 2026-11-24T15:00",
    "date": "use YYYY-MM-DD", "end_date": "use YYYY-MM-DD", "from_date": "use YYYY-MM-DD", "to_date": "use YYYY-MM-DD",
    "at_time": "use HH:MM (24-hour)", "booking_uid": "use the uid exactly as a tool result gave it",
}


@dataclass(frozen=True)
class _RecentList:
    """One GET /v2/bookings answer from list_meetings, kept briefly so the proposal that usually follows ("cancel
    my 3pm") needs no second look-up. Confirm always fetches the booking again."""
    attendee_email: str | None  # None: the owner's whole calendar
    status: str | None
    after: datetime | None
    before: datetime | None
    bookings: tuple[Booking, ...]
    at: float  # time.monotonic()

    def covers(self, attendee_email: str | None, after: datetime, before: datetime) -> bool:
        """Holds every booking of this scope lying within [after, before] (cancelled ones included)."""
        return (self.attendee_email == attendee_email and self.status is None and self.after is not None
                and self.before is not None and self.after <= after and before <= self.before)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _fail(status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "status": status, "error": message, **extra}


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ())) or "arguments"
        message = str(error.get("msg", "invalid"))
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        elif error.get("type") == "extra_forbidden":
            message = "is not an argument of this tool"
        elif error.get("type") == "string_pattern_mismatch":
            message = f"has the wrong format ({_FORMAT_HINTS.get(field.split('.')[0], 'see the tool schema')})"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


class Executor:
    """Runs tool calls for one Cal.com account. Holds no per-chat state: every call gets the chat's SessionState."""

    def __init__(self, client: CalcomClient, account: Account, *, clock: Callable[[], datetime] = _utcnow):
        self.client = client
        self.account = account
        self.clock = clock
        self._recent: deque[_RecentList] = deque(maxlen=RECENT_LISTS_KEPT)

    # -- recent list answers (fewer Cal.com calls per task) --------------------------------------------------------
    def _recent_lists(self) -> list[_RecentList]:
        fresh_after = time.monotonic() - RECENT_LIST_SECONDS
        while self._recent and self._recent[0].at < fresh_after:
            self._recent.popleft()
        return list(self._recent)

    def _recent_booking(self, uid: str) -> Booking | None:
        for entry in reversed(self._recent_lists()):
            for booking in entry.bookings:
                if booking.uid == uid:
                    return booking
        return None

    def _forget_recent(self) -> None:
        """Any write through this executor makes earlier answers stale."""
        self._recent.clear()

    # -- sessions --------------------------------------------------------------------------------------------------
    def new_session(self, *, email: str | None = None, name: str | None = None, time_zone: str | None = None,
                    email_verified: bool | None = None) -> SessionState:
        """A fresh chat. `email` from configuration or a login is verified; the zone falls back to the host's."""
        zone, source = "UTC", "default"
        for candidate, origin in ((time_zone, "setting"), (self.account.host_time_zone, "default")):
            if candidate:
                try:
                    zone, source = get_zone(candidate).key, origin
                    break
                except UnknownTimeZoneError:
                    continue
        verified = bool(email) if email_verified is None else email_verified
        return SessionState(user=User(email=email, name=name, time_zone=zone, time_zone_source=source,
                                      email_verified=verified))

    @staticmethod
    def apply_browser_zone(state: SessionState, name: str) -> bool:
        """Use the zone the browser reports, unless the user chose one in the chat. True when the zone changed."""
        if state.user.time_zone_source == "chat":
            return False
        try:
            zone = get_zone(str(name)).key
        except UnknownTimeZoneError:
            log.info("ignored an unknown browser time zone")
            return False
        previous = state.user.time_zone
        state.user.time_zone, state.user.time_zone_source = zone, "browser"
        keep_pending_instants(state, previous, zone)
        return zone != previous

    def is_owner(self, state: SessionState) -> bool:
        return state.user.email_verified and same_email(state.user.email, self.account.owner_email)

    # -- tool calls ------------------------------------------------------------------------------------------------
    async def call(self, state: SessionState, name: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        """Run one tool call and return its result for the model. Never raises for bad input or Cal.com errors."""
        model = TOOL_ARGS.get(name)
        if model is None:
            return _fail("invalid_arguments", f"There is no tool called {name!r}. Use one of: "
                                              f"{', '.join(TOOL_ARGS)}.")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return _fail("invalid_arguments", f"The arguments of {name} are not valid JSON ({exc.msg}).")
        if not isinstance(arguments, dict):
            return _fail("invalid_arguments", f"The arguments of {name} must be a JSON object.")

        given = {k: v for k, v in arguments.items() if v not in (None, "", [])}
        merged = {**state.pending_arguments, **given} if state.pending_function == name else given
        try:
            args = model.model_validate(merged)
        except ValidationError as exc:
            return _fail("invalid_arguments", f"{name}: {_describe_validation(exc)}. Fix these and call again.")
        clean = args.model_dump(exclude_none=True)

        try:
            if isinstance(args, BookMeetingArgs):
                identity_problem = self._fill_identity(state, args)
                if identity_problem:
                    return identity_problem
            missing = model.missing(clean) + self._identity_missing(state, args)
            if missing:
                state.pending_function, state.pending_arguments = name, clean
                wanted = [_FIELD_WORDS.get(m, m) for m in missing]
                return {"ok": False, "status": "needs_details", "tool": name, "missing": missing,
                        "have": clean, "ask_user_for": wanted}
            handler = {
                CheckAvailabilityArgs: self._check_availability,
                ListMeetingsArgs: self._list_meetings,
                BookMeetingArgs: self._propose_booking,
                CancelMeetingArgs: self._propose_cancel,
                RescheduleMeetingArgs: self._propose_reschedule,
                SetTimeZoneArgs: self._set_time_zone,
            }[type(args)]
            result = await handler(state, args)
        except TimeInputError as exc:  # a StartRefused also says why: past, too far ahead...
            why = {"reason": exc.reason} if isinstance(exc, StartRefused) else {}
            result = _fail("invalid_time", str(exc), **why)
        except OverflowError:  # the backstop: inputs are range-checked (tools.py, timezones.py) so this never happens
            log.warning("tool %s: date arithmetic overflowed", name)
            result = _fail("invalid_time", "That date is too far from today for calbot; ask for a date within a year.")
        except CalcomError as exc:
            log.info("tool %s failed: %s", name, type(exc).__name__)
            result = _fail("calendar_error", explain(exc))

        if model.WRITES:
            # Keep what we have so a corrected call only needs the changed field; a proposal waits on Confirm.
            state.pending_function, state.pending_arguments = name, clean
        else:
            state.clear_pending(name)
        return result

    # -- identity --------------------------------------------------------------------------------------------------
    def _fill_identity(self, state: SessionState, args: BookMeetingArgs) -> dict[str, Any] | None:
        user = state.user
        if args.attendee_email:
            if user.email:
                if not same_email(user.email, args.attendee_email):
                    return _fail("not_allowed", f"Meetings are booked for the user ({user.email}); calbot cannot "
                                                "book in someone else's name. To invite "
                                                f"{args.attendee_email}, pass it in guests.")
            elif not state.user_typed(args.attendee_email):
                return _fail("not_allowed", "attendee_email must be the user's own address, exactly as the user "
                                            "typed it in this chat. Ask the user for their email.")
            else:
                user.email, user.email_verified = args.attendee_email, False  # typed: stored once, unverified
        if args.attendee_name and not user.name:
            if not state.user_typed(args.attendee_name):
                return _fail("not_allowed", "attendee_name must be the user's own name as the user typed it in "
                                            "this chat. Ask the user for their name.")
            user.name = args.attendee_name.strip()
        return None

    @staticmethod
    def _identity_missing(state: SessionState, args: ToolArgs) -> list[str]:
        if not isinstance(args, BookMeetingArgs):
            return []
        return [f for f, v in (("attendee_email", state.user.email), ("attendee_name", state.user.name)) if not v]

    def _may_act_on(self, state: SessionState, booking: Booking) -> str | None:
        """None when the user may change `booking`, else a sentence for the model."""
        user = state.user
        if self.is_owner(state):
            hosts = booking.host_emails()
            if not hosts or self.account.owner_email.lower() in hosts:
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

    def _visible(self, state: SessionState, booking: Booking) -> bool:
        return self._may_act_on(state, booking) is None

    # -- the user's zone --------------------------------------------------------------------------------------------
    async def _set_time_zone(self, state: SessionState, args: SetTimeZoneArgs) -> dict[str, Any]:
        zone = resolve_zone(args.time_zone or "").key  # UnknownTimeZoneError -> invalid_time with a sentence
        previous = state.user.time_zone
        state.user.time_zone, state.user.time_zone_source = zone, "chat"
        result: dict[str, Any] = {"ok": True, "time_zone": zone, "previous_time_zone": previous,
                                  "now_local": format_when(self.clock(), zone),
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

    # -- reads -----------------------------------------------------------------------------------------------------
    async def _check_availability(self, state: SessionState, args: CheckAvailabilityArgs) -> dict[str, Any]:
        zone = state.user.time_zone
        first = parse_date(args.date or "")
        last = parse_date(args.end_date) if args.end_date else first
        now = self.clock()
        today = local_date(now, zone)
        if last < today:
            return _fail("invalid_time", f"{last.isoformat()} is in the past (today is {today.isoformat()} in "
                                         f"{zone}). Ask about a day from today on.")
        bounds = self._bounds(zone)
        first, last, note = bounds.bookable_days(max(first, today), last)  # StartRefused: too far ahead, and why
        if (last - first).days + 1 > MAX_AVAILABILITY_DAYS:
            return _fail("invalid_arguments", f"Ask for at most {MAX_AVAILABILITY_DAYS} days at once.")
        duration, problem = self._duration(args.duration_minutes)
        if problem:
            return problem
        window = local_days_range(first, last, zone)
        slots = [s for s in await self._slots(max(window.start, now), min(window.end, bounds.latest), zone, duration)
                 if window.contains(s.start) and bounds.accepts(s.start)]
        by_day: dict[str, list[Slot]] = {}
        for slot in slots:
            by_day.setdefault(local_date(slot.start, zone).isoformat(), []).append(slot)
        days = []
        for day, day_slots in sorted(by_day.items()):
            windows = free_windows(day_slots, duration)
            days.append({
                "date": day, "weekday": parse_date(day).strftime("%A"),
                "free_local": [format_window(a, b, zone) for a, b in windows],
                "free_utc": [f"{to_utc_iso(a)}/{to_utc_iso(b)}" for a, b in windows],
            })
        return {
            "ok": True, "time_zone": zone, "duration_minutes": duration,
            "starts_every_minutes": step_minutes(slots, duration),
            "days": days, "no_free_time": not days,
            "how_to_book": "Meetings may start at the free times shown (on the starts_every_minutes grid) and must end "
                           "by the end of a free window. book_meeting takes start=YYYY-MM-DDTHH:MM, local time.",
            **({"note": note} if note else {}),
        }

    async def _list_meetings(self, state: SessionState, args: ListMeetingsArgs) -> dict[str, Any]:
        zone = state.user.time_zone
        now = self.clock()
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
        owner = self.is_owner(state)
        scope = None if owner else state.user.email
        bookings = await self.client.list_bookings(
            status=status, attendee_email=scope,
            after_start=after, before_end=before, sort_start="desc" if status == "past" else "asc")
        self._recent.append(_RecentList(scope, status, after, before, tuple(bookings), time.monotonic()))
        bookings = [b for b in bookings if self._visible(state, b)]
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
            "meetings": [self._view(state, b) for b in shown],
        }
        if len(matches) > len(shown):
            result["not_shown"] = len(matches) - len(shown)
        if dated:
            result["looked_for"] = (" or ".join(format_when(t, zone) for t in targets) if targets else
                                    f"{args.from_date}" + (f" to {args.to_date}" if args.to_date else ""))
        if not matches:
            result["nearest"] = [self._view(state, b) for b in nearby]
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

    def _view(self, state: SessionState, booking: Booking) -> dict[str, Any]:
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

    # -- helpers for proposals -------------------------------------------------------------------------------------
    def _duration(self, requested: int | None, event_type_id: int | None = None) -> tuple[int, dict | None]:
        event_type = self.account.find_event_type(event_type_id) or self.account.event_type
        allowed = event_type.allowed_lengths
        if requested is None:
            return event_type.length_in_minutes, None
        if requested not in allowed:
            words = ", ".join(str(n) for n in allowed)
            return 0, _fail("invalid_duration", f"{requested} minutes is not offered for this kind of meeting; "
                                                f"allowed: {words} minutes.", allowed_minutes=allowed)
        return requested, None

    async def _slots(self, start: datetime, end: datetime, zone: str, duration: int,
                     event_type_id: int | None = None, reschedule_uid: str | None = None) -> list[Slot]:
        event_type = self.account.find_event_type(event_type_id) or self.account.event_type
        return await self.client.slots(
            event_type.id, start, end, time_zone=zone,
            duration=duration if event_type.has_multiple_lengths else None,
            booking_uid_to_reschedule=reschedule_uid)

    def _bounds(self, zone: str, event_type_id: int | None = None) -> Bounds:
        event_type = self.account.find_event_type(event_type_id) or self.account.event_type
        return Bounds.of(self.clock(), zone, event_type, self.account.host_time_zone)

    def _future_start(self, text: str | None, zone: str) -> datetime:
        """The requested start as UTC; StartRefused (-> invalid_time with its reason) when it is past or beyond
        calbot's horizon. The event type's own window is checked with its free slots (_slot_check)."""
        start = parse_start(text or "", zone)
        Bounds.of(self.clock(), zone).refuse_start(start)
        return start

    async def _slot_check(self, state: SessionState, start: datetime, duration: int, *,
                          event_type_id: int | None = None,
                          reschedule_uid: str | None = None) -> dict[str, Any] | None:
        """None when `start` is a free slot; else why not (the event type's booking window, or a slot_unavailable
        result with its reason and the nearest free slots calbot accepts: see calbot.agent.slots)."""
        zone = state.user.time_zone
        bounds = self._bounds(zone, event_type_id)
        try:
            bounds.refuse_start(start)
        except StartRefused as exc:
            return _fail("invalid_time", str(exc), reason=exc.reason)
        day = local_date(start, zone)
        window = local_days_range(day, day + timedelta(days=ALTERNATIVES_WINDOW_DAYS - 1), zone)
        slots = await self._slots(max(window.start, self.clock()), min(window.end, bounds.latest), zone, duration,
                                  event_type_id, reschedule_uid)
        if any(slot.start == start for slot in slots):
            return None
        return bounds.unavailable(start, duration, slots)

    async def _overlap_warnings(self, state: SessionState, start: datetime, end: datetime,
                                ignore_uid: str | None = None) -> list[str]:
        """Meetings the user already has that overlap [start, end)."""
        if not state.user.email:
            return []
        scope = None if self.is_owner(state) else state.user.email
        after, before = start - OVERLAP_MARGIN, end + OVERLAP_MARGIN
        recent = next((e for e in reversed(self._recent_lists()) if e.covers(scope, after, before)), None)
        bookings = list(recent.bookings) if recent is not None else await self.client.list_bookings(
            attendee_email=scope, after_start=after, before_end=before)
        zone = state.user.time_zone
        warnings = []
        for booking in bookings:
            if (booking.uid == ignore_uid or booking.status in ("cancelled", "rejected")
                    or not self._visible(state, booking)):
                continue
            if booking.start < end and booking.end > start:
                state.remember_seen(booking.uid)
                warnings.append(f"The user already has a meeting at {format_span(booking.start, booking.end, zone)}, "
                                "which overlaps.")
        return warnings

    def _open_proposal(self, state: SessionState, proposal: Proposal) -> dict[str, Any]:
        state.proposal = proposal  # one open proposal at a time: a new one replaces the old
        zone = proposal.time_zone
        result: dict[str, Any] = {
            "ok": True, "status": "awaiting_confirmation", "proposal_id": proposal.id, "action": proposal.action,
            "summary": proposal.summary,
            "start_local": local_wall(proposal.start, zone), "start_utc": to_utc_iso(proposal.start),
            "duration_minutes": proposal.duration_minutes,
            "next": "The user now sees Confirm and Discard buttons. Nothing has changed yet: do not say it is done.",
        }
        if proposal.warnings:
            result["warnings"] = proposal.warnings
        return result

    async def _owned_booking(self, state: SessionState, uid: str, *, fresh: bool = True) -> Booking | dict[str, Any]:
        """The booking behind `uid` if this user may change it, else a result explaining why not.

        With fresh=False (a proposal) a booking from a list answer of the last minute is used as it was; Confirm
        always fetches it again, so ownership and status are checked on the booking as it is then."""
        if uid not in state.seen_booking_uids:
            return _fail("unknown_booking", f"No meeting with uid {uid!r} has been shown in this chat. Call "
                                            "list_meetings to find the meeting, then use its uid.")
        if not fresh and needs_choice(state, uid):
            return _fail("ask_which", "The user's words match more than one meeting (or none exactly). Ask the user "
                                      "which meeting they mean and wait for the answer; do not pick one yourself.")
        booking = None if fresh else self._recent_booking(uid)
        if booking is None:
            try:
                data = await self.client.get_booking(uid)
            except NotFoundError:
                return _fail("unknown_booking", "That meeting no longer exists in the calendar. List the meetings "
                                                "again.")
            bookings = as_bookings(data)
            booking = next((b for b in bookings if b.uid == uid), bookings[0] if bookings else None)
        if booking is None:
            return _fail("unknown_booking", "That meeting no longer exists in the calendar.")
        refusal = self._may_act_on(state, booking)
        if refusal:
            return _fail("not_allowed", refusal)
        if booking.status == "cancelled":
            moved = f" It was moved; its new uid is {booking.rescheduled_to_uid}." if booking.rescheduled_to_uid \
                else ""
            if booking.rescheduled_to_uid:
                state.remember_seen(booking.rescheduled_to_uid)
            return _fail("already_cancelled", f"That meeting is already cancelled.{moved}")
        if booking.status == "rejected":
            return _fail("already_cancelled", "The host declined that meeting; there is nothing to change.")
        if booking.end <= self.clock():
            return _fail("in_the_past", "That meeting is already over, so it cannot be changed.")
        return booking

    def _event_type_id(self, booking: Booking) -> int:
        return (booking.event_type.id if booking.event_type else booking.event_type_id) or self.account.event_type.id

    def _seat(self, state: SessionState, booking: Booking) -> str | None:
        """The user's own seat in a seated booking (Cal.com changes seats one at a time)."""
        if not booking.is_seated or self.is_owner(state):
            return None
        email = (state.user.email or "").lower()
        return next((a.seat_uid for a in booking.attendees if a.email.lower() == email and a.seat_uid), None)

    # -- write proposals -------------------------------------------------------------------------------------------
    async def _propose_booking(self, state: SessionState, args: BookMeetingArgs) -> dict[str, Any]:
        zone = state.user.time_zone
        start = self._future_start(args.start, zone)
        duration, problem = self._duration(args.duration_minutes)
        if problem:
            return problem
        unavailable = await self._slot_check(state, start, duration)
        if unavailable:
            return unavailable
        end = start + timedelta(minutes=duration)
        warnings = await self._overlap_warnings(state, start, end)
        guests = [g for g in (args.guests or []) if not same_email(g, state.user.email)]
        event_type = self.account.event_type
        summary = (f"Book a {duration}-minute {event_type.title or 'meeting'} on {format_span(start, end, zone)} "
                   f"for {state.user.name} <{state.user.email}>, about: {args.reason}")
        if guests:
            summary += f"; guests: {', '.join(guests)}"
        proposal = Proposal(
            id=uuid.uuid4().hex[:12], action="book", created_at=self.clock(), time_zone=zone, summary=summary,
            event_type_id=event_type.id, start=start, end=end, duration_minutes=duration, reason=args.reason,
            attendee_name=state.user.name, attendee_email=state.user.email, guests=guests,
            length_in_minutes=duration if event_type.has_multiple_lengths else None, warnings=warnings,
        )
        return self._open_proposal(state, proposal)

    async def _propose_cancel(self, state: SessionState, args: CancelMeetingArgs) -> dict[str, Any]:
        zone = state.user.time_zone
        booking = await self._owned_booking(state, args.booking_uid or "", fresh=False)
        if isinstance(booking, dict):
            return booking
        seat = self._seat(state, booking)
        summary = f"Cancel the meeting {booking.uid} on {format_span(booking.start, booking.end, zone)}"
        if args.reason:
            summary += f" (reason: {args.reason})"
        if booking.is_recurring:
            summary += "; only this occurrence is cancelled"
        if seat:
            summary += "; only your seat is cancelled, the others keep theirs"
        elif booking.is_seated:
            summary += f"; this cancels it for all {len(booking.attendees)} attendees"
        duration = int((booking.end - booking.start).total_seconds() // 60)
        proposal = Proposal(
            id=uuid.uuid4().hex[:12], action="cancel", created_at=self.clock(), time_zone=zone, summary=summary,
            event_type_id=self._event_type_id(booking),
            start=booking.start, end=booking.end, duration_minutes=duration, reason=args.reason,
            booking_uid=booking.uid, title=booking.title, seat_uid=seat,
        )
        return self._open_proposal(state, proposal)

    async def _propose_reschedule(self, state: SessionState, args: RescheduleMeetingArgs) -> dict[str, Any]:
        zone = state.user.time_zone
        new_start = self._future_start(args.new_start, zone)
        booking = await self._owned_booking(state, args.booking_uid or "", fresh=False)
        if isinstance(booking, dict):
            return booking
        seat = self._seat(state, booking)
        if booking.is_seated and not seat:
            return _fail("not_supported", "This is a seated event with several attendees; move it on the Cal.com "
                                          "page, where each attendee's seat can be handled.")
        if new_start == booking.start:
            return _fail("invalid_time", f"That meeting is already at {format_when(new_start, zone)}.")
        event_type_id = self._event_type_id(booking)
        event_type = self.account.find_event_type(event_type_id) or self.account.event_type
        # Cal.com gives the new booking the event type's default length, whatever the old one lasted.
        duration = event_type.length_in_minutes
        unavailable = await self._slot_check(state, new_start, duration, event_type_id=event_type_id,
                                             reschedule_uid=booking.uid)
        if unavailable:
            return unavailable
        new_end = new_start + timedelta(minutes=duration)
        warnings = await self._overlap_warnings(state, new_start, new_end, ignore_uid=booking.uid)
        old_duration = int((booking.end - booking.start).total_seconds() // 60)
        if old_duration != duration:
            warnings.append(f"The meeting now lasts {old_duration} minutes; after the move it will last "
                            f"{duration} minutes (the event type's standard length).")
        summary = (f"Move the meeting {booking.uid} from {format_span(booking.start, booking.end, zone)} to "
                   f"{format_span(new_start, new_end, zone)}")
        if args.reason:
            summary += f" (reason: {args.reason})"
        proposal = Proposal(
            id=uuid.uuid4().hex[:12], action="reschedule", created_at=self.clock(), time_zone=zone,
            summary=summary, event_type_id=event_type_id, start=new_start, end=new_end, duration_minutes=duration,
            reason=args.reason, booking_uid=booking.uid, title=booking.title, old_start=booking.start,
            old_end=booking.end, warnings=warnings, seat_uid=seat,
        )
        return self._open_proposal(state, proposal)

    # -- confirm / discard -----------------------------------------------------------------------------------------
    def withdraw(self, state: SessionState) -> Proposal | None:
        """The user typed instead of pressing a button: the open proposal is dropped (nothing written) but the
        pending arguments stay, so "make it 4pm instead" only needs the changed detail. Returns what was dropped."""
        proposal = state.proposal
        if proposal is None or proposal.status == "executing":
            return None
        state.proposal = None
        state.record_outcome(proposal.id, {"ok": False, "status": "withdrawn",
                                           "message": "That proposal was withdrawn when you typed a new message; "
                                                      "nothing was changed."})
        return proposal

    def discard(self, state: SessionState, proposal_id: str) -> dict[str, Any]:
        proposal = state.proposal
        if proposal is None or proposal.id != proposal_id:
            return {"ok": False, "status": "no_proposal",
                    "message": "That proposal is no longer open; nothing was changed."}
        if proposal.status == "executing":
            return {"ok": False, "status": "in_progress", "message": "That change is already being made."}
        state.proposal = None
        state.clear_pending()
        outcome = {"ok": True, "status": "discarded", "message": "Discarded: nothing was changed."}
        state.record_outcome(proposal_id, outcome)
        return outcome

    async def confirm(self, state: SessionState, proposal_id: str) -> dict[str, Any]:
        """Execute the stored proposal exactly as stored, at most once (a second click gets the first outcome)."""
        if proposal_id in state.finished_proposals:
            return {**state.finished_proposals[proposal_id], "repeated": True}
        proposal = state.proposal
        if proposal is None or proposal.id != proposal_id:
            return {"ok": False, "status": "no_proposal",
                    "message": "That proposal is no longer open (it was replaced or discarded); nothing was changed."}
        if proposal.status == "executing":
            return {"ok": False, "status": "in_progress", "message": "That change is already being made."}
        proposal.status = "executing"  # set before the first await: a concurrent second click stops above
        self._forget_recent()
        outcome: dict[str, Any] | None = None
        try:
            try:
                outcome = await self._execute(state, proposal)
            except SlotUnavailableError as exc:
                outcome = await self._gone_at_confirm(state, proposal, exc)
            except CalcomError as exc:
                outcome = {"ok": False, "status": "failed", "message": explain(exc, write=proposal.action)}
            except Exception:  # the proposal must not stay stuck in "executing"
                log.exception("confirm failed")
                outcome = {"ok": False, "status": "failed", "message": SOMETHING_WENT_WRONG}
        finally:
            if outcome is None:  # cancelled (Stop, a closed page) while Cal.com was asked: it may have happened
                noun = {"book": "booking", "cancel": "cancellation", "reschedule": "move"}[proposal.action]
                outcome = {"ok": False, "status": "failed",
                           "message": f"Stopped before Cal.com answered, so I cannot tell whether the {noun} went "
                                      "through. List your meetings to check before trying again."}
            self._forget_recent()
            if state.proposal is proposal:  # a proposal made while this one ran stays open
                state.proposal = None
                state.clear_pending()
            state.record_outcome(proposal_id, outcome)
        return outcome

    async def _gone_at_confirm(self, state: SessionState, proposal: Proposal,
                               exc: SlotUnavailableError) -> dict[str, Any]:
        outcome: dict[str, Any] = {"ok": False, "status": "slot_unavailable",
                                   "message": f"{explain(exc)} Nothing was changed."}
        try:
            check = await self._slot_check(state, proposal.start, proposal.duration_minutes,
                                           event_type_id=proposal.event_type_id,
                                           reschedule_uid=proposal.booking_uid
                                           if proposal.action == "reschedule" else None)
        except CalcomError:
            check = None
        if check and check.get("alternatives"):
            outcome["alternatives"] = check["alternatives"]
        return outcome

    async def _execute(self, state: SessionState, proposal: Proposal) -> dict[str, Any]:
        zone = state.user.time_zone
        if proposal.action == "book":
            if proposal.start <= self.clock():
                return {"ok": False, "status": "failed",
                        "message": "That time has passed while waiting for Confirm; nothing was booked."}
            request = CreateBookingRequest(
                start=proposal.start, event_type_id=proposal.event_type_id,
                attendee=NewAttendee(name=proposal.attendee_name or "", email=proposal.attendee_email or "",
                                     time_zone=proposal.time_zone),
                guests=proposal.guests or None, length_in_minutes=proposal.length_in_minutes,
                booking_fields_responses={"notes": proposal.reason} if proposal.reason else None,
                metadata={"source": "calbot", "calbot_proposal": proposal.id},
            )
            try:
                booking = as_bookings(await self.client.create_booking(request))[0]
            except (CalcomTimeoutError, CalcomConnectionLostError, ServerError) as exc:
                # The booking may exist (API-NOTES §12: no idempotency key): look for our marker before repeating.
                booking = await self._recover_create(state, proposal, request, exc)
            state.remember_made(booking.uid)
            return self._done(state, "book", booking, zone)

        # cancel / reschedule: ownership again, on the booking as it is now
        booking = await self._owned_booking(state, proposal.booking_uid or "")
        if isinstance(booking, dict):
            return {"ok": False, "status": booking["status"],  # for the person: booking["error"] is for the model
                    "message": CONFIRM_REFUSED.get(booking["status"], CONFIRM_REFUSED_OTHER)}
        if proposal.action == "cancel":
            result = as_bookings(await self.client.cancel_booking(booking.uid, proposal.reason,
                                                                  seat_uid=proposal.seat_uid))
            cancelled = next((b for b in result if b.uid == booking.uid), result[0])
            return self._done(state, "cancel", cancelled, zone)

        rescheduled_by = self.account.owner_email if self.is_owner(state) else state.user.email
        request = RescheduleRequest(start=proposal.start, rescheduled_by=rescheduled_by, seat_uid=proposal.seat_uid,
                                    rescheduling_reason=None if proposal.seat_uid else proposal.reason)
        try:
            new = as_bookings(await self.client.reschedule_booking(booking.uid, request))[0]
        except (CalcomTimeoutError, CalcomConnectionLostError, ServerError) as exc:
            new = await self._recover_reschedule(booking.uid, request, exc)
        if booking.uid in state.made_booking_uids:
            state.remember_made(new.uid)
        else:
            state.remember_seen(new.uid)
        return self._done(state, "reschedule", new, zone, old_uid=booking.uid)

    async def _recover_create(self, state: SessionState, proposal: Proposal, request: CreateBookingRequest,
                              failure: CalcomError) -> Booking:
        """After a create whose outcome is unknown: the booking carrying this proposal's marker if it was made,
        else one more create. If the look-up itself fails, the original failure stands (it may have happened)."""
        try:
            bookings = await self.client.list_bookings(
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
        return as_bookings(await self.client.create_booking(request))[0]

    async def _recover_reschedule(self, old_uid: str, request: RescheduleRequest, failure: CalcomError) -> Booking:
        """After a reschedule whose outcome is unknown: follow the old booking's rescheduledToUid if it moved,
        else one more reschedule. If the look-up itself fails, the original failure stands."""
        try:
            old = next(iter(b for b in as_bookings(await self.client.get_booking(old_uid)) if b.uid == old_uid), None)
            if old is not None and old.rescheduled_to_uid:
                moved = as_bookings(await self.client.get_booking(old.rescheduled_to_uid))
                log.info("reschedule answered %s but it happened; not repeating it", type(failure).__name__)
                return moved[0]
        except CalcomError:
            raise failure from None
        if old is not None and old.status == "cancelled":
            raise failure  # cancelled without a new booking: do not guess
        log.info("reschedule answered %s and nothing moved; trying once more", type(failure).__name__)
        return as_bookings(await self.client.reschedule_booking(old_uid, request))[0]

    def _done(self, state: SessionState, action: str, booking: Booking, zone: str,
              old_uid: str | None = None) -> dict[str, Any]:
        when = format_span(booking.start, booking.end, zone)
        if action == "cancel":
            message = f"Cancelled the meeting on {when}."
            status = "cancelled"
        elif booking.status == "pending":
            message = (f"Requested the meeting for {when}." if action == "book" else
                       f"Requested moving the meeting to {when}.") + " It is awaiting the host's confirmation."
            status = "awaiting_host"
        else:
            message = (f"Booked the meeting on {when}." if action == "book" else
                       f"Moved the meeting to {when}.")
            status = "booked" if action == "book" else "rescheduled"
        outcome: dict[str, Any] = {"ok": True, "status": status, "message": message,
                                   "booking": self._view(state, booking)}
        if old_uid:
            outcome["old_uid"] = old_uid
        return outcome
