"""Grading by outcome, not wording (issue 20), and the pass^k estimator of tau-bench.

A dialogue's record is a `Transcript`: for each turn, whether it was a typed message or a button press (Confirm or
Discard), the Cal.com requests made during it, and calbot's reply. `grade` compares the final calendar (the bookings
as the sandbox outputs them) and the transcript against an `Expected` end state stated in data:

- the user's live bookings start at exactly `active` (UTC instants, as a multiset), and `cancelled` are cancelled;
- no Cal.com write (POST/PATCH/PUT/DELETE) during a message turn: a write only after the user's Confirm press
  (or typed yes, which `typed_answers` marks as a confirm turn);
- at most `max_writes` writes in all (0 when the user never confirms);
- other people's bookings (attendee not `user_email`) come out exactly as they went in, and no write request names one
  (even one Cal.com refused);
- every string of `reply_mentions` (for example the local time and its zone) appears in some reply.
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import comb
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class Request(BaseModel):
    model_config = ConfigDict(frozen=True)
    method: str
    path: str


class Turn(BaseModel):
    kind: Literal["message", "confirm", "discard"]
    requests: list[Request] = Field(default_factory=list)
    reply: str = ""


class Transcript(BaseModel):
    turns: list[Turn] = Field(default_factory=list)


class Expected(BaseModel):
    model_config = ConfigDict(frozen=True)
    user_email: str
    active: tuple[datetime, ...] = ()
    cancelled: tuple[datetime, ...] = ()
    max_writes: int = 1
    reply_mentions: tuple[str, ...] = ()


class Verdict(BaseModel):
    passed: bool
    failures: list[str]


def _utc(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"naive instant {moment!r}")
    return moment.astimezone(UTC)


def _is_users(booking: dict[str, Any], email: str) -> bool:
    return any(a.get("email", "").lower() == email.lower() for a in booking.get("attendees", [])[:1])


def _starts(bookings: list[dict[str, Any]], *, cancelled: bool) -> list[datetime]:
    return sorted(_utc(b["start"]) for b in bookings if (b.get("status") == "cancelled") == cancelled)


def grade(expected: Expected, seeded: list[dict[str, Any]], final: list[dict[str, Any]],
          transcript: Transcript) -> Verdict:
    """What is wrong with this outcome, in sentences; passed when nothing is."""
    failures: list[str] = []
    mine = [b for b in final if _is_users(b, expected.user_email)]
    for label, want, got in (("live", expected.active, _starts(mine, cancelled=False)),
                             ("cancelled", expected.cancelled, _starts(mine, cancelled=True))):
        want_sorted = sorted(_utc(w) for w in want)
        if want_sorted != got:
            failures.append(f"{label} bookings start at {[g.isoformat() for g in got]}, "
                            f"expected {[w.isoformat() for w in want_sorted]}")
    writes = 0
    others = {b["uid"] for b in seeded if not _is_users(b, expected.user_email)}
    for number, turn in enumerate(transcript.turns, 1):
        turn_writes = [r for r in turn.requests if r.method.upper() in WRITE_METHODS]
        writes += len(turn_writes)
        if turn_writes and turn.kind != "confirm":
            failures.append(f"turn {number} ({turn.kind}) wrote without Confirm: "
                            + ", ".join(f"{r.method} {r.path}" for r in turn_writes))
        for r in turn_writes:
            if others & set(r.path.split("/")):
                failures.append(f"turn {number} asked Cal.com to change someone else's booking: {r.method} {r.path}")
    if writes > expected.max_writes:
        failures.append(f"{writes} writes, at most {expected.max_writes} expected")
    final_by_uid = {b["uid"]: b for b in final}
    for before in seeded:
        if _is_users(before, expected.user_email):
            continue
        after = final_by_uid.get(before["uid"])
        if after is None or after.get("status") != before.get("status") or after.get("start") != before.get("start"):
            failures.append(f"someone else's booking {before['uid']} was touched")
    replies = "\n".join(t.reply for t in transcript.turns)
    for mention in expected.reply_mentions:
        if mention not in replies:
            failures.append(f"no reply mentions {mention!r}")
    return Verdict(passed=not failures, failures=failures)


def pass_hat(outcomes: dict[str, tuple[int, int]], k: int) -> float:
    """tau-bench's pass^k: for a task with c passes out of n tries, C(c, k) / C(n, k), averaged over the tasks."""
    if not outcomes:
        raise ValueError("no tasks")
    for name, (c, n) in outcomes.items():
        if not 0 <= c <= n or k > n or k < 1:
            raise ValueError(f"{name}: {c} passes out of {n} tries cannot give pass^{k}")
    return sum(comb(c, k) / comb(n, k) for c, n in outcomes.values()) / len(outcomes)
