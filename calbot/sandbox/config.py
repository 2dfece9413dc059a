"""What the sandbox calendar emulates: one host, their weekly schedule, their event types, the key it accepts.

Everything here is plain data with defaults that match a fresh Cal.com account closely enough for calbot:
Mon-Fri 09:00-17:00 in the host's zone, a 30 and a 60 minute event type, Cal.com's default minimum booking notice of
two hours, and the 120 requests per minute per key of Cal.com's API-key rate limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time

from calbot.timezones import get_zone

# The key the sandbox accepts unless told otherwise (documented in README). It starts with cal_ like every
# Cal.com API key, so the app and the client treat it exactly like a real one.
SANDBOX_API_KEY = "cal_sandbox_calbot_local"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Recurrence:
    """A recurring event type (Cal.com's Recurrence_2024_06_14): a booking may ask for up to `occurrences` meetings,
    every `interval` weeks, months or years."""

    frequency: str = "weekly"  # "weekly" | "monthly" | "yearly"
    interval: int = 1
    occurrences: int = 4

    def __post_init__(self) -> None:
        if self.frequency not in ("weekly", "monthly", "yearly") or self.interval < 1 or self.occurrences < 1:
            raise ValueError("a recurrence is weekly, monthly or yearly, with an interval and occurrences of 1 or more")


@dataclass(frozen=True)
class SandboxEventType:
    id: int
    slug: str
    title: str
    length: int  # the default length in minutes
    length_options: tuple[int, ...] = ()  # several allowed lengths ("multiple durations") when non-empty
    description: str = ""
    requires_confirmation: bool = False  # bookings start as "pending" until the host confirms
    minimum_notice_minutes: int = 120  # Cal.com's default minimumBookingNotice
    booking_window_days: int | None = None  # None: bookable any time in the future (Cal.com's default)
    slot_interval: int | None = None  # None: slots every `length` minutes (Cal.com's default)
    hidden: bool = False
    seats: int | None = None  # seatsPerTimeSlot: up to that many attendees share one booking (None: not seated)
    recurrence: Recurrence | None = None  # None: one meeting per booking

    @property
    def lengths(self) -> tuple[int, ...]:
        return self.length_options or (self.length,)


def default_event_types() -> tuple[SandboxEventType, ...]:
    return (
        SandboxEventType(1001, "30min", "30 Min Meeting", 30, description="A 30 minute meeting."),
        SandboxEventType(1002, "60min", "60 Min Meeting", 60, description="A 60 minute meeting."),
    )


@dataclass(frozen=True)
class SandboxHost:
    id: int = 1
    username: str = "sandbox"
    email: str = "host@sandbox.example.com"
    name: str = "Sandbox Host"
    time_zone: str = "Europe/London"


@dataclass(frozen=True)
class WeeklySchedule:
    """Working hours: the same window on each working day, in the host's zone (DST followed by zoneinfo)."""

    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    start: time = time(9, 0)
    end: time = time(17, 0)

    @classmethod
    def parse(cls, days: str = "mon-fri", hours: str = "09:00-17:00") -> WeeklySchedule:
        """`days` like "mon-fri" or "mon,wed,fri"; `hours` like "09:00-17:00". Raises ValueError with the reason."""
        chosen: set[int] = set()
        for part in days.lower().replace(" ", "").split(","):
            if "-" in part:
                first, _, last = part.partition("-")
                if first not in WEEKDAYS or last not in WEEKDAYS:
                    raise ValueError(f"unknown day range {part!r}: use mon, tue, wed, thu, fri, sat, sun")
                a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
                chosen.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            elif part in WEEKDAYS:
                chosen.add(WEEKDAYS.index(part))
            else:
                raise ValueError(f"unknown day {part!r}: use mon, tue, wed, thu, fri, sat, sun")
        match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", hours.strip())
        if not match:
            raise ValueError(f"hours {hours!r} must look like 09:00-17:00")
        h1, m1, h2, m2 = map(int, match.groups())
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60):
            raise ValueError(f"hours {hours!r} are not clock times")
        start = time(h1, m1)
        end = time(23, 59, 59, 999999) if (h2, m2) == (24, 0) else time(h2, m2)
        if end <= start:
            raise ValueError(f"hours {hours!r} end before they start")
        return cls(frozenset(chosen), start, end)


@dataclass(frozen=True)
class SandboxConfig:
    api_key: str = SANDBOX_API_KEY
    host: SandboxHost = field(default_factory=SandboxHost)
    schedule: WeeklySchedule = field(default_factory=WeeklySchedule)
    event_types: tuple[SandboxEventType, ...] = field(default_factory=default_event_types)
    rate_limit: int = 120  # requests per 60 s window per key (or per IP without one); 0 turns the limit off
    test_hooks: bool = False  # serve /_sandbox/state, /_sandbox/faults, ... (tests only)
    public_url: str = "https://sandbox.calbot.invalid"  # used in meeting links; .invalid so nobody follows one

    def __post_init__(self) -> None:
        get_zone(self.host.time_zone)  # raises UnknownTimeZoneError early
        if not self.api_key.startswith("cal_"):
            raise ValueError("the sandbox API key must start with cal_, like every Cal.com API key")
        if not self.event_types:
            raise ValueError("the sandbox needs at least one event type")

    def event_type(self, event_type_id: int) -> SandboxEventType | None:
        return next((et for et in self.event_types if et.id == event_type_id), None)
