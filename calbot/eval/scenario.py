"""What a scenario is: data, not code. The scenarios themselves are in scenarios_*.py (ALL in calbot/eval/catalog.py).

A scenario holds everything one dialogue needs: the clock, the user's and the host's zones, the bookings seeded into a
fresh sandbox calendar, the user's turns (typed messages and presses of Confirm or Discard), the goal an LLM user plays
from (`--user-model`), the expected end state the grader checks (calbot/eval/grading.py), and for `--scripted` the
scripted model's answers to each typed message (`Step`s, consumed in order, one per model call of that turn).

The helpers at the bottom (`mine`, `theirs`, `user`, `CONFIRM`, `DISCARD`, `tool`, `reply`, `local`) only make the
catalogue short to read; they build the same models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from calbot.eval.grading import Expected

USER_EMAIL = "ana@example.com"
USER_NAME = "Ana Diaz"
# Monday 23 November 2026, 08:00 UTC (testing/common.py's FIXED_NOW): 09:00 in Berlin, the whole working day ahead.
DEFAULT_NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class Step(BaseModel):
    """One answer of the scripted model: a text (`say`) or a tool call (`call` with `args`)."""
    model_config = ConfigDict(frozen=True)
    say: str | None = None
    call: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)


class UserTurn(BaseModel):
    """A typed message, or a press of the Confirm / Discard button on the proposal shown last."""
    model_config = ConfigDict(frozen=True)
    kind: Literal["say", "confirm", "discard"]
    text: str = ""
    model: tuple[Step, ...] = ()  # --scripted: the model's answers to this message, in order


class Seed(BaseModel):
    """A booking put straight into the sandbox before the dialogue (not through calbot)."""
    model_config = ConfigDict(frozen=True)
    uid: str
    start: datetime  # with its offset
    about: str = ""  # the notes (the booking's description)
    title: str | None = None  # None: Cal.com's "30 Min Meeting between ..."
    email: str = USER_EMAIL
    name: str = USER_NAME
    minutes: int = 30


class End(BaseModel):
    """The expected end state (see grading.Expected): the user's live and cancelled bookings by start instant."""
    model_config = ConfigDict(frozen=True)
    active: tuple[datetime, ...] = ()
    cancelled: tuple[datetime, ...] = ()
    max_writes: int = 1
    reply_mentions: tuple[str, ...] = ()


class Scenario(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    covers: str  # which part of the coverage list
    goal: str  # what the user wants, for an LLM playing the user
    turns: tuple[UserTurn, ...]
    end: End
    now: datetime = DEFAULT_NOW
    user_zone: str = "Europe/Berlin"
    host_zone: str = "Europe/London"
    seeds: tuple[Seed, ...] = ()

    def expected(self) -> Expected:
        return Expected(user_email=USER_EMAIL, **self.end.model_dump())


# -- helpers for writing the catalogue ------------------------------------------------------------------------------

def local(wall: str, zone: str = "Europe/Berlin") -> datetime:
    """`local("2026-11-24T15:00")`: a wall time in `zone` as an aware instant."""
    return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(zone))


def mine(uid: str, wall: str, about: str, *, zone: str = "Europe/Berlin", **extra: Any) -> Seed:
    return Seed(uid=uid, start=local(wall, zone), about=about, **extra)


def theirs(uid: str, wall: str, about: str, *, zone: str = "Europe/Berlin", email: str = "bo@example.com",
           **extra: Any) -> Seed:
    return Seed(uid=uid, start=local(wall, zone), about=about, email=email, name="Bo Berg", **extra)


def tool(name: str, **args: Any) -> Step:
    return Step(call=name, args=args)


def reply(text: str) -> Step:
    return Step(say=text)


def user(text: str, *model: Step) -> UserTurn:
    return UserTurn(kind="say", text=text, model=model)


CONFIRM = UserTurn(kind="confirm")
DISCARD = UserTurn(kind="discard")
