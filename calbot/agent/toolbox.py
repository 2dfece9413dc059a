"""All the chat loop knows of tools: a toolbox, and the instructions that go with it.

The loop sends `schemas()` to the model, runs each call through `call()`, and learns what it must of a result
through two questions, never by reading its fields: was the call itself malformed (the loop gives the model one
chance to correct it), and did it open a proposal (the loop ends the turn: the page shows Confirm and Discard).
`writes(name)` says which tools write, so a turn proposes one change at most; `shown_as(name)` is passed on to
the page with each result, so a page picks its rendering without naming a tool. calbot's calendar toolbox is
calbot.booking.executor.Executor; its instructions are calbot.agent.prompt.calendar_instructions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from calbot.booking.session import Proposal, SessionState

Instructions = Callable[[SessionState], str]  # the system prompt, rebuilt for every model call


class Toolbox(Protocol):
    def schemas(self) -> list[dict[str, Any]]:
        """The `tools` list for chat.completions."""
        ...

    def writes(self, name: str) -> bool:
        """The tool proposes a change (one a turn)."""
        ...

    async def call(self, state: SessionState, name: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        """Run one call; the result goes to the model as it is. Never raises for bad input or upstream errors."""
        ...

    def malformed(self, result: dict[str, Any]) -> bool:
        """The call could not be understood (unknown tool, arguments not JSON or of the wrong form)."""
        ...

    def opened(self, state: SessionState, result: dict[str, Any]) -> Proposal | None:
        """The proposal this call opened and left open in `state`, if any."""
        ...

    def shown_as(self, name: str) -> str | None:
        """How a page shows this tool's result itself, passed on in ToolFinished ("meetings": a table), or None."""
        ...

    def label(self, name: str) -> str:
        """What a page calls this tool's step for people ("Checking your calendar"); "" to use the tool's name."""
        ...
