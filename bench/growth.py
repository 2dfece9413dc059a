"""Prompt growth over one long chat: 50 turns mixing book (+ Confirm), list, what's free, cancel and move by time
(+ Confirm) and small talk, with real tool results from the sandbox calendar and several bookings.

The size of a turn is the `prompt_chars` of the FIRST model request of that turn, as the bench model recorded it:
len(json.dumps(messages)) + len(json.dumps(tools)), i.e. the system prompt, the history sent and the tools' JSON
schemas. The figure is size(turn 50) / size(turn 5).

At turn 50 the user refers to the meeting booked at turn 41 by its topic ("cancel the meeting you booked about X");
the bench model looks for its uid in the messages it was sent (the proposal "... about: X" and the Confirm note
"(uid ...)" after it, or a meeting with that reason in a tool result). `resolves` is true when it found the uid the
calendar gave at turn 41 and the cancel proposal for that booking shows.

The chat runs twice: as the app runs it (history bounded, when calbot has the bound: `Agent.bound_history`), and
with `bound_history = False`. Before calbot had the attribute, both runs are the current behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.brain import bench_model
from bench.flows import BenchError, warm_up
from bench.harness import FIXED_NOW, USER_ZONE, Rig, Sink

TURNS = 50
REFERENCE_TURN = 41  # the booking referred to at turn 50
TOPICS = ["the budget", "the hiring plan", "the roadmap", "the offsite", "the vendor contract", "the launch",
          "the audit", "the pricing", "the newsletter", "the security review", "the onboarding", "the Q1 goals",
          "the migration", "the customer survey", "the board deck"]


def _weekdays(first: date, count: int) -> list[date]:
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _say(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def script() -> list[tuple[str, str | None]]:
    """The 50 user messages, each with the topic of the booking it makes (None when it books nothing).
    Five rounds of ten: book A, list, what's free, book B, thanks, cancel B by time, book C, move C by time,
    list one day, small talk (the last one: cancel the round's A, booked at turn 41, by its topic)."""
    days = _weekdays(FIXED_NOW.date() + timedelta(days=1), 10)
    turns: list[tuple[str, str | None]] = []
    for k in range(TURNS // 10):
        one, two = days[2 * k], days[2 * k + 1]
        a, b, c = TOPICS[3 * k], TOPICS[3 * k + 1], TOPICS[3 * k + 2]
        turns += [
            (f"Book 30 minutes on {_say(one)} at 10:00 about {a}", a),
            ("show me my meetings", None),
            (f"what's free on {_say(two)}?", None),
            (f"Book 30 minutes on {_say(one)} at 11:00 about {b}", b),
            ("thanks, that's great", None),
            (f"cancel my meeting at 11:00 on {_say(one)}", None),
            (f"Book 30 minutes on {_say(two)} at 13:00 about {c}", c),
            (f"move my meeting at 13:00 on {_say(two)} to {_say(two)} at 15:00", None),
            (f"show me my meetings on {_say(one)}", None),
            ("which time zone am I in?", None),
        ]
    turns[TURNS - 1] = (f"cancel the meeting you booked about {turns[REFERENCE_TURN - 1][1]}", None)
    return turns


@dataclass
class GrowthRun:
    bounded: bool | None  # None: calbot has no bound_history attribute (the current behaviour ran)
    prompt_chars: list[int] = field(default_factory=list)  # per turn, first model request
    model_calls: list[int] = field(default_factory=list)  # per turn
    resolves: bool = False
    resolution: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.prompt_chars[TURNS - 1] / self.prompt_chars[4]

    def as_dict(self) -> dict[str, Any]:
        return {"bound_history": self.bounded, "ratio_50_vs_5": round(self.ratio, 3),
                "turn5_chars": self.prompt_chars[4], "turn50_chars": self.prompt_chars[TURNS - 1],
                "max_chars": max(self.prompt_chars), "prompt_chars": self.prompt_chars,
                "model_calls": sum(self.model_calls), "resolves": self.resolves, "resolution": self.resolution}


async def long_chat(bound: bool) -> GrowthRun:
    model, brain = bench_model(FIXED_NOW, USER_ZONE)
    rig = Rig.create(model)
    try:
        await warm_up(rig)
        agent = await rig.service.agent()
        has_bound = hasattr(agent, "bound_history")
        if has_bound:
            agent.bound_history = bound  # type: ignore[union-attr]
        run = GrowthRun(bound if has_bound else None)
        state = rig.service.new_state()
        expected_uid: str | None = None
        for number, (text, _topic) in enumerate(script(), start=1):
            first_request = model.calls_count
            result = await rig.service.handle_message(state, text, Sink())
            requests = model.requests[first_request:]
            if not requests:
                raise BenchError(f"long chat turn {number} ({text!r}) made no model call ({result.outcome})")
            run.prompt_chars.append(requests[0].prompt_chars)
            run.model_calls.append(len(requests))
            if number == TURNS:
                resolution = brain.resolutions[-1] if brain.resolutions else None
                sent = "".join(str(m.get("content") or "") for m in requests[0].messages)
                run.resolution = {"expected_uid": expected_uid, "found_uid": resolution and resolution.uid,
                                  "found_in": resolution and resolution.where,
                                  "uid_in_messages": bool(expected_uid) and expected_uid in sent,
                                  "outcome": result.outcome}
                run.resolves = bool(resolution and expected_uid and resolution.uid == expected_uid
                                    and result.proposal is not None
                                    and result.proposal.booking_uid == expected_uid)
            if result.proposal is not None:
                outcome = await rig.service.confirm(state, result.proposal.id)
                if not outcome.get("ok"):
                    raise BenchError(f"long chat turn {number} ({text!r}): Confirm answered {outcome}")
                if number == REFERENCE_TURN:
                    expected_uid = outcome["booking"]["uid"]
            elif text.lower().startswith(("book", "cancel my", "move")):
                raise BenchError(f"long chat turn {number} ({text!r}) ended in {result.outcome!r}, not a proposal: "
                                 f"{requests[-1].last_tool_result}")
        if model.errors:
            raise BenchError(f"the bench model's rules raised: {model.errors!r}")
        return run
    finally:
        await rig.aclose()


def plot(runs: list[GrowthRun], path: Path) -> Path:
    """Prompt characters per turn, one line per run, to `path` (PNG, matplotlib's Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    for run in runs:
        label = {True: "with the history bound", False: "without the bound",
                 None: "current (calbot has no bound yet)"}[run.bounded]
        turns = list(range(1, len(run.prompt_chars) + 1))
        axes.plot(turns, run.prompt_chars, marker="o", markersize=3, label=f"{label} (50/5 = {run.ratio:.2f}x)")
    axes.axvline(5, color="grey", linewidth=0.6, linestyle=":")
    axes.axvline(TURNS, color="grey", linewidth=0.6, linestyle=":")
    axes.set_xlabel("turn (user message) of one chat")
    axes.set_ylabel("prompt characters (messages + tools JSON)")
    axes.set_title("calbot: prompt size of the first model request of each turn")
    axes.set_xlim(0, TURNS + 1)
    axes.set_ylim(bottom=0)
    axes.grid(True, linewidth=0.3)
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


async def run_growth() -> tuple[GrowthRun, GrowthRun | None]:
    """(as the app runs, without the bound); the second is None when calbot has no bound to turn off."""
    bounded = await long_chat(True)
    if bounded.bounded is None:
        return bounded, None
    return bounded, await long_chat(False)
