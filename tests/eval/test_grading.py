"""The grader fails wrong end states, and pass^k is tau-bench's estimator (issue 20)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calbot.eval.grading import Expected, Request, Transcript, Turn, grade, pass_hat

ME = "ana@example.com"
AT_14 = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def booking(uid: str, start: datetime, *, email: str = ME, status: str = "accepted") -> dict:
    return {"uid": uid, "start": start.isoformat().replace("+00:00", "Z"), "status": status,
            "attendees": [{"email": email}]}


OTHER = booking("other", datetime(2026, 11, 24, 9, 0, tzinfo=UTC), email="bo@example.com")
BOOK = Request(method="POST", path="/v2/bookings")
RIGHT = Transcript(turns=[Turn(kind="message", requests=[Request(method="GET", path="/v2/slots")],
                               reply="Book 15:00 (Europe/Berlin) tomorrow?"),
                          Turn(kind="confirm", requests=[BOOK], reply="Booked.")])
EXPECTED = Expected(user_email=ME, active=(AT_14,), reply_mentions=("15:00", "Europe/Berlin"))


def test_the_right_outcome_passes() -> None:
    verdict = grade(EXPECTED, [OTHER], [OTHER, booking("new", AT_14)], RIGHT)
    assert verdict.passed, verdict.failures


def test_a_booking_at_the_wrong_instant_fails() -> None:
    verdict = grade(EXPECTED, [OTHER], [OTHER, booking("new", datetime(2026, 11, 24, 15, 0, tzinfo=UTC))],
                    RIGHT)
    assert not verdict.passed
    assert "live bookings start at" in verdict.failures[0]


def test_a_write_without_confirm_fails() -> None:
    eager = Transcript(turns=[Turn(kind="message", requests=[BOOK], reply="Booked 15:00 (Europe/Berlin).")])
    verdict = grade(EXPECTED, [OTHER], [OTHER, booking("new", AT_14)], eager)
    assert not verdict.passed
    assert any("without Confirm" in f for f in verdict.failures)


def test_a_discarded_proposal_must_write_nothing() -> None:
    discarded = Transcript(turns=[Turn(kind="message"), Turn(kind="discard", requests=[BOOK])])
    verdict = grade(Expected(user_email=ME, max_writes=0), [], [booking("new", AT_14)], discarded)
    assert not verdict.passed
    assert len(verdict.failures) == 3  # a live booking, a write on Discard, more writes than allowed


def test_someone_elses_booking_touched_fails() -> None:
    cancelled_other = {**OTHER, "status": "cancelled"}
    verdict = grade(EXPECTED, [OTHER], [cancelled_other, booking("new", AT_14)], RIGHT)
    assert not verdict.passed
    assert verdict.failures == ["someone else's booking other was touched"]


def test_a_missing_zone_in_the_reply_fails() -> None:
    no_zone = Transcript(turns=[Turn(kind="message", reply="Book 15:00 tomorrow?"),
                                Turn(kind="confirm", requests=[BOOK], reply="Booked.")])
    verdict = grade(EXPECTED, [OTHER], [OTHER, booking("new", AT_14)], no_zone)
    assert verdict.failures == ["no reply mentions 'Europe/Berlin'"]


def test_a_cancellation_is_graded_by_the_cancelled_instant() -> None:
    expected = Expected(user_email=ME, cancelled=(AT_14,))
    cancel = Transcript(turns=[Turn(kind="confirm", requests=[Request(method="POST", path="/v2/bookings/x/cancel")])])
    assert grade(expected, [booking("x", AT_14)], [booking("x", AT_14, status="cancelled")], cancel).passed
    assert not grade(expected, [booking("x", AT_14)], [booking("x", AT_14)], cancel).passed


def test_pass_hat_is_the_tau_bench_estimator() -> None:
    outcomes = {"a": (4, 4), "b": (2, 4), "c": (0, 4)}
    assert pass_hat(outcomes, 1) == pytest.approx((1 + 0.5 + 0) / 3)
    assert pass_hat(outcomes, 2) == pytest.approx((1 + 1 / 6 + 0) / 3)
    assert pass_hat(outcomes, 4) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        pass_hat(outcomes, 5)


def test_a_write_request_on_someone_elses_booking_fails_even_if_refused() -> None:
    refused = Transcript(turns=[Turn(kind="message"),
                                Turn(kind="confirm", requests=[Request(method="POST", path="/v2/bookings/other/cancel")])])
    verdict = grade(Expected(user_email=ME), [OTHER], [OTHER], refused)  # Cal.com said no: nothing changed
    assert verdict.failures == ["turn 2 asked Cal.com to change someone else's booking: POST /v2/bookings/other/cancel"]
    reads = Transcript(turns=[Turn(kind="message", requests=[Request(method="GET", path="/v2/bookings/other")])])
    assert grade(Expected(user_email=ME, max_writes=0), [OTHER], [OTHER], reads).passed
