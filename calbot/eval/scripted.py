"""The scripted assistant model of `--scripted`: testing/openai_fake.py's ScriptedModel answering calbot's model calls
with the scenario's `Step`s (one per model call of the current message, in order; "Done."/"OK." once they run out).

Variants, deliberately broken, to show the harness tells a worse model from a better one:
- "utc-times": converts the user's local times to UTC and passes those as if local (what the prompt forbids);
- "first-match": acts on the first meeting of the latest list, whichever meeting the user meant.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from calbot.eval.scenario import Step

VARIANTS = ("correct", "utc-times", "first-match")
_ZONE = re.compile(r"User's time zone: ([A-Za-z0-9_+\-/]+)")


class ScriptedAssistant:
    def __init__(self, variant: str = "correct") -> None:
        from testing.openai_fake import (
            ScriptedModel,  # the project's scripted model server (not part of calbot)
        )

        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
        self.variant = variant
        self.model = ScriptedModel()
        self.model.on_request(lambda request: True, self._answer)
        self._queue: deque[Step] = deque()
        self._last_list: dict[str, Any] = {}

    def begin(self, steps: tuple[Step, ...]) -> None:
        """The user typed a message: answer its model calls with `steps`."""
        self._queue = deque(steps)

    def _answer(self, request: Any) -> Any:
        from testing.openai_fake import ToolCall, calls, say

        for name, result in request.tool_results:
            if name == "list_meetings" and isinstance(result, dict):
                self._last_list = result
        if not self._queue:
            return say("Done." if request.is_tool_result else "OK.")
        step = self._queue.popleft()
        if step.say is not None:
            return say(step.say)
        assert step.call is not None
        return calls(ToolCall(step.call, self._arguments(step, request)))

    def _arguments(self, step: Step, request: Any) -> dict[str, Any]:
        args = dict(step.args)
        if self.variant == "utc-times":
            match = _ZONE.search(str(request.messages[0].get("content", ""))) if request.messages else None
            zone = ZoneInfo(match.group(1) if match else "UTC")
            for key in ("start", "new_start"):
                if key in args:
                    args[key] = _as_utc_wall(args[key], zone)
            if "at_time" in args and "from_date" in args:
                args["at_time"] = _as_utc_wall(f"{args['from_date']}T{args['at_time']}", zone)[11:]
        if self.variant == "first-match" and "booking_uid" in args:
            first = (self._last_list.get("meetings") or self._last_list.get("nearest") or [{}])[0]
            args["booking_uid"] = first.get("uid", args["booking_uid"])
        return args


def _as_utc_wall(wall: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(wall).replace(tzinfo=zone).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
