"""The chat loop knows no tool (calbot/agent/toolbox.py): it runs on any toolbox and any instructions.

Here the loop drives a toolbox that has nothing to do with calendars (an echo tool and a "launch" write), with its
own instructions: the model is sent exactly that toolbox's schemas and that system prompt, results go back as the
toolbox gives them, a result the toolbox calls malformed counts for the malformed-call guard, and one it says opened
a proposal ends the turn with ProposalReady, like calbot's Confirm/Discard. And the layers: the loop imports nothing
of calbot.booking or calbot.calcom and names no calbot tool; calbot.booking never imports the chat side.
"""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calbot.agent.loop import INVALID_CALLS_REPLY, Agent, ProposalReady, ToolFinished
from calbot.booking.session import Proposal, SessionState
from testing.openai_fake import ScriptedModel, call, say

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = [
    {"type": "function", "function": {"name": "echo", "description": "Say it back.", "parameters": {
        "type": "object", "properties": {"words": {"type": "string"}}, "required": ["words"],
        "additionalProperties": False}}},
    {"type": "function", "function": {"name": "launch", "description": "Propose a launch.", "parameters": {
        "type": "object", "properties": {}, "required": [], "additionalProperties": False}}},
]


class EchoBox:
    """A toolbox with no calendar in it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def schemas(self) -> list[dict[str, Any]]:
        return SCHEMAS

    def writes(self, name: str) -> bool:
        return name == "launch"

    async def call(self, state: SessionState, name: str, arguments: Any) -> dict[str, Any]:
        self.calls.append((name, arguments))
        if name == "launch":
            now = datetime(2030, 1, 1, tzinfo=UTC)
            state.proposal = Proposal(id="launch1", action="book", created_at=now, time_zone="UTC",
                                      summary="Launch the rocket", event_type_id=1, start=now, end=now,
                                      duration_minutes=1)
            return {"launch": "ready"}
        if name != "echo":
            return {"what": "no such tool"}
        return {"echoed": json.loads(arguments)["words"]}

    def malformed(self, result: dict[str, Any]) -> bool:
        return result.get("what") == "no such tool"

    def opened(self, state: SessionState, result: dict[str, Any]) -> Proposal | None:
        return state.proposal if result.get("launch") == "ready" else None

    def shown_as(self, name: str) -> str | None:
        return "an echo" if name == "echo" else None

    def label(self, name: str) -> str:
        return "Echoing" if name == "echo" else ""


def agent(model: ScriptedModel, box: EchoBox) -> Agent:
    return Agent(model.client(), "gpt-4.1-mini", box, instructions=lambda state: f"You echo for {state.chat_id}.")


async def test_the_loop_sends_the_toolbox_and_its_instructions_and_returns_its_results() -> None:
    model, box = ScriptedModel(), EchoBox()
    model.on_user("hi", call("echo", words="hi there"))
    model.on_tool_result("echo", lambda req: say(f"It said {req.last_tool_result['echoed']}"))
    state = SessionState()
    events: list[Any] = []

    async def emit(event: Any) -> None:
        events.append(event)

    result = await agent(model, box).run(state, "hi", emit)

    assert result.outcome == "answered"
    assert [(name, json.loads(arguments)) for name, arguments in box.calls] == [("echo", {"words": "hi there"})]
    first = model.requests[0]
    assert first.tools == SCHEMAS
    assert first.messages[0] == {"role": "system", "content": f"You echo for {state.chat_id}."}
    assert [(e.result, e.shown_as) for e in events if isinstance(e, ToolFinished)] == [({"echoed": "hi there"},
                                                                                      "an echo")]
    assert state.history[-1]["content"] == "It said hi there"


async def test_what_the_toolbox_calls_a_proposal_ends_the_turn() -> None:
    model, box = ScriptedModel(), EchoBox()
    model.on_user("go", call("launch"))
    model.on_tool_result("launch", say("SHOULD NOT BE ASKED"))
    state = SessionState()
    events: list[Any] = []

    async def emit(event: Any) -> None:
        events.append(event)

    result = await agent(model, box).run(state, "go", emit)

    assert result.outcome == "proposal" and result.proposal is not None and result.proposal.id == "launch1"
    assert [e.proposal.id for e in events if isinstance(e, ProposalReady)] == ["launch1"]
    assert len(model.requests) == 1


async def test_what_the_toolbox_calls_malformed_counts_for_the_guard() -> None:
    model, box = ScriptedModel(), EchoBox()
    model.on_user("x", call("nothing"))
    model.on_tool_result(None, call("nothing", again=1))
    state = SessionState()

    result = await agent(model, box).run(state, "x")

    assert result.outcome == "invalid_calls"
    assert state.history[-1]["content"] == INVALID_CALLS_REPLY


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_loop_imports_no_tool_and_names_none() -> None:
    loop = ROOT / "calbot" / "agent" / "loop.py"
    imports = _imports(loop)
    # the chat's state is the one thing of the booking layer the loop works on (data flows agent -> booking)
    assert not [m for m in imports if m.startswith(("calbot.booking", "calbot.calcom", "calbot.sandbox"))
                and m != "calbot.booking.session"]
    text = loop.read_text(encoding="utf-8")
    for name in ("check_availability", "book_meeting", "list_meetings", "cancel_meeting", "reschedule_meeting",
                 "set_time_zone", "awaiting_confirmation", "invalid_arguments"):
        assert name not in text


def test_booking_never_imports_the_chat_side() -> None:
    """Data flows one way: agent -> booking -> calcom; the chat's state lives in calbot/booking/session.py."""
    for path in sorted((ROOT / "calbot" / "booking").glob("*.py")):
        for module in _imports(path):
            assert not module.startswith(("calbot.chat", "calbot.channels", "calbot.sessions", "calbot.wiring",
                                          "calbot.store", "calbot.runtime", "app"))
            assert not module.startswith("calbot.agent"), (path.name, module)


def test_calbot_tools_say_how_a_page_shows_them() -> None:
    """The page picks the meetings table and the zone-change note from ToolFinished.shown_as, not from a tool name."""
    from calbot.booking.executor import Executor
    from calbot.booking.tools import TOOLS

    assert {name: Executor.shown_as(name) for name in TOOLS} == {
        "check_availability": None, "book_meeting": None, "list_meetings": "meetings", "cancel_meeting": None,
        "reschedule_meeting": None, "set_time_zone": "zone_change"}
    assert Executor.shown_as("no_such_tool") is None
