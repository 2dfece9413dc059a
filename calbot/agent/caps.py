"""How many tool calls the loop runs for one model reply and for one user message.

A real model needs few calls for anything a person asks calbot: listing, then checking a day or two, then one
proposal is three or four. A reply with dozens of calls is a model gone wrong (or one that follows instructions
hidden in someone's booking notes), and every call it makes is a Cal.com request out of a budget of 120 a minute
that every chat of the account shares. So:

- at most `MAX_CALLS_PER_REPLY` (8) calls of one reply are run: twice the most a real task needs in one go;
- at most `MAX_CALLS_PER_TURN` (16) calls of one user message are run, over all its rounds: four full tasks;
- a call over either cap is not run and still gets a tool result (the OpenAI API needs a result for every
  tool_call id) saying it was not run and why; no Cal.com request is made for it;
- a reply that asks for more once the turn's calls are used up ends the turn with `CALL_CAP_REPLY`, written by code;
- when the turn ends, the calls that were not run leave the stored history together with their results, so one
  runaway reply does not fill every later prompt (each remaining call keeps its result, so the history stays valid).

Calls answered by another guard first (the same call twice, a second write in one turn) are not run either and do not
count. Malformed calls do count: the executor answers them, and the malformed-call guard ends the turn soon enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_CALLS_PER_REPLY = 8
MAX_CALLS_PER_TURN = 16

NOT_RUN = "not_run"
REPLY_CAP_RESULT = (f"Not run: calbot runs at most {MAX_CALLS_PER_REPLY} tool calls of one reply. Use the results "
                    "you have; if you still need this, call it again in your next reply, with fewer calls at once.")
TURN_CAP_RESULT = (f"Not run: calbot runs at most {MAX_CALLS_PER_TURN} tool calls for one user message, and they "
                   "are used up. Answer the user with what you have.")
CALL_CAP_REPLY = ("That needed more calendar look-ups than I make for one message, so I stopped. Could you ask for "
                  "less at once, for example one day or one meeting?")


@dataclass
class CallCaps:
    """The count of one turn. `admit(call_id)` before running a call: None to run it, else its tool result."""

    per_reply: int = MAX_CALLS_PER_REPLY
    per_turn: int = MAX_CALLS_PER_TURN
    run_in_turn: int = 0
    run_in_reply: int = 0
    turn_used_up: bool = False  # a call of the current reply was refused by the per-turn cap
    not_run: set[str] = field(default_factory=set)

    def new_reply(self) -> None:
        self.run_in_reply = 0
        self.turn_used_up = False

    def admit(self, call_id: str) -> dict[str, Any] | None:
        if self.run_in_turn >= self.per_turn:
            self.turn_used_up = True
            sentence = TURN_CAP_RESULT
        elif self.run_in_reply >= self.per_reply:
            sentence = REPLY_CAP_RESULT
        else:
            self.run_in_turn += 1
            self.run_in_reply += 1
            return None
        self.not_run.add(call_id)
        return {"ok": False, "status": NOT_RUN, "error": sentence}

    def stored(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`messages` without the calls that were not run and their results (an assistant message left with
        neither text nor calls is dropped)."""
        if not self.not_run:
            return messages
        kept: list[dict[str, Any]] = []
        for message in messages:
            if message.get("role") == "tool" and message.get("tool_call_id") in self.not_run:
                continue
            calls = message.get("tool_calls")
            if calls:
                remaining = [c for c in calls if c.get("id") not in self.not_run]
                if len(remaining) != len(calls):
                    message = {k: v for k, v in message.items() if k != "tool_calls"}
                    if remaining:
                        message["tool_calls"] = remaining
                    elif not message.get("content"):
                        continue
            kept.append(message)
        return kept
