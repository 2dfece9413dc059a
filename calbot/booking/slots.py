"""Which start times calbot accepts, why it refuses the others, and which free times it offers instead.

A start is accepted when it is ahead of now and of the event type's minimum notice, and before the earlier of
calbot's horizon and the event type's booking window when Cal.com gives one (`bookingWindow`: calendar or business
days, not rolling, counted in the booker's zone; or a date range in the host's zone, as Cal.com's isOutOfBounds
counts them). The horizon is one year from now because Cal.com lists free slots no further (its getSchedule input
clamps `endTime` to dayjs().add(1, "year")): a later time could never be checked free, so calbot refuses it as too
far ahead instead of calling it "not free". A rolling window depends on which days have free time, so calbot leaves
it to Cal.com's slots.

Everything offered instead (the nearest free slots, check_availability's free windows) passes the same check, so a
time calbot offers is never refused when picked; and every refusal names its reason: past, too_soon,
beyond_horizon, beyond_booking_window, before_booking_window, off_grid, too_long, taken, outside_hours,
no_free_time. The sentences are written here, beside the rules they explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from calbot.booking.results import Status
from calbot.calcom.models import EventType, Slot
from calbot.timezones import (
    TimeInputError,
    format_time,
    format_when,
    format_window,
    local_date,
    local_wall,
    parse_date,
    start_of_day,
    to_utc_iso,
)

MAX_WINDOW_DAYS = 3660  # booking windows longer than this end after calbot's horizon anyway
MAX_ALTERNATIVES = 5
SAME_DAY_ALTERNATIVES = 3


class StartRefused(TimeInputError):
    """A start (or a day) calbot will not book, with its reason code for the model."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def _day_words(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _duration_words(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and not rest:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def one_year_after(now: datetime) -> datetime:
    """The horizon: the same day and time next year (29 February becomes 28 February), as dayjs add(1, "year")."""
    try:
        return now.replace(year=now.year + 1)
    except ValueError:
        return now.replace(year=now.year + 1, day=28)


def _add_business_days(day: date, count: int) -> date:
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


@dataclass(frozen=True)
class Bounds:
    """The starts calbot accepts for one event type (or for any, without one), now, in the user's zone."""

    zone: str
    now: datetime
    earliest: datetime  # now + the event type's minimum notice
    notice_minutes: int
    last_day: date  # the last local day with bookable time
    latest: datetime  # exclusive: the first instant that is too far ahead
    limit: str  # "horizon" or "booking_window": which of the two ends it
    limit_words: str  # "this kind of meeting can be booked at most 30 days ahead, up to Wednesday 23 December 2026"
    opens: datetime | None = None  # a range booking window's first instant

    @classmethod
    def of(cls, now: datetime, zone: str, event_type: EventType | None = None,
           host_zone: str | None = None) -> Bounds:
        latest = one_year_after(now)
        limit, opens = "horizon", None
        words = "calbot books at most one year ahead (Cal.com lists free times no further)"
        notice = max(0, (event_type.minimum_booking_notice or 0) if event_type else 0)
        window = _booking_window(event_type, local_date(now, zone), zone, host_zone)
        if window is not None:
            window_latest, window_words, opens = window
            if window_latest < latest:
                latest, limit, words = window_latest, "booking_window", window_words
        last_day = local_date(latest - timedelta(microseconds=1), zone)
        return cls(zone=zone, now=now, earliest=now + timedelta(minutes=notice), notice_minutes=notice,
                   last_day=last_day, latest=latest, limit=limit, limit_words=words, opens=opens)

    # -- the rule --------------------------------------------------------------------------------------------------
    def accepts(self, start: datetime) -> bool:
        return (start > self.now and start >= self.earliest and start < self.latest
                and (self.opens is None or start >= self.opens))

    def refuse_start(self, start: datetime) -> None:
        """StartRefused when `start` is past, beyond the last bookable day or before a range window opens. Too
        soon is not refused here: it is a free-time question, answered with the times that are soon enough."""
        when = format_when(start, self.zone)
        if start <= self.now:
            raise StartRefused(f"{when} is in the past (it is now {format_when(self.now, self.zone)}). Ask for a "
                               "time that is still ahead.", "past")
        if start >= self.latest:
            raise StartRefused(f"{when} is too far ahead: {self._reach()}.", self._beyond())
        if self.opens is not None and start < self.opens:
            raise StartRefused(f"{when} is too early for this kind of meeting: {self.limit_words}.",
                               "before_booking_window")

    def bookable_days(self, first: date, last: date) -> tuple[date, date, str | None]:
        """first..last cut to the bookable days, with a note when days were left out; StartRefused when none is."""
        if first > self.last_day:
            raise StartRefused(f"{_day_words(first)} is too far ahead: {self._reach()}.", self._beyond())
        opens_day = local_date(self.opens, self.zone) if self.opens is not None else None
        if opens_day is not None and last < opens_day:
            raise StartRefused(f"{_day_words(last)} is too early for this kind of meeting: {self.limit_words}.",
                               "before_booking_window")
        note = None
        if last > self.last_day:
            last = self.last_day
            note = f"Days after {_day_words(last)} are left out: {self._reach()}."
        if opens_day is not None and first < opens_day:
            first = opens_day
            note = " ".join(filter(None, [note, f"Days before {_day_words(first)} are left out: "
                                                 f"{self.limit_words}."]))
        return first, last, note

    def _reach(self) -> str:
        if self.limit == "horizon":  # an instant: the last day is bookable until the time of day it is now
            return f"{self.limit_words}, until {format_when(self.latest, self.zone)}"
        return self.limit_words

    def _beyond(self) -> str:
        return "beyond_horizon" if self.limit == "horizon" else "beyond_booking_window"

    # -- a time that is not free -------------------------------------------------------------------------------------
    def unavailable(self, start: datetime, duration: int, slots: list[Slot]) -> dict[str, Any]:
        """The slot_unavailable result: why `start` is not free, and the nearest free times calbot accepts (that
        day first, then the following days)."""
        offered = [s for s in slots if self.accepts(s.start)]
        reason, sentence = self._why_not_free(start, duration, offered)
        return {
            "ok": False, "status": str(Status.SLOT_UNAVAILABLE), "error": sentence, "reason": reason,
            "requested": {"start_local": local_wall(start, self.zone), "start_utc": to_utc_iso(start)},
            "alternatives": [{"start": local_wall(s.start, self.zone), "start_utc": to_utc_iso(s.start),
                              "when": format_when(s.start, self.zone)} for s in self._nearest(start, offered)],
        }

    def _nearest(self, start: datetime, slots: list[Slot]) -> list[Slot]:
        day = local_date(start, self.zone)
        same_day = sorted((s for s in slots if local_date(s.start, self.zone) == day),
                          key=lambda s: abs((s.start - start).total_seconds()))[:SAME_DAY_ALTERNATIVES]
        later = [s for s in slots if local_date(s.start, self.zone) > day]
        return sorted(same_day, key=lambda s: s.start) + later[: MAX_ALTERNATIVES - len(same_day)]

    def _why_not_free(self, start: datetime, duration: int, slots: list[Slot]) -> tuple[str, str]:
        zone = self.zone
        when = format_when(start, zone)
        if start < self.earliest:
            return "too_soon", (f"{when} is too soon: this kind of meeting needs at least "
                                f"{_duration_words(self.notice_minutes)} of notice, so the earliest start is "
                                f"{format_when(self.earliest, zone)}.")
        day = local_date(start, zone)
        day_slots = [s for s in slots if local_date(s.start, zone) == day]
        if not day_slots:
            return "no_free_time", (f"{when} is not free: there is no free time on {_day_words(day)} for a "
                                    f"{duration}-minute meeting (not a working day, or fully booked).")
        windows = free_windows(day_slots, duration)
        free = ", ".join(format_window(a, b, zone) for a, b in windows)
        step = step_minutes(slots, duration)
        for opens, closes in windows:
            if opens <= start < closes:
                if (start - opens) % timedelta(minutes=step):
                    return "off_grid", (f"{when} is not a start time: meetings start every {step} minutes "
                                        f"(free that day: {free}).")
                return "too_long", (f"A {duration}-minute meeting at {format_time(start, zone)} would run past the "
                                    f"end of the free time at {format_time(closes, zone)} (free that day: {free}).")
        before = [closes for _, closes in windows if closes <= start]
        after = [opens for opens, _ in windows if opens > start]
        if before and after:
            return "taken", (f"{when} is taken: the calendar is busy from {format_time(before[-1], zone)} to "
                             f"{format_time(after[0], zone)} that day.")
        return "outside_hours", f"{when} is outside the free hours that day ({free})."


def _booking_window(event_type: EventType | None, today: date, zone: str,
                    host_zone: str | None) -> tuple[datetime, str, datetime | None] | None:
    """(first instant after the window, its words, a range's first instant) for the windows calbot can compute."""
    window = event_type.booking_window if event_type else None
    if window is None or window.rolling not in (None, False):  # a rolling window: Cal.com's slots apply it
        return None
    kind, value = window.type, window.value
    if (kind in ("calendarDays", "businessDays") and isinstance(value, int | float) and not isinstance(value, bool)
            and 0 <= value <= MAX_WINDOW_DAYS):  # a longer window ends after the horizon: the horizon applies
        days = int(value)
        if kind == "calendarDays":
            last, words = today + timedelta(days=days), f"{days} days"
        else:
            last, words = _add_business_days(today, days), f"{days} business days"
        return (start_of_day(last + timedelta(days=1), zone),
                f"this kind of meeting can be booked at most {words} ahead, up to {_day_words(last)}", None)
    if kind == "range" and isinstance(value, list) and len(value) == 2:
        try:
            first, last = parse_date(str(value[0])), parse_date(str(value[1]))
        except TimeInputError:
            return None
        where = host_zone or zone
        return (start_of_day(last + timedelta(days=1), where),
                f"this kind of meeting can be booked only from {_day_words(first)} to {_day_words(last)}",
                start_of_day(first, where))
    return None


def step_minutes(slots: list[Slot], duration: int) -> int:
    """The grid meetings start on: the smallest gap between consecutive free slot starts."""
    gaps = [int((b.start - a.start).total_seconds() // 60) for a, b in zip(slots, slots[1:])]
    return min((g for g in gaps if g > 0), default=duration)


def free_windows(slots: list[Slot], duration: int) -> list[tuple[datetime, datetime]]:
    """Consecutive free slots merged into (first start, last end) windows."""
    windows: list[tuple[datetime, datetime]] = []
    for slot in slots:
        end = slot.end or slot.start + timedelta(minutes=duration)
        if windows and slot.start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((slot.start, end))
    return windows
