"""The sandbox host's availability: working hours, the booking window, and the free slots Cal.com would list.

A mixin of SandboxCalendar (calbot.sandbox.service), which provides `config`, `store`, `host_zone`, `now()` and
`event_type()`. Slots follow Cal.com's bounds: the range ends one year from now (Cal.com clamps `end` there), nothing
before now is computed (nothing before now can be free), and busy time is walked once, so one request costs at most
a year of working days whatever range it names.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from calbot.timezones import parse_instant

if TYPE_CHECKING:
    from calbot.sandbox.config import SandboxConfig, SandboxEventType
    from calbot.sandbox.store import BookingStore


def _overlaps(busy: list[tuple[datetime, datetime]], first: int, start: datetime, end: datetime) -> bool:
    """Whether [start, end) meets a busy interval from busy[first:] (sorted by start): stops at the first that
    starts at or after `end`, so a year of slots against a year of bookings stays linear."""
    for b0, b1 in itertools.islice(busy, first, None):
        if b0 >= end:
            return False
        if b1 > start:
            return True
    return False


def one_year_from(now: datetime) -> datetime:
    """How far Cal.com computes slots (dayjs add(1, "year"): the same day and time next year, 29 February -> 28)."""
    try:
        return now.replace(year=now.year + 1)
    except ValueError:
        return now.replace(year=now.year + 1, day=28)


def zoned_iso(local: datetime) -> str:
    """A slot time as Cal.com's Luxon prints it: the zone's offset (2026-11-24T10:00:00.000+01:00), Z for UTC."""
    text = local.isoformat(timespec="milliseconds")
    zone = getattr(local.tzinfo, "key", None)
    return text.removesuffix("+00:00") + "Z" if zone in ("UTC", "Etc/UTC") else text


class Availability:
    config: SandboxConfig
    store: BookingStore
    host_zone: ZoneInfo

    def now(self) -> datetime:
        raise NotImplementedError

    def event_type(self, event_type_id: int) -> SandboxEventType:
        raise NotImplementedError

    def _working_window(self, day: date) -> tuple[datetime, datetime] | None:
        """The host's working hours on a local day, as UTC instants (None on a day off)."""
        schedule = self.config.schedule
        if day.weekday() not in schedule.days:
            return None
        opens = datetime.combine(day, schedule.start, tzinfo=self.host_zone)
        closes = datetime.combine(day, schedule.end, tzinfo=self.host_zone)
        if schedule.end == time.max:  # "…-24:00" (parsed as 23:59:59.999999) closes at the next midnight
            closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.host_zone)
        return opens.astimezone(UTC), closes.astimezone(UTC)

    def _last_bookable(self, et: SandboxEventType, now: datetime) -> datetime | None:
        """Where the booking window ends (exclusive), None without one. Cal.com's rolling window (calendar days):
        up to the end of the Nth day after today, in the host's zone."""
        if et.booking_window_days is None:
            return None
        last_day = now.astimezone(self.host_zone).date() + timedelta(days=et.booking_window_days)
        return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=self.host_zone)

    def _in_bounds(self, et: SandboxEventType, start: datetime) -> bool:
        now = self.now()
        window_end = self._last_bookable(et, now)
        return start >= now + timedelta(minutes=et.minimum_notice_minutes) and (window_end is None
                                                                                or start < window_end)

    def _within_hours(self, start: datetime, end: datetime) -> bool:
        local_day = start.astimezone(self.host_zone).date()
        window = self._working_window(local_day)
        return window is not None and window[0] <= start and end <= window[1]

    def _busy(self, start: datetime, end: datetime, ignore_uid: str | None = None) -> bool:
        return any(b["uid"] != ignore_uid for b in self.store.overlapping(self.config.host.id, start, end))

    def slots(self, event_type_id: int, start: datetime, end: datetime, *, time_zone: str = "UTC",
              duration: int | None = None, reschedule_uid: str | None = None,
              range_format: bool = False) -> dict[str, list[dict[str, Any]]]:
        """Free slot starts in [start, end], keyed by date in `time_zone`, times with that zone's offset.

        As Cal.com: `end` stops one year from now, and `duration` counts only when the event type offers it. Nothing
        before now can be free, so the work starts at now: at most a year of working days, whatever was asked."""
        et = self.event_type(event_type_id)
        length = duration if duration in et.length_options else et.length
        step, span = timedelta(minutes=et.slot_interval or length), timedelta(minutes=length)
        zone = ZoneInfo(time_zone)
        now = self.now()
        start, end = max(start, now), min(end, one_year_from(now))
        if end < start:
            return {}
        near = [b for b in self.store.overlapping(self.config.host.id, start - timedelta(days=1),
                                                  end + timedelta(days=1)) if b["uid"] != reschedule_uid]
        # A seated event type's own booking with a free seat stays bookable: its time is listed with the seat counts.
        seated = {parse_instant(b["start"]): b for b in near
                  if et.seats and b["eventTypeId"] == et.id and len(b["attendees"]) < et.seats}
        open_seats = {b["uid"] for b in seated.values()}
        busy = sorted((parse_instant(b["start"]), parse_instant(b["end"])) for b in near if b["uid"] not in open_seats)
        first_free = now + timedelta(minutes=et.minimum_notice_minutes)
        last_free = self._last_bookable(et, now)
        data: dict[str, list[dict[str, Any]]] = {}
        skip = 0  # busy[:skip] end before the cursor, which only moves forward
        day = start.astimezone(self.host_zone).date() - timedelta(days=1)
        last = end.astimezone(self.host_zone).date() + timedelta(days=1)
        while day <= last:
            window = self._working_window(day)
            day += timedelta(days=1)
            if window is None:
                continue
            cursor, closes = window
            while cursor + span <= closes:
                slot_end = cursor + span
                while skip < len(busy) and busy[skip][1] <= cursor:
                    skip += 1
                if (start <= cursor <= end and first_free <= cursor and (last_free is None or cursor < last_free)
                        and not _overlaps(busy, skip, cursor, slot_end)):
                    local = cursor.astimezone(zone)
                    item: dict[str, Any] = {"start": zoned_iso(local)}
                    if range_format:
                        item["end"] = zoned_iso(slot_end.astimezone(zone))
                    if cursor in seated:
                        taken = len(seated[cursor]["attendees"])
                        item.update(seatsBooked=taken, seatsRemaining=et.seats - taken, seatsTotal=et.seats,
                                    bookingUid=seated[cursor]["uid"])
                    data.setdefault(local.date().isoformat(), []).append(item)
                cursor += step
        return data
