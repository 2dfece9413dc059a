"""What every rule of one Cal.com account works with: the client, the account, the clock, and the recent lists.

One `Context` per account, shared by every chat (the executor holds it); per-chat state is the SessionState each
call gets. The recent lists are the one thing the context remembers across calls: a list_meetings answer is kept a
minute so the proposal that usually follows ("cancel my 3pm") needs no second look-up. Confirm always fetches the
booking again, and any write forgets them all.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from calbot.booking.account import Account
from calbot.calcom import Booking, CalcomClient, EventType

RECENT_LIST_SECONDS = 60.0  # a list_meetings answer is reused this long for proposals (never at Confirm)
RECENT_LISTS_KEPT = 64


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RecentList:
    """One GET /v2/bookings answer from list_meetings."""
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


class RecentLists:
    """The list answers of the last RECENT_LIST_SECONDS (at most RECENT_LISTS_KEPT)."""

    def __init__(self) -> None:
        self._kept: deque[RecentList] = deque(maxlen=RECENT_LISTS_KEPT)

    def add(self, attendee_email: str | None, status: str | None, after: datetime | None, before: datetime | None,
            bookings: list[Booking]) -> None:
        self._kept.append(RecentList(attendee_email, status, after, before, tuple(bookings), time.monotonic()))

    def fresh(self) -> list[RecentList]:
        fresh_after = time.monotonic() - RECENT_LIST_SECONDS
        while self._kept and self._kept[0].at < fresh_after:
            self._kept.popleft()
        return list(self._kept)

    def booking(self, uid: str) -> Booking | None:
        for entry in reversed(self.fresh()):
            for booking in entry.bookings:
                if booking.uid == uid:
                    return booking
        return None

    def covering(self, attendee_email: str | None, after: datetime, before: datetime) -> RecentList | None:
        return next((e for e in reversed(self.fresh()) if e.covers(attendee_email, after, before)), None)

    def clear(self) -> None:
        """Any write through this account makes earlier answers stale."""
        self._kept.clear()


@dataclass
class Context:
    client: CalcomClient
    account: Account
    clock: Callable[[], datetime] = utcnow
    recent: RecentLists = field(default_factory=RecentLists)

    def event_type(self, event_type_id: int | None = None) -> EventType:
        """The event type of that id, else the one calbot books."""
        return self.account.find_event_type(event_type_id) or self.account.event_type

    def event_type_id(self, booking: Booking) -> int:
        return (booking.event_type.id if booking.event_type else booking.event_type_id) or self.account.event_type.id
