"""calbot.booking.results: the Status enum compares equal to the strings outcomes always carried, and outcome dicts
hold plain strings (what the model, the page, the store and a shell's print see is unchanged)."""

from __future__ import annotations

import json

from calbot.booking.results import Status, fail, told


def test_a_status_is_its_string() -> None:
    assert Status.BOOKED == "booked" and "awaiting_confirmation" == Status.AWAITING_CONFIRMATION
    assert {Status.NOT_ALLOWED: 1}["not_allowed"] == 1
    assert len({s.value for s in Status}) == len(Status)


def test_outcomes_carry_plain_strings() -> None:
    for outcome in (fail(Status.NOT_ALLOWED, "No."), told(True, Status.DISCARDED, "Discarded.")):
        assert type(outcome["status"]) is str
        assert repr(outcome["status"]) in (repr("not_allowed"), repr("discarded"))
    assert json.dumps(fail(Status.INVALID_TIME, "x")) == '{"ok": false, "status": "invalid_time", "error": "x"}'
