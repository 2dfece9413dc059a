"""Facts about the Cal.com account behind calbot, looked up once at start-up and shared by every chat."""

from __future__ import annotations

from dataclasses import dataclass, field

from calbot.calcom import AuthenticationError, CalcomClient, CalcomError, EventType, Me
from calbot.errors import CalbotError
from calbot.explain import explain_connect_error
from calbot.timezones import UnknownTimeZoneError, get_zone


class AccountError(CalbotError):
    """The account cannot be used as configured; `str()` says what to change (naming the variable)."""


@dataclass(frozen=True)
class Account:
    me: Me
    event_type: EventType  # the one calbot books unless another length is asked for
    event_types: tuple[EventType, ...] = field(default_factory=tuple)
    pinned: bool = False  # CAL_EVENT_TYPE_ID is set: calbot books that event type only

    @property
    def bookable_event_types(self) -> tuple[EventType, ...]:
        """The kinds of meeting calbot may book: the pinned one, else the default first, then the account's other
        event types that are not hidden."""
        if self.pinned:
            return (self.event_type,)
        return (self.event_type, *(et for et in self.event_types if et.id != self.event_type.id and not et.hidden))

    @property
    def owner_email(self) -> str:
        return self.me.email

    @property
    def host_time_zone(self) -> str | None:
        try:
            return get_zone(self.me.time_zone).key if self.me.time_zone else None
        except UnknownTimeZoneError:
            return None

    def find_event_type(self, event_type_id: int | None) -> EventType | None:
        if event_type_id is None:
            return None
        return next((et for et in (self.event_type, *self.event_types) if et.id == event_type_id), None)


async def load_account(client: CalcomClient, event_type_id: int | None = None, *,
                       base_url: str | None = None) -> Account:
    """GET /v2/me and /v2/event-types; pick CAL_EVENT_TYPE_ID or else the account's first event type.

    `base_url` is CAL_API_BASE_URL when calbot talks to a real Cal.com: failures that point at it name it."""
    try:
        me = await client.me()
        event_types = await client.event_types()
    except AuthenticationError:
        raise AccountError("Cal.com rejected CAL_API_KEY. Create a key in Cal.com > Settings > Developer > "
                           "API keys and set CAL_API_KEY to it.") from None
    except CalcomError as exc:
        raise AccountError(explain_connect_error(exc, base_url=base_url)) from None
    if event_type_id is not None:
        chosen = next((et for et in event_types if et.id == event_type_id), None)
        if chosen is None:
            known = ", ".join(f"{et.id} ({et.title or et.slug})" for et in event_types[:10]) or "none"
            raise AccountError(f"CAL_EVENT_TYPE_ID={event_type_id} is not one of this account's event types "
                               f"({known}). Set CAL_EVENT_TYPE_ID to one of them, or leave it unset to use the "
                               "first.")
    elif event_types:
        chosen = event_types[0]
    else:
        raise AccountError("This Cal.com account has no event types. Create one in Cal.com (Event Types > New) "
                           "or set CAL_EVENT_TYPE_ID.")
    return Account(me=me, event_type=chosen, event_types=tuple(event_types), pinned=event_type_id is not None)
