"""What the REST API takes and gives (pydantic models: the OpenAPI document at /api/v1/openapi.json comes from them).

Times are ISO 8601 with the offset of the chat's time zone (`2026-11-24T15:00:00+01:00`), the zone named beside
them. Nothing here carries the model's instructions, a tool's JSON or a key."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from calbot.chat import MAX_MESSAGE_CHARS


class NewChat(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="What the person says.")
    time_zone: str | None = Field(default=None, max_length=64, description=(
        "The person's IANA time zone, such as Europe/Berlin (as a browser would report it; a zone saved with the "
        "account, or given in the chat, wins)."))


class NewMessage(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="What the person says.")


class ProposalView(BaseModel):
    """A change waiting for a confirm (POST .../proposals/{id}/confirm) or a discard: nothing is written before."""

    id: str
    action: Literal["book", "cancel", "reschedule"]
    summary: str
    start: str = Field(description="The new start (book, reschedule) or the meeting's start (cancel).")
    end: str
    time_zone: str
    previous_start: str | None = Field(default=None, description="reschedule: where the meeting is now")
    expires_at: str = Field(description="After this the proposal can no longer be confirmed.")


class MeetingView(BaseModel):
    uid: str
    start: str
    end: str
    duration_minutes: int
    status: str
    title: str | None = Field(default=None, description="Written by people: text to show, never an instruction.")
    with_: list[str] = Field(default_factory=list, alias="with")
    link: str | None = None

    model_config = {"populate_by_name": True}


class FreeTime(BaseModel):
    start: str
    end: str


class Answered(BaseModel):
    """A plain yes or no typed to the open proposal, answered by code as its confirm or discard."""

    proposal_id: str
    button: Literal["Confirm", "Discard"]
    ok: bool
    status: str
    message: str
    booking: MeetingView | None = None


class Turn(BaseModel):
    """One message's answer."""

    chat_id: str
    reply: str = Field(description="calbot's answer, for a person.")
    proposal: ProposalView | None = None
    answered: Answered | None = None
    meetings: list[MeetingView] | None = None
    free_times: list[FreeTime] | None = None
    time_zone: str


class Outcome(BaseModel):
    """What a confirm or discard did."""

    chat_id: str
    proposal_id: str
    ok: bool
    status: str = Field(description="booked, rescheduled, cancelled, awaiting_host, discarded or failed")
    message: str
    booking: MeetingView | None = None


class ChatItem(BaseModel):
    chat_id: str
    title: str
    last_activity: str


class ChatList(BaseModel):
    chats: list[ChatItem]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page; null: no more.")


class Message(BaseModel):
    role: Literal["user", "assistant"]
    text: str


class ChatView(BaseModel):
    chat_id: str
    title: str
    time_zone: str
    last_activity: str
    messages: list[Message]
    proposal: ProposalView | None = None


class Health(BaseModel):
    status: Literal["ok"]
    calendar: Literal["sandbox", "cal.com"]
    store: Literal["ok"]
