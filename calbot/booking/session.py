"""Per-chat state. Plain, JSON-serialisable data, kept between messages by the session store (calbot/store) under the
chat's id, whichever front door the chat came through. No clients, locks or callables live here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

ProposalAction = Literal["book", "cancel", "reschedule"]
ProposalStatus = Literal["open", "executing"]
ZoneSource = Literal["default", "setting", "browser", "chat"]

# The one time-zone precedence rule: a zone the user gives in the chat wins over the browser's, which wins over
# CALBOT_TIMEZONE, which wins over the calendar host's ("default"); with none of them, UTC.
ZONE_RANK: dict[str, int] = {"default": 0, "setting": 1, "browser": 2, "chat": 3}

MAX_REMEMBERED_UIDS = 500
MAX_FINISHED_PROPOSALS = 50


class User(BaseModel):
    """Who is chatting. `email_verified` is true only for an identity that comes from configuration or a login,
    never for an address typed in the chat."""

    email: str | None = None
    name: str | None = None
    time_zone: str = "UTC"
    time_zone_source: ZoneSource = "default"  # a zone the user gave in chat is never overridden by the browser's
    email_verified: bool = False

    def offer_zone(self, zone: str, source: ZoneSource) -> bool:
        """Take `zone` (an IANA name, already checked) if `source` ranks at least as high as where the current zone
        came from (ZONE_RANK); True when taken."""
        if ZONE_RANK[source] < ZONE_RANK[self.time_zone_source]:
            return False
        self.time_zone, self.time_zone_source = zone, source
        return True


class Proposal(BaseModel):
    """A write waiting for the user's Confirm, stored exactly as it will be executed."""

    id: str
    action: ProposalAction
    status: ProposalStatus = "open"
    created_at: datetime
    time_zone: str  # the zone `summary` is written in
    summary: str  # what will happen, for people (day, local time and zone, duration, reason; old -> new)
    event_type_id: int
    start: datetime  # UTC: the new start (book, reschedule) or the meeting's start (cancel)
    end: datetime
    duration_minutes: int
    reason: str | None = None
    booking_uid: str | None = None  # cancel / reschedule: the booking to change
    seat_uid: str | None = None  # seated bookings: the user's own seat (only it is changed)
    title: str | None = None  # cancel / reschedule: the existing meeting's title
    old_start: datetime | None = None  # reschedule: where it is now
    old_end: datetime | None = None
    attendee_name: str | None = None  # book
    attendee_email: str | None = None
    guests: list[str] = Field(default_factory=list)
    length_in_minutes: int | None = None  # book: sent only when the event type has several lengths
    warnings: list[str] = Field(default_factory=list)


class SessionState(BaseModel):
    # Names this chat to shared services (its share of the Cal.com rate budget); never shown, never sent.
    chat_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    history: list[dict[str, Any]] = Field(default_factory=list)
    pending_function: str | None = None
    pending_arguments: dict[str, Any] = Field(default_factory=dict)
    user: User = Field(default_factory=User)
    seen_booking_uids: list[str] = Field(default_factory=list)  # in a tool result of this chat
    made_booking_uids: list[str] = Field(default_factory=list)  # booked (or moved) by this chat
    proposal: Proposal | None = None
    finished_proposals: dict[str, dict[str, Any]] = Field(default_factory=dict)  # id -> outcome (confirm once)
    notices_shown: bool = False  # the first reply carries the configuration notices
    # A lookup by time that matched several meetings (or none, offering the nearest): in that same turn (the history
    # not yet grown) none of them may be proposed for a change: the user must say which one (agent/choice.py).
    choice_uids: list[str] = Field(default_factory=list)
    choice_turn: list[int] = Field(default_factory=list)  # [turns_started, len(history)] of that lookup
    turns_started: int = 0  # messages answered so far (counts on when old turns are trimmed from the history)
    # Kept by the session store (calbot/store): the saved version a save must name (optimistic concurrency), when the
    # chat was last saved (expiry), and whose chat it is (the verified email; None: anonymous, expires after
    # CALBOT_SESSION_TTL).
    version: int = Field(default=0, ge=0)
    last_activity: datetime = Field(default_factory=lambda: datetime.now(UTC))
    owner: str | None = None
    _answering: str | None = PrivateAttr(default=None)  # the message being answered (not serialised)

    # -- serialisation ---------------------------------------------------------------------------------------------
    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> SessionState:
        return cls.model_validate_json(text)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionState:
        return cls.model_validate(data)

    # -- helpers ---------------------------------------------------------------------------------------------------
    def remember_seen(self, *uids: str) -> None:
        for uid in uids:
            if uid and uid not in self.seen_booking_uids:
                self.seen_booking_uids.append(uid)
        del self.seen_booking_uids[:-MAX_REMEMBERED_UIDS]

    def remember_made(self, uid: str) -> None:
        self.remember_seen(uid)
        if uid not in self.made_booking_uids:
            self.made_booking_uids.append(uid)
        del self.made_booking_uids[:-MAX_REMEMBERED_UIDS]

    def record_outcome(self, proposal_id: str, outcome: dict[str, Any]) -> None:
        self.finished_proposals[proposal_id] = outcome
        for old in list(self.finished_proposals)[:-MAX_FINISHED_PROPOSALS]:
            del self.finished_proposals[old]

    def answering(self, text: str | None) -> None:
        """Set while a message is answered: it joins `history` only when its turn completes, yet the user typed it
        ("I'm Ana, ana@example.com, book ..." must count during that very turn)."""
        if text is not None:
            self.turns_started += 1
        self._answering = text

    def user_texts(self) -> list[str]:
        """What the user typed in this chat (the only place an identity may come from)."""
        texts = [self._answering] if self._answering else []
        for message in self.history:
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):  # multi-part content
                texts.extend(part.get("text", "") for part in content if isinstance(part, dict))
        return texts

    def user_typed(self, text: str) -> bool:
        needle = " ".join(text.lower().split())
        return bool(needle) and any(needle in " ".join(t.lower().split()) for t in self.user_texts())

    def clear_pending(self, function: str | None = None) -> None:
        if function is None or self.pending_function == function:
            self.pending_function = None
            self.pending_arguments = {}
