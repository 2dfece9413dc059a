"""The four tasks of the targets table, each as a user does it: all details in one message, then Confirm.

Every flow runs through calbot.chat.ChatService (the app's front door) on the bench model (in process) and the
sandbox calendar (in process, recording every request). Model calls are the requests the bench model received;
Cal.com calls are the requests the sandbox received, less the start-up look-ups (GET /v2/me, GET /v2/event-types),
which happen once when the calendar connects (a warm-up message here) and are cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bench.brain import bench_model
from bench.harness import FIXED_NOW, USER_ZONE, Rig, Sink, calcom_calls


class BenchError(RuntimeError):
    """A flow did not complete as a user would see it (no proposal, Confirm failed): the bench itself failed."""


@dataclass
class FlowResult:
    name: str
    model_calls_until_proposal: int
    model_calls_after_confirm: int
    calcom: list[str]  # "METHOD /path" for the whole task, Confirm included
    calcom_until_proposal: list[str]
    outcome: str
    confirm_status: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"model_calls_until_proposal": self.model_calls_until_proposal,
                "model_calls_after_confirm": self.model_calls_after_confirm,
                "calcom_calls": len(self.calcom), "calcom_requests": self.calcom,
                "calcom_requests_until_proposal": self.calcom_until_proposal,
                "outcome": self.outcome, "confirm_status": self.confirm_status, **self.details}


BOOK_TEXT = "Book 30 minutes tomorrow at 15:00 about the budget, I'm Ana Diaz ana@example.com"


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in November 2026 given as Berlin wall time."""
    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo(USER_ZONE))


async def run_task(rig: Rig, state: Any, name: str, text: str, *, confirm: bool = True,
                   expect: str = "proposal", strict: bool = True) -> FlowResult:
    """One user message, then (if it ends in a proposal) Confirm; counts what the model and Cal.com received.
    Not `strict`: a message that does not end as expected is reported (outcome, error), not raised."""
    model_mark, cal_mark = rig.model.calls_count, rig.sandbox.recorder.mark()
    sink = Sink()
    result = await rig.service.handle_message(state, text, sink)
    model_until = rig.model.calls_count - model_mark
    cal_until = calcom_calls(rig.sandbox.recorder.since(cal_mark))
    if result.outcome != expect and not strict:
        last = rig.model.requests[-1]
        return FlowResult(name, model_until, 0, [e.label for e in cal_until], [e.label for e in cal_until],
                          result.outcome, None, {"tools_called": result.tools_called,
                                                 "last_tool_result": last.last_tool_result})
    if result.outcome != expect:
        raise BenchError(f"{name}: the message ended in {result.outcome!r} ({result.error or ''}), expected "
                         f"{expect!r}; tools called: {result.tools_called}")
    confirm_status = None
    model_after = 0
    if confirm and result.proposal is not None:
        before = rig.model.calls_count
        outcome = await rig.service.confirm(state, result.proposal.id)
        model_after = rig.model.calls_count - before
        confirm_status = outcome.get("status")
        if not outcome.get("ok"):
            raise BenchError(f"{name}: Confirm answered {outcome}")
    every = calcom_calls(rig.sandbox.recorder.since(cal_mark))
    return FlowResult(name, model_until, model_after, [e.label for e in every], [e.label for e in cal_until],
                      result.outcome, confirm_status, {"tools_called": result.tools_called})


async def warm_up(rig: Rig) -> None:
    """Open the calendar connection (the start-up look-ups) with a message that needs no calendar."""
    state = rig.service.new_state()
    result = await rig.service.handle_message(state, "hello", Sink())
    if result.outcome != "answered":
        raise BenchError(f"warm-up message ended in {result.outcome!r}: {result.error}")


async def run_flows() -> dict[str, FlowResult]:
    """book (a user who types name and email), list, cancel by time, reschedule by time (a verified user)."""
    model, _ = bench_model(FIXED_NOW, USER_ZONE)
    rig = Rig.create(model)
    try:
        await warm_up(rig)
        results: dict[str, FlowResult] = {}

        # 1. book: the user (CAL_USER_EMAIL, verified) gives every detail in one message.
        results["book"] = await run_task(rig, rig.service.new_state(), "book", BOOK_TEXT)
        # 1b. the same message from a user calbot does not know yet (no CAL_USER_EMAIL): the name and email typed
        # here are the user's identity. Reported, not required to end in a proposal.
        state = rig.service.new_state()
        state.user.email, state.user.name, state.user.email_verified = None, None, False
        results["book_typed_identity"] = await run_task(rig, state, "book_typed_identity",
                                                        BOOK_TEXT.replace("15:00", "16:00"), strict=False)

        # 2. list: a verified user (CAL_USER_EMAIL) with a few meetings.
        rig.seed(berlin(25, 15), "Quarterly planning")
        rig.seed(berlin(26, 15), "Design review")
        rig.seed(berlin(27, 11), "Hiring sync")
        results["list"] = await run_task(rig, rig.service.new_state(), "list", "show me my meetings",
                                         confirm=False, expect="answered")

        # 3. cancel by time: list_meetings(from_date, at_time), then cancel_meeting with the uid it returned.
        results["cancel_by_time"] = await run_task(rig, rig.service.new_state(), "cancel_by_time",
                                                   "cancel my meeting at 3pm on Wednesday 25 November")

        # 4. reschedule by time: the same, then reschedule_meeting to a free hour.
        results["reschedule_by_time"] = await run_task(
            rig, rig.service.new_state(), "reschedule_by_time",
            "move my meeting at 3pm on Thursday 26 November to Friday 27 November at 16:00")
        if model.errors:
            raise BenchError(f"the bench model's rules raised: {model.errors!r}")
        return results
    finally:
        await rig.aclose()
