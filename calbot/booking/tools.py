"""The tools the model may call, in one registry: each tool is its name, its argument model and its handler.

Adding a tool is one entry here (with its args model in args.py and its handler beside the rules it uses): the
executor dispatches by this table, the JSON schemas for chat.completions are generated from the models, the chat
loop learns which tools write from it, and a page learns how to show a result from `shown_as` (ToolFinished), so no
other code dispatches on a tool's name. A handler is `async (ctx, state, args) -> dict`, the tool result for the
model (results.py). The system prompt (calbot/agent/prompt.py) tells the model when to use which tool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from calbot.booking.session import SessionState
from calbot.booking.access import set_time_zone
from calbot.booking.args import (
    BookMeetingArgs,
    CancelMeetingArgs,
    CheckAvailabilityArgs,
    ListMeetingsArgs,
    RescheduleMeetingArgs,
    SetTimeZoneArgs,
    ToolArgs,
    parameters_schema,
    tool_description,
)
from calbot.booking.context import Context
from calbot.booking.proposals import propose_booking, propose_cancel, propose_reschedule
from calbot.booking.reads import check_availability, list_meetings

Handler = Callable[[Context, SessionState, Any], Awaitable[dict[str, Any]]]
# "meetings": a table of the meetings listed; "zone_change": what became of the pending times after a zone change
ShownAs = Literal["meetings", "zone_change"]


@dataclass(frozen=True)
class Tool:
    name: str
    args: type[ToolArgs]  # its docstring is the tool's description, its fields the parameters
    handler: Handler
    shown_as: ShownAs | None = None  # how a page shows the result itself (calbot/channels/markdown.py), beside the model's words
    label: str = ""  # what a page calls the step while it runs, for people ("Looking for free times")

    @property
    def writes(self) -> bool:
        """A write only proposes; the user's Confirm carries it out."""
        return self.args.WRITES

    def schema(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": tool_description(self.args),
                                                 "parameters": parameters_schema(self.args)}}


TOOLS: dict[str, Tool] = {tool.name: tool for tool in (
    Tool("check_availability", CheckAvailabilityArgs, check_availability, label="Looking for free times"),
    Tool("book_meeting", BookMeetingArgs, propose_booking, label="Checking the time for your booking"),
    Tool("list_meetings", ListMeetingsArgs, list_meetings, shown_as="meetings", label="Checking your calendar"),
    Tool("cancel_meeting", CancelMeetingArgs, propose_cancel, label="Preparing the cancellation"),
    Tool("reschedule_meeting", RescheduleMeetingArgs, propose_reschedule, label="Checking the new time"),
    Tool("set_time_zone", SetTimeZoneArgs, set_time_zone, shown_as="zone_change", label="Changing your time zone"),
)}

TOOL_ARGS: dict[str, type[ToolArgs]] = {name: tool.args for name, tool in TOOLS.items()}
WRITE_TOOLS = frozenset(name for name, tool in TOOLS.items() if tool.writes)


def tool_schemas() -> list[dict[str, Any]]:
    """The `tools` list for chat.completions."""
    return [tool.schema() for tool in TOOLS.values()]
