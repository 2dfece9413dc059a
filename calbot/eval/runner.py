"""One try of one scenario: a fresh sandbox calendar with the scenario's bookings and clock, calbot's ChatService (the
app's front door) on the model under test, the user's turns, then the grade.

The model is either the scripted assistant (`Backend.scripted`, in process) or any OpenAI-compatible server
(`Backend.server`). The user is the scenario's scripted turns, or an LLM playing the scenario's goal (user_sim.py).
Per turn the transcript keeps the Cal.com requests the sandbox answered and every text the person saw (the model's
words, calbot's own sentences, proposal summaries, what a button press answered); a typed yes/no that code decided is
a confirm/discard turn, as the grader wants.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import openai

from calbot.agent.loop import (
    CodeReply,
    ProposalAnswered,
    ProposalReady,
    ProposalWithdrawn,
    TextDone,
)
from calbot.chat import MODEL_RETRIES, MODEL_TIMEOUT, ChatService
from calbot.config import DEFAULT_OPENAI_BASE_URL, Settings, load_settings
from calbot.eval.grading import Request, Transcript, Turn, grade
from calbot.eval.metering import Meter, MeteredTransport
from calbot.eval.scenario import USER_EMAIL, USER_NAME, Scenario, Seed, UserTurn
from calbot.eval.scripted import ScriptedAssistant
from calbot.sandbox import Sandbox, SandboxConfig, SandboxHost


@dataclass
class Backend:
    """How to reach the model under test."""
    model_name: str
    base_url: str | None = None
    api_key: str = "sk-scripted"
    variant: str | None = None  # set: the scripted assistant (in process), in this variant

    @classmethod
    def scripted(cls, variant: str = "correct") -> Backend:
        return cls(model_name="scripted" if variant == "correct" else f"scripted-{variant}", variant=variant)

    @classmethod
    def server(cls, model_name: str, base_url: str | None, api_key: str) -> Backend:
        return cls(model_name=model_name, base_url=base_url, api_key=api_key)

    def settings(self, zone: str) -> Settings:
        """Every field given, so nothing comes from the environment or `.env`."""
        return load_settings(
            _env_file=None, openai_api_key=self.api_key, openai_base_url=self.base_url,
            openai_model=self.model_name, cal_api_key=None, cal_api_base_url="https://api.cal.com/v2",
            cal_event_type_id=None, cal_user_email=USER_EMAIL, cal_user_name=USER_NAME, calbot_timezone=zone,
            calbot_sandbox_db="/nonexistent/calbot-eval-unused.db")

    def client(self, meter: Meter) -> tuple[openai.AsyncOpenAI, ScriptedAssistant | None]:
        if self.variant is not None:
            assistant = ScriptedAssistant(self.variant)
            http = httpx.AsyncClient(transport=MeteredTransport(httpx.ASGITransport(app=assistant.model.app), meter),
                                     base_url="http://model.test")
            return assistant.model.client(http_client=http), assistant
        http = httpx.AsyncClient(transport=MeteredTransport(httpx.AsyncHTTPTransport(), meter), timeout=MODEL_TIMEOUT)
        return openai.AsyncOpenAI(api_key=self.api_key, base_url=self.base_url or DEFAULT_OPENAI_BASE_URL,
                                  http_client=http, max_retries=MODEL_RETRIES), None


@dataclass
class TryResult:
    scenario: str
    passed: bool
    failures: list[str]
    model_calls: int
    tokens: int | None
    seconds: float
    transcript: Transcript = field(default_factory=Transcript)
    log: list[dict[str, Any]] = field(default_factory=list)  # per turn: what the user did, calls, tokens, requests


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


class _Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    async def __call__(self, event: Any) -> None:
        self.events.append(event)


def seed(sandbox: Sandbox, item: Seed) -> dict[str, Any]:
    """Put a booking straight into the sandbox's store (no rules: a title, outside hours, overlaps all allowed)."""
    calendar = sandbox.calendar
    event_type = next((et for et in sandbox.config.event_types if et.length == item.minutes),
                      sandbox.config.event_types[0])
    attendee = {"name": item.name, "email": item.email, "displayEmail": item.email, "timeZone": "UTC",
                "language": "en", "absent": False}
    with sandbox.store.write():
        booking = calendar.booking_output(
            number=sandbox.store.next_id(), uid=item.uid, et=event_type, start=item.start.astimezone(UTC),
            length=item.minutes, status="accepted", attendee=attendee, guests=[],
            responses={"name": item.name, "email": item.email, "notes": item.about}, metadata={})
        if item.title:
            booking["title"] = item.title
        sandbox.store.insert(booking, sandbox.config.host.id)
    return booking


class Dialogue:
    """A scenario's calendar and chat, turn by turn."""

    def __init__(self, scenario: Scenario, backend: Backend) -> None:
        self.scenario = scenario
        self.clock = Clock(scenario.now)
        self.sandbox = Sandbox(SandboxConfig(rate_limit=0, host=SandboxHost(time_zone=scenario.host_zone)),
                               ":memory:", self.clock)
        self.seeded = copy.deepcopy([seed(self.sandbox, item) for item in scenario.seeds])
        self.meter = Meter()
        client, self.assistant = backend.client(self.meter)
        self.service = ChatService(backend.settings(scenario.user_zone), model_client=client, sandbox=self.sandbox,
                                   clock=self.clock)
        self.chat_id = f"eval-{uuid.uuid4().hex[:12]}"
        self.proposal_id: str | None = None
        self.proposal_summary: str | None = None
        self.transcript = Transcript()
        self.log: list[dict[str, Any]] = []

    async def play(self, turn: UserTurn) -> Turn:
        mark, calls, tokens = len(self.sandbox.server.requests), self.meter.calls, self.meter.tokens
        if turn.kind == "say":
            if self.assistant is not None:
                self.assistant.begin(turn.model)
            sink = _Sink()
            await self.service.send(self.chat_id, turn.text, sink)
            kind, reply = self._read(sink.events)
        else:
            kind, reply = turn.kind, await self._press(turn.kind)
        requests = [Request(method=r["method"], path=r["path"]) for r in list(self.sandbox.server.requests)[mark:]]
        done = Turn(kind=kind, requests=requests, reply=reply)
        self.transcript.turns.append(done)
        self.log.append({"user": turn.text if turn.kind == "say" else f"[presses {turn.kind.title()}]",
                         "graded_as": kind, "model_calls": self.meter.calls - calls,
                         "tokens": self.meter.tokens - tokens if self.meter.usage_seen else None,
                         "calcom": [f"{r.method} {r.path}" for r in requests], "reply": reply})
        return done

    async def _press(self, button: str) -> str:
        if self.proposal_id is None:
            return "(there was no proposal to press)"
        press = self.service.press_confirm if button == "confirm" else self.service.press_discard
        outcome = await press(self.chat_id, self.proposal_id)
        self.proposal_id = self.proposal_summary = None
        return str(outcome.get("message") or outcome.get("status") or "")

    def _read(self, events: list[Any]) -> tuple[str, str]:
        kind, texts = "message", []
        for event in events:
            if isinstance(event, TextDone) or (isinstance(event, CodeReply) and event.kind != "notice"):
                texts.append(event.text)  # (the notice is the sandbox's "this is not your real calendar")
            elif isinstance(event, ProposalReady):
                self.proposal_id, self.proposal_summary = event.proposal.id, event.proposal.summary
                texts.append(f"[Proposal, with Confirm and Discard buttons: {event.proposal.summary}]")
            elif isinstance(event, ProposalWithdrawn):
                self.proposal_id = self.proposal_summary = None
            elif isinstance(event, ProposalAnswered):
                kind = "confirm" if event.button == "Confirm" else "discard"
                self.proposal_id = self.proposal_summary = None
                texts.append(str(event.outcome.get("message") or ""))
        return kind, "\n".join(t for t in texts if t)

    def finish(self, started: float) -> TryResult:
        verdict = grade(self.scenario.expected(), self.seeded, self.sandbox.store.all(), self.transcript)
        return TryResult(self.scenario.name, verdict.passed, verdict.failures, self.meter.calls,
                         self.meter.tokens_or_none, time.perf_counter() - started, self.transcript, self.log)

    async def aclose(self) -> None:
        try:
            await self.service.aclose()
        finally:
            self.sandbox.close()


UserPlayer = Callable[[Dialogue], Any]  # async: plays the whole dialogue (user_sim.SimulatedUser.play)


async def run_try(scenario: Scenario, backend: Backend, user: UserPlayer | None = None) -> TryResult:
    """One try: the scripted turns (or `user`, an LLM playing the goal), then the grade."""
    started = time.perf_counter()
    dialogue = Dialogue(scenario, backend)
    try:
        try:
            if user is None:
                for turn in scenario.turns:
                    await dialogue.play(turn)
            else:
                await user(dialogue)
        except Exception as exc:  # noqa: BLE001 - one broken try (the user model's server, say) fails, the run goes on
            result = dialogue.finish(started)
            result.passed = False
            result.failures.append(f"the dialogue stopped: {type(exc).__name__}: {exc}")
            return result
        return dialogue.finish(started)
    finally:
        await dialogue.aclose()
