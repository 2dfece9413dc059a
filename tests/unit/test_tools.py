"""Pure unit tests for calbot.booking.tools and args.py: the generated JSON schemas and the pydantic argument models."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from calbot.booking.args import (
    BookMeetingArgs,
    CancelMeetingArgs,
    CheckAvailabilityArgs,
    ListMeetingsArgs,
    RescheduleMeetingArgs,
    parameters_schema,
)
from calbot.booking.tools import TOOL_ARGS, WRITE_TOOLS, tool_schemas

NAMES = ["check_availability", "book_meeting", "list_meetings", "cancel_meeting", "reschedule_meeting",
         "set_time_zone"]

REQUIRED = {
    "check_availability": ["date"],
    "book_meeting": ["start", "reason"],
    "list_meetings": [],
    "cancel_meeting": ["booking_uid"],
    "reschedule_meeting": ["booking_uid", "new_start"],
    "set_time_zone": ["time_zone"],
}

PROPERTIES = {
    "check_availability": {"date", "end_date", "duration_minutes"},
    "book_meeting": {"start", "reason", "attendee_name", "attendee_email", "guests", "duration_minutes"},
    "list_meetings": {"status", "from_date", "to_date"},
    "cancel_meeting": {"booking_uid", "reason"},
    "reschedule_meeting": {"booking_uid", "new_start", "reason"},
    "set_time_zone": {"time_zone"},
}


def schemas_by_name() -> dict[str, dict[str, Any]]:
    return {tool["function"]["name"]: tool for tool in tool_schemas()}


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schemas_by_name()[name]["function"]["parameters"])


def walk_keys(node: Any) -> list[str]:
    keys: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            keys.append(key)
            keys.extend(walk_keys(value))
    elif isinstance(node, list):
        for value in node:
            keys.extend(walk_keys(value))
    return keys


# -- the tool list -------------------------------------------------------------------------------------------------

def test_exactly_the_six_tools_in_order() -> None:
    tools = tool_schemas()
    assert [t["function"]["name"] for t in tools] == NAMES
    assert list(TOOL_ARGS) == NAMES
    for tool in tools:
        assert tool["type"] == "function"
        assert set(tool) == {"type", "function"}
        assert set(tool["function"]) == {"name", "description", "parameters"}


@pytest.mark.parametrize("name", NAMES)
def test_required_matches_the_contract(name: str) -> None:
    parameters = schemas_by_name()[name]["function"]["parameters"]
    assert parameters["required"] == REQUIRED[name]
    assert list(TOOL_ARGS[name].REQUIRED) == REQUIRED[name]


@pytest.mark.parametrize("name", NAMES)
def test_properties_cover_the_contract(name: str) -> None:
    parameters = schemas_by_name()[name]["function"]["parameters"]
    assert parameters["type"] == "object"
    assert parameters["additionalProperties"] is False
    assert PROPERTIES[name] <= set(parameters["properties"])
    assert set(parameters["required"]) <= set(parameters["properties"])


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_json_schema(name: str) -> None:
    Draft202012Validator.check_schema(schemas_by_name()[name]["function"]["parameters"])


def test_schemas_are_json_serialisable_and_stable() -> None:
    text = json.dumps(tool_schemas())
    assert json.loads(text) == tool_schemas()
    assert json.dumps(tool_schemas(), sort_keys=True) == json.dumps(tool_schemas(), sort_keys=True)


def test_no_title_keys_anywhere() -> None:
    assert "title" not in walk_keys(tool_schemas())


def test_no_defs_refs_or_defaults() -> None:
    keys = set(walk_keys(tool_schemas()))
    assert "$ref" not in keys
    assert "$defs" not in keys
    assert "default" not in keys


@pytest.mark.parametrize("name", NAMES)
def test_every_tool_and_property_is_described(name: str) -> None:
    function = schemas_by_name()[name]["function"]
    assert function["description"].strip()
    assert "\n" not in function["description"]
    for prop_name, prop in function["parameters"]["properties"].items():
        assert prop.get("description", "").strip(), prop_name


def test_book_meeting_description_says_nothing_is_booked_until_confirm() -> None:
    assert "Confirm" in schemas_by_name()["book_meeting"]["function"]["description"]


def test_required_properties_are_not_nullable_and_optional_ones_are() -> None:
    props = schemas_by_name()["book_meeting"]["function"]["parameters"]["properties"]
    assert props["start"]["type"] == "string"
    assert props["reason"]["type"] == "string"
    assert props["attendee_email"]["type"] == ["string", "null"]
    assert props["guests"]["type"] == ["array", "null"]
    assert props["guests"]["items"] == {"type": "string"}
    assert props["duration_minutes"]["type"] == ["integer", "null"]
    status = schemas_by_name()["list_meetings"]["function"]["parameters"]["properties"]["status"]
    assert status["enum"] == ["upcoming", "past", "cancelled", None]


def test_write_tools() -> None:
    assert WRITE_TOOLS == frozenset({"book_meeting", "cancel_meeting", "reschedule_meeting"})


def test_parameters_schema_does_not_mutate_model_schema() -> None:
    before = json.dumps(BookMeetingArgs.model_json_schema(), sort_keys=True)
    parameters_schema(BookMeetingArgs)
    parameters_schema(BookMeetingArgs)
    assert json.dumps(BookMeetingArgs.model_json_schema(), sort_keys=True) == before


# -- contract-shaped arguments against the schema ------------------------------------------------------------------

GOOD = [
    ("check_availability", {"date": "2026-11-24"}),
    ("check_availability", {"date": "2026-11-24", "end_date": "2026-11-30"}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": 30}),
    ("check_availability", {"date": "2026-11-24", "end_date": None, "duration_minutes": None}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": 5}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": 1440}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro"}),
    ("book_meeting", {"start": "2026-11-24T15:00:00Z", "reason": "x", "guests": ["a@b.co"]}),
    ("book_meeting", {"start": "2026-11-24T15:00+01:00", "reason": "Intro"}),
    ("book_meeting", {"start": "2026-11-24T15:00:00.000-05:00", "reason": "Intro"}),
    ("book_meeting", {"start": "2026-11-24T15:00+0530", "reason": "Intro"}),
    ("book_meeting", {"start": "2026-11-24 15:00", "reason": "Intro"}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro", "attendee_name": "Ana Diaz",
                      "attendee_email": "ana@example.com", "guests": ["bob@example.com", "cy@example.org"],
                      "duration_minutes": 45}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro", "attendee_name": None,
                      "attendee_email": None, "guests": None, "duration_minutes": None}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro", "guests": []}),
    ("list_meetings", {}),
    ("list_meetings", {"status": "cancelled"}),
    ("list_meetings", {"status": "upcoming"}),
    ("list_meetings", {"status": "past"}),
    ("list_meetings", {"status": None}),
    ("list_meetings", {"from_date": "2026-11-24", "to_date": "2026-11-25"}),
    ("list_meetings", {"from_date": "2026-11-24", "at_time": "15:00"}),
    ("cancel_meeting", {"booking_uid": "abc123"}),
    ("cancel_meeting", {"booking_uid": "abc_123-XYZ", "reason": "Sick"}),
    ("cancel_meeting", {"booking_uid": "a" * 128, "reason": None}),
    ("reschedule_meeting", {"booking_uid": "abc123", "new_start": "2026-11-25T10:00"}),
    ("reschedule_meeting", {"booking_uid": "abc123", "new_start": "2026-11-25T10:00:00Z", "reason": "Clash"}),
    ("reschedule_meeting", {"booking_uid": "abc123", "new_start": "2026-11-25T10:00-04:00", "reason": None}),
]

BAD = [
    ("check_availability", {}),                                                  # missing required
    ("check_availability", {"date": None}),                                      # required is not nullable
    ("check_availability", {"date": "24/11/2026"}),                              # bad date pattern
    ("check_availability", {"date": "2026-11-24T10:00"}),
    ("check_availability", {"date": "2026-11-24", "end_date": "next week"}),
    ("check_availability", {"date": "2026-11-24", "foo": 1}),                    # unknown key
    ("check_availability", {"date": 20261124}),                                  # wrong type
    ("check_availability", {"date": "2026-11-24", "duration_minutes": "30"}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": 30.5}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": 4}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": 1441}),
    ("book_meeting", {"start": "2026-11-24T15:00"}),                              # no reason
    ("book_meeting", {"reason": "Intro"}),                                        # no start
    ("book_meeting", {"start": "tomorrow at 3pm", "reason": "Intro"}),
    ("book_meeting", {"start": "2026-11-24", "reason": "Intro"}),
    ("book_meeting", {"start": "2026-11-24T15:00 CET", "reason": "Intro"}),
    ("book_meeting", {"start": 1764000000, "reason": "Intro"}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro", "guests": "a@b.co"}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro", "guests": [1]}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro",
                      "guests": [f"g{i}@example.com" for i in range(11)]}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "x" * 1001}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro", "attendee": {"name": "Ana"}}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro", "end": "2026-11-24T15:30"}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": None}),
    ("list_meetings", {"status": "done"}),
    ("list_meetings", {"status": "upcoming,past"}),
    ("list_meetings", {"status": "Upcoming"}),
    ("list_meetings", {"status": ["upcoming"]}),
    ("list_meetings", {"from_date": "2026-11"}),
    ("list_meetings", {"at_time": "3pm"}),
    ("list_meetings", {"limit": 5}),
    ("cancel_meeting", {}),
    ("cancel_meeting", {"booking_uid": None}),
    ("cancel_meeting", {"booking_uid": "abc 123"}),
    ("cancel_meeting", {"booking_uid": "../bookings"}),
    ("cancel_meeting", {"booking_uid": ""}),
    ("cancel_meeting", {"booking_uid": 123}),
    ("cancel_meeting", {"booking_uid": "a" * 129}),
    ("cancel_meeting", {"booking_uid": "abc123", "uid": "abc123"}),
    ("reschedule_meeting", {"booking_uid": "abc123"}),
    ("reschedule_meeting", {"new_start": "2026-11-25T10:00"}),
    ("reschedule_meeting", {"booking_uid": "abc123", "new_start": "2026-11-25"}),
    ("reschedule_meeting", {"booking_uid": "abc123", "new_start": "2026-11-25T10:00", "start": "2026-11-25T10:00"}),
]


@pytest.mark.parametrize(("name", "arguments"), GOOD)
def test_contract_arguments_pass_the_schema(name: str, arguments: dict[str, Any]) -> None:
    errors = list(validator(name).iter_errors(arguments))
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize(("name", "arguments"), GOOD)
def test_contract_arguments_pass_the_model(name: str, arguments: dict[str, Any]) -> None:
    TOOL_ARGS[name].model_validate(arguments)


@pytest.mark.parametrize(("name", "arguments"), BAD)
def test_bad_arguments_fail_the_schema(name: str, arguments: dict[str, Any]) -> None:
    assert not validator(name).is_valid(arguments)


# The model leaves required fields optional (a partial call becomes a pending function), but it refuses these.
MODEL_BAD = [
    ("check_availability", {"date": "24/11/2026"}),
    ("check_availability", {"date": "2026-11-24", "foo": 1}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": 4}),
    ("check_availability", {"date": "2026-11-24", "duration_minutes": 30.5}),
    ("book_meeting", {"start": "tomorrow at 3pm", "reason": "Intro"}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro", "guests": "a@b.co"}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro",
                      "guests": [f"g{i}@example.com" for i in range(11)]}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "x" * 1001}),
    ("book_meeting", {"start": "2026-11-24T15:00", "reason": "Intro", "attendee": {"name": "Ana"}}),
    ("list_meetings", {"status": "done"}),
    ("list_meetings", {"at_time": "3pm"}),
    ("list_meetings", {"limit": 5}),
    ("cancel_meeting", {"booking_uid": "abc 123"}),
    ("cancel_meeting", {"booking_uid": "../bookings"}),
    ("cancel_meeting", {"booking_uid": "a" * 129}),
    ("reschedule_meeting", {"booking_uid": "abc123", "new_start": "2026-11-25"}),
]


@pytest.mark.parametrize(("name", "arguments"), MODEL_BAD)
def test_bad_arguments_fail_the_model(name: str, arguments: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TOOL_ARGS[name].model_validate(arguments)


# -- the pydantic models -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "field"), [(CheckAvailabilityArgs, "date"), (CheckAvailabilityArgs, "end_date"),
                                              (ListMeetingsArgs, "from_date"), (ListMeetingsArgs, "to_date")])
def test_impossible_date_refused_with_plain_message(model: type, field: str) -> None:
    arguments = {"date": "2026-11-24", field: "2026-02-30"} if model is CheckAvailabilityArgs else {field: "2026-02-30"}
    with pytest.raises(ValidationError) as info:
        model.model_validate(arguments)
    errors = info.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == (field,)
    assert "The date '2026-02-30' does not exist in the calendar." in errors[0]["msg"]


@pytest.mark.parametrize("value", ["not-an-email", "ana@", "@example.com", "ana example.com", "ana@@example.com"])
def test_invalid_attendee_email_refused(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        BookMeetingArgs.model_validate({"start": "2026-11-24T15:00", "reason": "Intro", "attendee_email": value})
    errors = info.value.errors()
    assert [e["loc"] for e in errors] == [("attendee_email",)]
    assert "not a valid email address" in errors[0]["msg"]


@pytest.mark.parametrize("guests", [["ok@example.com", "not-an-email"], ["nope"], ["ok@example.com", "a@"]])
def test_invalid_guest_email_refused(guests: list[str]) -> None:
    with pytest.raises(ValidationError) as info:
        BookMeetingArgs.model_validate({"start": "2026-11-24T15:00", "reason": "Intro", "guests": guests})
    assert [e["loc"][0] for e in info.value.errors()] == ["guests"]


def test_attendee_email_is_normalised() -> None:
    args = BookMeetingArgs.model_validate({"start": "2026-11-24T15:00", "reason": "Intro",
                                           "attendee_email": "  Ana@Example.COM "})
    assert args.attendee_email == "Ana@example.com"


def test_guests_deduplicated_case_insensitively_keeping_order() -> None:
    args = BookMeetingArgs.model_validate({
        "start": "2026-11-24T15:00", "reason": "Intro",
        "guests": ["Bob@Example.com", "cy@example.org", "bob@example.COM", "BOB@EXAMPLE.COM", "cy@Example.org"],
    })
    assert args.guests == ["Bob@example.com", "cy@example.org"]


def test_empty_guest_list_becomes_none() -> None:
    args = BookMeetingArgs.model_validate({"start": "2026-11-24T15:00", "reason": "Intro", "guests": []})
    assert args.guests is None


def test_blank_strings_become_none() -> None:
    args = BookMeetingArgs.model_validate({"start": "   ", "reason": "", "attendee_name": " \t",
                                           "attendee_email": "  "})
    assert args.start is None
    assert args.reason is None
    assert args.attendee_name is None
    assert args.attendee_email is None
    assert BookMeetingArgs.missing(args.model_dump()) == ["start", "reason"]


def test_strings_are_trimmed() -> None:
    args = CancelMeetingArgs.model_validate({"booking_uid": "  abc123 ", "reason": "  Sick  "})
    assert args.booking_uid == "abc123"
    assert args.reason == "Sick"


def test_blank_status_becomes_none() -> None:
    assert ListMeetingsArgs.model_validate({"status": "  "}).status is None


def test_blank_date_becomes_none_rather_than_failing_the_pattern() -> None:
    args = CheckAvailabilityArgs.model_validate({"date": ""})
    assert args.date is None
    assert CheckAvailabilityArgs.missing(args.model_dump()) == ["date"]


@pytest.mark.parametrize(("model", "arguments", "expected"), [
    (CheckAvailabilityArgs, {}, ["date"]),
    (CheckAvailabilityArgs, {"date": "2026-11-24"}, []),
    (CheckAvailabilityArgs, {"end_date": "2026-11-24"}, ["date"]),
    (BookMeetingArgs, {}, ["start", "reason"]),
    (BookMeetingArgs, {"start": "2026-11-24T15:00"}, ["reason"]),
    (BookMeetingArgs, {"reason": "Intro"}, ["start"]),
    (BookMeetingArgs, {"start": "2026-11-24T15:00", "reason": "Intro"}, []),
    (BookMeetingArgs, {"start": None, "reason": ""}, ["start", "reason"]),
    (ListMeetingsArgs, {}, []),
    (CancelMeetingArgs, {}, ["booking_uid"]),
    (CancelMeetingArgs, {"reason": "Sick"}, ["booking_uid"]),
    (CancelMeetingArgs, {"booking_uid": "abc"}, []),
    (RescheduleMeetingArgs, {}, ["booking_uid", "new_start"]),
    (RescheduleMeetingArgs, {"booking_uid": "abc", "new_start": ""}, ["new_start"]),
    (RescheduleMeetingArgs, {"new_start": "2026-11-25T10:00"}, ["booking_uid"]),
])
def test_missing_lists_absent_required_fields(model: type, arguments: dict[str, Any], expected: list[str]) -> None:
    assert model.missing(arguments) == expected
    # The same answer after validation (what the executor does).
    assert model.missing(model.model_validate(arguments).model_dump(exclude_none=True)) == expected


def test_partial_calls_validate() -> None:
    # Every field is optional in the model; the executor asks for what is missing.
    assert BookMeetingArgs.model_validate({}).model_dump(exclude_none=True) == {}
    assert RescheduleMeetingArgs.model_validate({"booking_uid": "abc"}).booking_uid == "abc"


def test_start_keeps_the_users_wall_time() -> None:
    # Conversion is the executor's job: the model keeps what was typed.
    args = BookMeetingArgs.model_validate({"start": "2026-11-24T15:00", "reason": "Intro"})
    assert args.start == "2026-11-24T15:00"
    args = RescheduleMeetingArgs.model_validate({"booking_uid": "abc", "new_start": "2026-11-25T10:00+01:00"})
    assert args.new_start == "2026-11-25T10:00+01:00"


def test_unknown_key_is_named_in_the_error() -> None:
    with pytest.raises(ValidationError) as info:
        ListMeetingsArgs.model_validate({"statuss": "past"})
    assert [e["loc"] for e in info.value.errors()] == [("statuss",)]
    assert info.value.errors()[0]["type"] == "extra_forbidden"


# -- issue 15, finding 8: every argument is range-checked into a sentence ------------------------------------------

DATE_FIELDS = [(CheckAvailabilityArgs, "date"), (CheckAvailabilityArgs, "end_date"), (ListMeetingsArgs, "from_date"),
               (ListMeetingsArgs, "to_date")]
START_FIELDS = [(BookMeetingArgs, "start"), (RescheduleMeetingArgs, "new_start")]


@pytest.mark.parametrize(("model", "field"), DATE_FIELDS)
@pytest.mark.parametrize("value", ["0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31"])
def test_dates_outside_the_supported_range_are_refused_in_words(model: type, field: str, value: str) -> None:
    arguments = {"date": "2026-11-24", field: value} if model is CheckAvailabilityArgs else {field: value}
    with pytest.raises(ValidationError) as info:
        model.model_validate(arguments)
    [error] = info.value.errors()
    assert error["loc"] == (field,)
    assert f"The date {value!r} is outside the dates calbot works with (1900-01-01 to 2999-12-31)." in error["msg"]


@pytest.mark.parametrize(("model", "field"), START_FIELDS)
@pytest.mark.parametrize("value", ["9999-12-31T23:59", "0001-01-01T00:00+14:00", "3000-01-01T00:00Z",
                                   "1899-12-31T12:00"])
def test_starts_outside_the_supported_range_are_refused_in_words(model: type, field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate({field: value})
    [error] = info.value.errors()
    assert error["loc"] == (field,)
    assert "is outside the dates calbot works with (1900-01-01 to 2999-12-31)" in error["msg"]


@pytest.mark.parametrize("value", ["24:00", "23:60", "99:99", "25:30+01:00"])
def test_at_time_must_be_a_time_of_day(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        ListMeetingsArgs.model_validate({"from_date": "2026-11-24", "at_time": value})
    [error] = info.value.errors()
    assert error["loc"] == ("at_time",)
    assert "is not a time of day" in error["msg"]


# -- issue 15, finding 9: a clock time that happens twice can be named with its own arguments -----------------------

@pytest.mark.parametrize("value", ["02:30+01:00", "02:30+0200", "02:30-05:00", "15:00Z"])
def test_at_time_takes_an_offset(value: str) -> None:
    assert ListMeetingsArgs.model_validate({"from_date": "2026-10-25", "at_time": value}).at_time == value
    assert validator("list_meetings").is_valid({"from_date": "2026-10-25", "at_time": value})
