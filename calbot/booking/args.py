"""The tools' arguments: one pydantic model a tool, from which its JSON schema is generated (`parameters_schema`).

Every field is optional in the model (a call that lacks something becomes the session's pending function and the
executor says what is missing); `REQUIRED` lists what the tool contract requires, and that list becomes the
schema's `required`. Formats are checked here; meaning (time zones, ownership, availability) is the handlers' job.
The tools themselves (name, arguments, handler) are registered in tools.py.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from calbot.timezones import clock_instants, in_supported_range, out_of_range, parse_date
from calbot.validation import normalise_email, strip_control

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
START_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2})?$"
TIME_PATTERN = r"^\d{2}:\d{2}(Z|z|[+-]\d{2}:?\d{2})?$"
UID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"

_START_DOC = ("In the user's time zone as YYYY-MM-DDTHH:MM (for example 2026-11-24T15:00), or ISO 8601 with an "
              "explicit offset when the user gave one. Never convert it to UTC yourself.")


class ToolArgs(BaseModel):
    """Base of every tool's arguments. Unknown keys are refused so a typo is reported, not ignored."""

    model_config = ConfigDict(extra="forbid")
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    WRITES: ClassVar[bool] = False

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = strip_control(value).strip()
            return value or None
        if isinstance(value, list):  # guests
            return [strip_control(v) if isinstance(v, str) else v for v in value]
        return value

    @classmethod
    def missing(cls, arguments: dict[str, Any]) -> list[str]:
        return [name for name in cls.REQUIRED if arguments.get(name) in (None, "", [])]


def _check_date(value: str | None) -> str | None:
    if value is not None:
        parse_date(value)  # refuses 2026-02-30 and 9999-12-31 with a plain sentence
    return value


def _check_start(value: str | None) -> str | None:
    """Only the calendar range here (the zone is the executor's): 9999-12-31T23:59 is refused in words."""
    if value is not None:
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value  # an impossible date: the executor's parse_start says so
        if not in_supported_range(day):
            raise out_of_range("time", value)
    return value


def _check_clock(value: str | None) -> str | None:
    if value is not None:
        clock_instants(date(2000, 1, 1), value, "UTC")  # refuses 24:00 and 23:60 with a plain sentence
    return value


class CheckAvailabilityArgs(ToolArgs):
    """Free times on the calendar for one day or a range of days."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("date",)
    date: str | None = Field(default=None, pattern=DATE_PATTERN,
                             description="First day to check, YYYY-MM-DD in the user's time zone.")
    end_date: str | None = Field(default=None, pattern=DATE_PATTERN,
                                 description="Last day to check (included), YYYY-MM-DD. Omit for one day.")
    duration_minutes: int | None = Field(default=None, ge=5, le=24 * 60,
                                         description="Meeting length in minutes. Omit for the default length.")
    event_type_id: int | None = Field(default=None, ge=1, le=2_147_483_647,
                                      description="Only after calbot listed kinds of meeting and the user chose "
                                                  "one: its event_type_id.")

    _dates = field_validator("date", "end_date")(_check_date)


class BookMeetingArgs(ToolArgs):
    """Propose a new meeting for the user. Nothing is booked until the user presses Confirm."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("start", "reason")
    WRITES: ClassVar[bool] = True
    start: str | None = Field(default=None, pattern=START_PATTERN, description=_START_DOC)
    reason: str | None = Field(default=None, max_length=1000, description="What the meeting is about, in the "
                                                                          "user's words.")
    attendee_name: str | None = Field(default=None, max_length=200,
                                      description="The user's own name, only if they typed it and it is unknown.")
    attendee_email: str | None = Field(default=None, max_length=254,
                                       description="The user's own email, only if they typed it and it is unknown.")
    guests: list[str] | None = Field(default=None, max_length=10,
                                     description="Emails of other people to invite (never the user's own).")
    duration_minutes: int | None = Field(default=None, ge=5, le=24 * 60,
                                         description="Meeting length in minutes. Omit for the default length.")
    event_type_id: int | None = Field(default=None, ge=1, le=2_147_483_647,
                                      description="Only after calbot listed kinds of meeting and the user chose "
                                                  "one: its event_type_id.")

    _start = field_validator("start")(_check_start)

    @field_validator("attendee_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalise_email(value) if value is not None else None

    @field_validator("guests")
    @classmethod
    def _guests(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned: list[str] = []
        for item in value:
            email = normalise_email(item)
            if email.lower() not in {c.lower() for c in cleaned}:
                cleaned.append(email)
        return cleaned or None


class ListMeetingsArgs(ToolArgs):
    """The user's meetings, optionally for some days and around a time."""

    status: Literal["upcoming", "past", "cancelled"] | None = Field(
        default=None, description="upcoming (default when no dates are given), past or cancelled.")
    from_date: str | None = Field(default=None, pattern=DATE_PATTERN,
                                  description="First day, YYYY-MM-DD in the user's time zone.")
    to_date: str | None = Field(default=None, pattern=DATE_PATTERN,
                                description="Last day (included), YYYY-MM-DD. Omit for the same day as from_date.")
    at_time: str | None = Field(default=None, pattern=TIME_PATTERN,
                                description="HH:MM local time to find the meeting happening then (for example "
                                            "'my 3pm meeting'); needs from_date. On the night clocks go back, a "
                                            "time that happens twice is looked up at both; add the offset "
                                            "(02:30+01:00) to name one.")

    _dates = field_validator("from_date", "to_date")(_check_date)
    _clock = field_validator("at_time")(_check_clock)


class CancelMeetingArgs(ToolArgs):
    """Propose cancelling one of the user's meetings. Nothing changes until the user presses Confirm."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("booking_uid",)
    WRITES: ClassVar[bool] = True
    booking_uid: str | None = Field(default=None, pattern=UID_PATTERN,
                                    description="uid of the meeting, exactly as a tool result gave it.")
    reason: str | None = Field(default=None, max_length=1000, description="Why, if the user said.")


class RescheduleMeetingArgs(ToolArgs):
    """Propose moving one of the user's meetings. Nothing changes until the user presses Confirm."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("booking_uid", "new_start")
    WRITES: ClassVar[bool] = True
    booking_uid: str | None = Field(default=None, pattern=UID_PATTERN,
                                    description="uid of the meeting, exactly as a tool result gave it.")
    new_start: str | None = Field(default=None, pattern=START_PATTERN, description=_START_DOC)
    reason: str | None = Field(default=None, max_length=1000, description="Why, if the user said.")

    _start = field_validator("new_start")(_check_start)


class SetTimeZoneArgs(ToolArgs):
    """Change the user's time zone when they say they are somewhere else (for example "I'm in Berlin this week").
    Every later time is read and shown in it."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("time_zone",)
    time_zone: str | None = Field(default=None, max_length=64,
                                  description="IANA name such as Europe/Berlin or America/New_York (a city name "
                                              "such as Berlin also works).")


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def _simplify(prop: dict[str, Any], required: bool) -> dict[str, Any]:
    """`anyOf: [X, null]` -> X, keeping null allowed for optional arguments (`type: [X, "null"]`)."""
    options = prop.pop("anyOf", None)
    if options:
        real = [o for o in options if o.get("type") != "null"]
        merged = {**real[0], **prop} if len(real) == 1 else {"anyOf": real, **prop}
        prop = merged
        if not required and "type" in prop:
            prop["type"] = [prop["type"], "null"]
            if "enum" in prop:
                prop["enum"] = [*prop["enum"], None]
    prop.pop("default", None)
    return prop


def parameters_schema(model: type[ToolArgs]) -> dict[str, Any]:
    schema = _strip_titles(copy.deepcopy(model.model_json_schema()))
    properties = {name: _simplify(prop, name in model.REQUIRED) for name, prop in schema["properties"].items()}
    return {"type": "object", "properties": properties, "required": list(model.REQUIRED),
            "additionalProperties": False}


def tool_description(model: type[ToolArgs]) -> str:
    return re.sub(r"\s+", " ", model.__doc__ or "").strip()


FIELD_WORDS = {  # what a missing argument is, in words the model can ask the user with
    "start": "the day and time of the meeting",
    "new_start": "the new day and time",
    "reason": "what the meeting is about",
    "date": "which day to look at",
    "booking_uid": "which meeting (list the user's meetings to find its uid)",
    "attendee_email": "the user's email address",
    "attendee_name": "the user's name",
}

_FORMAT_HINTS = {
    "start": "use YYYY-MM-DDTHH:MM in the user's time zone, e.g. 2026-11-24T15:00",
    "new_start": "use YYYY-MM-DDTHH:MM in the user's time zone, e.g. 2026-11-24T15:00",
    "date": "use YYYY-MM-DD", "end_date": "use YYYY-MM-DD", "from_date": "use YYYY-MM-DD", "to_date": "use YYYY-MM-DD",
    "at_time": "use HH:MM (24-hour)", "booking_uid": "use the uid exactly as a tool result gave it",
}


def describe_validation(exc: ValidationError) -> str:
    """What is wrong with a call's arguments, one clause a field, for the model to correct."""
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
