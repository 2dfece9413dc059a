"""Fixtures for the chat loop and ChatService tests.

- `clock`: a mutable frozen clock (`clock.now`), FIXED_NOW unless a test moves it; the sandbox, the executor and the
  system prompt all read it.
- `model`: a ScriptedModel (testing/openai_fake.py); `service` talks to it in process.
- `sandbox`: an in-memory sandbox calendar (rate limit off) on `clock`.
- `make_settings(**overrides)`: load_settings with a user, a zone and a key, the environment cleaned first.
- `make_service(...)` / `service`: a ChatService wired to `model` and `sandbox` (closed at teardown).
- `events`: an awaitable recorder to pass as `emit`.

Helpers: `assert_history_valid`, `seed_booking`, `calendar_requests`, `bookings_in`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from calbot.agent.loop import CodeReply, Event, TextDelta, TextDone
from calbot.chat import ChatService
from calbot.config import Settings, load_settings
from calbot.sandbox import Sandbox, SandboxConfig
from calbot.sandbox.service import NewBooking
from testing.common import FIXED_NOW, clear_settings_env
from testing.openai_fake import ModelServer, ScriptedModel

USER = "ana@example.com"
TOOL_NAMES = ["check_availability", "book_meeting", "list_meetings", "cancel_meeting", "reschedule_meeting",
              "set_time_zone"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CAL_*/CALBOT_*/OPENAI_* variable and no ./.env from the project reach load_settings."""
    clear_settings_env(monkeypatch)
    monkeypatch.chdir(tmp_path)


@dataclass
class Clock:
    now: datetime = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[Sandbox]:
    box = Sandbox(SandboxConfig(rate_limit=0), ":memory:", clock)
    yield box
    box.close()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"openai_api_key": "sk-test", "cal_user_email": USER, "cal_user_name": "Ana Diaz",
                                  "calbot_timezone": "Europe/Berlin",
                                  "calbot_sandbox_db": str(tmp_path / "unused" / "sandbox.db")}
        values.update(overrides)
        return load_settings(**values)
    return make


@pytest.fixture
async def make_service(model: ScriptedModel, sandbox: Sandbox, clock: Clock,
                       make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., ChatService]]:
    """make(settings=None, *, model_client=<in-process>, sandbox=<fixture>, clock=<fixture>, **setting overrides).
    Pass model_client=None (and no key) for a service without a model, sandbox=None to open CALBOT_SANDBOX_DB."""
    made: list[ChatService] = []
    unset = object()

    def make(settings: Settings | None = None, *, model_client: Any = unset, sandbox_: Any = unset,
             clock_: Any = unset, **overrides: Any) -> ChatService:
        service = ChatService(
            settings or make_settings(**overrides),
            model_client=model.client() if model_client is unset else model_client,
            sandbox=sandbox if sandbox_ is unset else sandbox_,
            clock=clock if clock_ is unset else clock_)
        made.append(service)
        return service

    yield make
    for service in made:
        await service.aclose()


@pytest.fixture
def service(make_service: Callable[..., ChatService]) -> ChatService:
    return make_service()


@dataclass
class Events:
    """Pass as `emit`: records every event in order."""
    all: list[Event] = field(default_factory=list)

    async def __call__(self, event: Event) -> None:
        self.all.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.all if isinstance(e, kind)]

    def codes(self, kind: str | None = None) -> list[CodeReply]:
        return [e for e in self.of(CodeReply) if kind is None or e.kind == kind]

    def text(self) -> str:
        return "".join(e.text for e in self.of(TextDelta))

    def done_texts(self) -> list[str]:
        return [e.text for e in self.of(TextDone)]

    def clear(self) -> None:
        self.all.clear()


@pytest.fixture
def events() -> Events:
    return Events()


# -- helpers -----------------------------------------------------------------------------------------------------------
def assert_history_valid(history: list[dict[str, Any]]) -> None:
    """What an OpenAI-compatible server accepts as a conversation (after the system prompt):

    - only user, assistant and tool messages, starting with a user message;
    - every assistant message with tool_calls is followed immediately by exactly one tool message per call id
      (no call left unanswered, none answered twice, nothing else in between), then by an assistant message;
    - no tool message anywhere else (no orphan), and every tool content is a string;
    - a user message is answered by an assistant message before the next user message; the history ends with an
      assistant message that has text (a finished turn) and no assistant message is empty."""
    assert history, "empty history"
    assert history[0]["role"] == "user", f"history starts with {history[0]['role']}"
    i = 0
    while i < len(history):
        message = history[i]
        role = message.get("role")
        assert role in ("user", "assistant", "tool"), f"message {i} has role {role!r}"
        if role == "tool":
            raise AssertionError(f"orphan tool message at {i}: {message}")
        if role == "user":
            assert isinstance(message.get("content"), str) and message["content"].strip(), f"empty user message {i}"
            assert i + 1 < len(history), "the history ends with a user message (a turn left unanswered)"
            assert history[i + 1]["role"] == "assistant", f"user message {i} followed by {history[i + 1]['role']}"
            i += 1
            continue
        tool_calls = message.get("tool_calls")
        if not tool_calls:
            assert isinstance(message.get("content"), str) and message["content"].strip(), \
                f"assistant message {i} has neither text nor tool calls"
            i += 1
            continue
        ids = [c["id"] for c in tool_calls]
        assert all(ids) and len(set(ids)) == len(ids), f"tool call ids at {i} missing or repeated: {ids}"
        for c in tool_calls:
            assert c["type"] == "function" and c["function"]["name"], c
            assert isinstance(c["function"]["arguments"], str), c
        answers = history[i + 1:i + 1 + len(ids)]
        assert [m.get("role") for m in answers] == ["tool"] * len(ids), \
            f"assistant tool_calls at {i} not followed by {len(ids)} tool message(s): {answers}"
        assert sorted(m["tool_call_id"] for m in answers) == sorted(ids), \
            f"tool results at {i} do not answer the calls {ids}: {[m['tool_call_id'] for m in answers]}"
        for m in answers:
            assert isinstance(m["content"], str)
            json.loads(m["content"])  # calbot's tool results are JSON
        after = i + 1 + len(ids)
        assert after < len(history), "the history ends right after tool results (no assistant answer)"
        assert history[after]["role"] == "assistant", f"tool results at {i} followed by {history[after]['role']}"
        i = after
    assert history[-1]["role"] == "assistant" and not history[-1].get("tool_calls")


def seed_booking(sandbox: Sandbox, start: datetime, *, email: str = USER, name: str = "Ana Diaz",
                 event_type_id: int = 1001, notes: str | None = None) -> dict[str, Any]:
    """A booking put straight into the sandbox calendar (not through calbot)."""
    responses = {"notes": notes} if notes else {}
    return sandbox.calendar.create(NewBooking(start=start, event_type_id=event_type_id, attendee_name=name,
                                              attendee_email=email, attendee_time_zone="Europe/London",
                                              responses=responses))


def calendar_requests(sandbox: Sandbox, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
    """Requests the sandbox answered (sandbox.server.requests), filtered by method and exact path."""
    return [r for r in sandbox.server.requests
            if (method is None or r["method"] == method) and (path is None or r["path"] == path)]


def bookings_in(sandbox: Sandbox, *statuses: str) -> list[dict[str, Any]]:
    """The sandbox's bookings (every status unless given), straight from its store."""
    return [b for b in sandbox.store.all() if not statuses or b["status"] in statuses]


def tool_messages(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in history if m.get("role") == "tool"]


def parsed(message: dict[str, Any]) -> Any:
    return json.loads(message["content"])


# -- the scripted model over real HTTP ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def _served() -> Iterator[tuple[ScriptedModel, ModelServer]]:
    shared = ScriptedModel()
    with ModelServer(shared) as server:
        yield shared, server


@pytest.fixture
def served(_served: tuple[ScriptedModel, ModelServer]) -> tuple[ScriptedModel, ModelServer]:
    """(model, server): a ScriptedModel behind uvicorn on 127.0.0.1, rules and records reset for each test."""
    shared, server = _served
    shared.reset()
    return shared, server
