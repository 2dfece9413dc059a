"""The tool-calling loop: one user message in, events out, the history updated only with complete turns.

No Chainlit here. The caller (the Chainlit page now, a REST API or a messaging channel later) passes an `emit`
coroutine and turns the events into whatever it shows: streamed text, tool steps, a proposal with Confirm/Discard.

The loop knows no tool: it gets a toolbox (toolbox.py: schemas, `call`, which tools write, whether a result is a
malformed call or opened a proposal) and instructions (the system prompt), and emits events. What it enforces:
- a turn joins `state.history` only when complete; after Stop, an exception or a timeout the history gets the user's
  message and a short note instead, never an assistant `tool_calls` message without its tool results;
- at most `max_rounds` rounds of tool calls per message;
- the same tool with the same arguments twice in one turn ends the turn;
- at most one write proposal per turn (another write call is answered "one change at a time"); a proposal ends the
  turn without another model call, because the page shows it with Confirm and Discard;
- a malformed tool call (arguments that are not JSON, wrong types, an unknown tool) goes back to the model as a
  correctable error once; a second one in the same turn ends the turn with a polite sentence written by code;
- at most 8 tool calls of one reply and 16 of one user message are run (caps.py); the others are answered "not run"
  without running them, and a reply that asks for more once the turn's 16 are used ends the turn.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import openai

from calbot.agent.caps import CALL_CAP_REPLY, CallCaps
from calbot.agent.history import PROPOSED_PREFIX, append, prompt_history
from calbot.booking.session import Proposal, SessionState
from calbot.agent.toolbox import Instructions, Toolbox
from calbot.explain import SOMETHING_WENT_WRONG, explain_model_error

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 5

ROUND_CAP_REPLY = ("I could not finish that in a few steps. Could you tell me more precisely what you need, for "
                   "example the day and time?")
REPEAT_REPLY = ("I seem to be going round in circles with that request. Could you say it another way, for example "
                "with the exact day and time?")
EMPTY_REPLY = "Sorry, I have no answer to that. Could you rephrase it?"
STOPPED_NOTE = "(The user stopped this reply before it finished.)"
ONE_CHANGE = ("One change at a time: the user must first Confirm or Discard the change already proposed in this "
              "turn. Tell the user you will make this change after that.")
REPEATED_CALL = "This exact call was already made in this turn; its result is above. Do not repeat it."
INVALID_CALLS_REPLY = ("Sorry, I could not work out the details of that request. Could you say it again, for example "
                       "with the day, the time and what the meeting is about?")
MAX_INVALID_CALLS = 1  # a malformed tool call goes back to the model once; the next one ends the turn


# -- events --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TextDelta:
    """A piece of the model's reply, to stream to the user."""
    text: str


@dataclass(frozen=True)
class TextDone:
    """The model finished one reply text (the full text, as streamed)."""
    text: str


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    name: str
    arguments: dict[str, Any] | str  # parsed JSON, or the raw text when it is not valid JSON
    label: str = ""  # the step's name for people, from the toolbox ("" : show the tool's name)


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    name: str
    arguments: dict[str, Any] | str
    result: dict[str, Any]
    shown_as: str | None = None  # how a page shows the result itself (the toolbox's word, e.g. "meetings"), if at all


@dataclass(frozen=True)
class ProposalReady:
    """A write waits for the user's Confirm or Discard: show `proposal` with both buttons."""
    proposal: Proposal


@dataclass(frozen=True)
class ProposalWithdrawn:
    """The user typed instead of pressing a button: take the buttons of this proposal away."""
    proposal: Proposal


@dataclass(frozen=True)
class ProposalAnswered:
    """The user typed a plain yes or no to the open proposal (calbot/booking/answers.py): the same as pressing
    `button`; `outcome` is what that button's press gave (shown as the press would be)."""
    proposal_id: str
    button: Literal["Confirm", "Discard"]
    outcome: dict[str, Any]


@dataclass(frozen=True)
class CodeReply:
    """A sentence written by calbot's code, not the model (errors, guards, notices)."""
    text: str
    kind: Literal["error", "guard", "notice", "empty"] = "notice"


Event = (TextDelta | TextDone | ToolStarted | ToolFinished | ProposalReady | ProposalWithdrawn | ProposalAnswered
         | CodeReply)
Emit = Callable[[Event], Awaitable[None]]

Outcome = Literal["answered", "proposal", "repeat", "round_cap", "call_cap", "invalid_calls", "model_error", "stopped",
                  "failed", "refused", "typed_answer"]


async def _ignore(_: Event) -> None:
    return None


@dataclass
class TurnResult:
    outcome: Outcome
    model_calls: int = 0
    tools_called: list[str] = field(default_factory=list)
    proposal: Proposal | None = None
    error: str | None = None  # the sentence shown for model_error / failed
    seconds_in_model: float = 0.0  # time spent waiting for the model endpoint (the rest is calbot + Cal.com)


@dataclass
class _ToolCall:
    id: str
    name: str
    arguments: str

    def message(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}

    def parsed(self) -> dict[str, Any] | str:
        try:
            value = json.loads(self.arguments) if self.arguments.strip() else {}
        except json.JSONDecodeError:
            return self.arguments
        return value if isinstance(value, dict) else self.arguments

    def key(self) -> tuple[str, str]:
        parsed = self.parsed()
        canonical = json.dumps(parsed, sort_keys=True, ensure_ascii=False) if isinstance(parsed, dict) else parsed
        return self.name, canonical


@dataclass
class _Reply:
    text: str
    tool_calls: list[_ToolCall]


def _dump(result: dict[str, Any]) -> str:
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"), default=str)


class Agent:
    """Runs chat turns with one toolbox. Holds no per-chat state: each turn gets the chat's SessionState."""

    def __init__(self, client: openai.AsyncOpenAI, model: str, toolbox: Toolbox, *,
                 instructions: Instructions, max_rounds: int = MAX_TOOL_ROUNDS,
                 base_url: str | None = None, bound_history: bool = True):
        self.client = client
        self.bound_history = bound_history  # False only to measure what the bound saves (bench)
        self.model = model
        self.toolbox = toolbox
        self.instructions = instructions
        self.max_rounds = max_rounds
        self.base_url = base_url
        self.tools = toolbox.schemas()

    def messages(self, state: SessionState, pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What is sent to the model: a fresh system prompt, the recent history (history.py), this turn so far."""
        prompt = self.instructions(state)
        history = prompt_history(state.history) if self.bound_history else state.history
        return [{"role": "system", "content": prompt}, *history, *pending]

    async def run(self, state: SessionState, text: str, emit: Emit | None = None) -> TurnResult:
        """Answer one user message. Never raises for model or calendar errors (they become a CodeReply);
        re-raises cancellation (Stop) after recording it in the history."""
        emit = emit or _ignore
        user_message = {"role": "user", "content": text}
        turn: list[dict[str, Any]] = [user_message]
        result = TurnResult("failed")
        proposal_before = state.proposal.id if state.proposal else None
        shown_proposal: str | None = None
        committed = False
        state.answering(text)  # typed by the user: counts for identity while this turn's tools run
        caps = CallCaps()

        def commit(*closing: dict[str, Any], complete: bool) -> None:
            nonlocal committed
            append(state.history, *(caps.stored(turn) if complete else [user_message]), *closing,
                   bound=self.bound_history)
            committed = True

        try:
            seen: set[tuple[str, str]] = set()
            proposals = invalid_calls = 0
            for round_number in range(1, self.max_rounds + 2):
                started = time.perf_counter()
                reply = await self._ask(state, turn, emit)
                result.seconds_in_model += time.perf_counter() - started
                result.model_calls += 1

                if not reply.tool_calls:
                    content = reply.text.strip()
                    if not content:
                        content = EMPTY_REPLY
                        await emit(CodeReply(content, "empty"))
                    commit({"role": "assistant", "content": content}, complete=True)
                    result.outcome = "answered"
                    return result

                if round_number > self.max_rounds:  # the calls are not run, so they never enter the history
                    await emit(CodeReply(ROUND_CAP_REPLY, "guard"))
                    content = f"{reply.text.strip()}\n\n{ROUND_CAP_REPLY}".strip()
                    commit({"role": "assistant", "content": content}, complete=True)
                    result.outcome = "round_cap"
                    return result

                turn.append({"role": "assistant", "content": reply.text or None,
                             "tool_calls": [call.message() for call in reply.tool_calls]})
                repeated = False
                proposal: Proposal | None = None
                caps.new_reply()
                for call in reply.tool_calls:
                    key = call.key()
                    if key in seen:
                        repeated = True
                        outcome = {"ok": False, "status": "repeated", "error": REPEATED_CALL}
                    elif self.toolbox.writes(call.name) and proposals:
                        outcome = {"ok": False, "status": "one_change_at_a_time", "error": ONE_CHANGE}
                    elif (refused := caps.admit(call.id)) is not None:  # over the calls per reply or per turn
                        outcome = refused
                    else:
                        seen.add(key)
                        outcome = await self._run_tool(state, call, emit)
                        result.tools_called.append(call.name)
                        if self.toolbox.malformed(outcome):
                            invalid_calls += 1
                        opened = self.toolbox.opened(state, outcome)
                        if opened is not None:
                            proposals += 1
                            proposal = opened
                    turn.append({"role": "tool", "tool_call_id": call.id, "content": _dump(outcome)})

                if proposal is not None:
                    shown_proposal = proposal.id
                    await emit(ProposalReady(proposal))
                    commit({"role": "assistant",
                            "content": f"{PROPOSED_PREFIX}{proposal.summary}"},
                           complete=True)
                    result.outcome, result.proposal = "proposal", proposal
                    return result
                if invalid_calls > MAX_INVALID_CALLS:
                    await emit(CodeReply(INVALID_CALLS_REPLY, "guard"))
                    commit({"role": "assistant", "content": INVALID_CALLS_REPLY}, complete=True)
                    result.outcome = "invalid_calls"
                    return result
                if repeated:
                    await emit(CodeReply(REPEAT_REPLY, "guard"))
                    commit({"role": "assistant", "content": REPEAT_REPLY}, complete=True)
                    result.outcome = "repeat"
                    return result
                if caps.turn_used_up:
                    await emit(CodeReply(CALL_CAP_REPLY, "guard"))
                    commit({"role": "assistant", "content": CALL_CAP_REPLY}, complete=True)
                    result.outcome = "call_cap"
                    return result
            raise AssertionError("unreachable: the last round either answers or hits the cap")  # pragma: no cover
        except asyncio.CancelledError:
            result.outcome = "stopped"
            commit({"role": "assistant", "content": STOPPED_NOTE}, complete=False)
            raise
        except (openai.OpenAIError, httpx.HTTPError, TimeoutError) as exc:
            log.warning("model call failed: %s", type(exc).__name__)
            sentence = explain_model_error(exc, model=self.model, base_url=self.base_url)
            result.outcome, result.error = "model_error", sentence
            commit({"role": "assistant", "content": f"(No answer: {sentence})"}, complete=False)
            await emit(CodeReply(sentence, "error"))
            return result
        except Exception:
            log.exception("chat turn failed")
            sentence = SOMETHING_WENT_WRONG
            result.outcome, result.error = "failed", sentence
            commit({"role": "assistant", "content": f"(No answer: {sentence})"}, complete=False)
            await emit(CodeReply(sentence, "error"))
            return result
        finally:
            state.answering(None)
            if not committed:  # a BaseException other than cancellation (KeyboardInterrupt, GeneratorExit, ...)
                commit({"role": "assistant", "content": STOPPED_NOTE}, complete=False)
            # A proposal made in a turn that did not finish was never shown: it must not stay confirmable.
            if (state.proposal is not None and state.proposal.id not in (proposal_before, shown_proposal)
                    and state.proposal.status == "open"):
                state.proposal = None

    async def _run_tool(self, state: SessionState, call: _ToolCall, emit: Emit) -> dict[str, Any]:
        arguments = call.parsed()
        await emit(ToolStarted(call.id, call.name, arguments, self.toolbox.label(call.name)))
        try:
            outcome = await self.toolbox.call(state, call.name, call.arguments)
        except Exception:  # a bug in a tool must not end the chat; the model can still answer
            log.exception("tool %s failed", call.name)
            outcome = {"ok": False, "status": "internal_error",
                       "error": "calbot failed to run this tool. Tell the user something went wrong on calbot's "
                                "side and nothing was changed."}
        await emit(ToolFinished(call.id, call.name, arguments, outcome, self.toolbox.shown_as(call.name)))
        return outcome

    async def _ask(self, state: SessionState, turn: list[dict[str, Any]], emit: Emit) -> _Reply:
        """One streamed chat.completions call; text pieces are emitted as they arrive, tool calls reassembled."""
        # client.post (the SDK's documented way to send a body as is) rather than chat.completions.create: create()
        # re-walks every message and the tools' JSON schemas through its TypedDict transform on each call, and each
        # streamed chunk would be built into a pydantic object; both were most of calbot's own time per turn.
        # Retries, timeouts, API errors and SSE decoding stay the SDK's. AsyncStream[object], not [dict[str, Any]]:
        # with `object` the SDK hands each decoded chunk over as is; with a dict type it walks every chunk through
        # its type construction again (about a seventh of the app's time with 100 chats, bench/).
        body = {"model": self.model, "messages": self.messages(state, turn), "tools": self.tools, "stream": True}
        stream = await self.client.post("/chat/completions", body=body, cast_to=object, stream=True,
                                        stream_cls=openai.AsyncStream[object])
        parts: list[str] = []
        calls: dict[int, _ToolCall] = {}
        try:
            async for chunk in stream:
                for choice in (chunk.get("choices") or []) if isinstance(chunk, dict) else []:
                    if not isinstance(choice, dict) or choice.get("index") not in (0, None):
                        continue
                    delta = choice.get("delta") or {}
                    content = delta.get("content")
                    if isinstance(content, str) and content:
                        parts.append(content)
                        await emit(TextDelta(content))
                    for piece in delta.get("tool_calls") or []:
                        if not isinstance(piece, dict):
                            continue
                        index = piece.get("index")
                        index = index if isinstance(index, int) else len(calls)
                        call = calls.setdefault(index, _ToolCall("", "", ""))
                        call.id = piece.get("id") or call.id
                        function = piece.get("function") or {}
                        name = function.get("name") or ""
                        if name and name != call.name:  # sent once by OpenAI, repeated by some servers
                            call.name = name if not call.name else call.name + name
                        call.arguments += function.get("arguments") or ""
        except openai.APIConnectionError as exc:
            if isinstance(exc, openai.APITimeoutError):
                raise
            # The server was reached and the stream broke mid-answer: say "cut off", not "could not reach".
            raise openai.APIError("The model's answer was cut off.", exc.request, body=None) from exc
        finally:
            await stream.close()
        text = "".join(parts)
        if text:
            await emit(TextDone(text))
        ordered = [calls[i] for i in sorted(calls)]
        for number, call in enumerate(ordered):
            call.id = call.id or f"call_{len(turn)}_{number}"
        return _Reply(text, [c for c in ordered if c.name])
