"""Shared helpers of the fault-injection suite (docs/reliability.md lists every case).

Every case drives a real ChatService (the loop, the executor and the Cal.com client) end to end:
- the model is the ScriptedModel, in process (`model`, through `model.client()`) or over real HTTP (`served`,
  a uvicorn ModelServer on 127.0.0.1) where the SDK's own retries and timeouts matter;
- Cal.com is `sandbox_cal` (also named `cal`): the sandbox calendar in process (tests/fakes/sandbox_calcom.py), every
  exchange checked against the OpenAPI document; its fault hooks through `fail_next` /
  `sandbox_cal.sandbox.server.add_fault(FaultSpec(...))`, transport errors such as a ReadTimeout raised on the
  client's side of it, and `answer_next` for hand-made answers such as a 429 with a short reset or an HTML page.

Both calendars and the model use real-looking secrets (OPENAI_SECRET, CAL_SECRET), so any case can check that no
key leaks. Each case asserts three things:
1. what the user is told: `Turn.told` (the CodeReply sentences and the model's finished texts of one message) or
   the outcome of `Chat.confirm()` / `Chat.discard()`;
2. the session state is intact: `assert_state_intact(state, user=..., pending=..., proposal=...)`;
3. exactly which writes reached the calendar: `cal.writes()` (every non-GET request Cal.com received, faulted ones
   included) and what the calendar holds (`booked(cal)`).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from calbot.agent.loop import CodeReply, ProposalReady, TextDone, ToolFinished, TurnResult
from calbot.booking.session import SessionState, User
from calbot.chat import ChatService
from calbot.config import Settings
from tests.agent.conftest import (  # noqa: F401 - fixtures re-exported for this folder
    FIXED_NOW,
    USER,
    Clock,
    Events,
    assert_history_valid,
    clean_env,
    clock,
    make_settings,
    model,
    served,  # the scripted model behind uvicorn on 127.0.0.1, reset for each case
)
from tests.agent.conftest import _served  # noqa: F401 - the module-scoped server behind `served`

from testing.openai_fake import ScriptedModel, call, say
from tests.fakes.sandbox_calcom import SandboxCalcom, fake_like_config, open_sandbox

OPENAI_SECRET = "sk-faults-openai-7Q2x9LmN4pR8vT1w"
CAL_SECRET = "cal_live_faults_9Zt4Kq7Wm2Xv5Bn8"
SECRETS = (OPENAI_SECRET, CAL_SECRET)
BOB = "bob@example.com"
HOST = "host@example.com"  # the calendar's owner (tests/fakes/sandbox_calcom.py)
BOOK = ("POST", "/v2/bookings")
UNSET: Any = object()
NO_PENDING = (None, {})


# -- calendars -------------------------------------------------------------------------------------------------------
@pytest.fixture
def sandbox_cal() -> Iterator[SandboxCalcom]:
    """The sandbox calendar in process (tests/fakes/sandbox_calcom.py), accepting CAL_SECRET."""
    yield from open_sandbox(FIXED_NOW, replace(fake_like_config(), api_key=CAL_SECRET))


@pytest.fixture
def cal(sandbox_cal: SandboxCalcom) -> SandboxCalcom:
    """The calendar of a case that any Cal.com must pass (the same sandbox as `sandbox_cal`)."""
    return sandbox_cal


def booked(cal: Any, *statuses: str) -> list[dict[str, Any]]:
    """The calendar's bookings (accepted and pending unless statuses are given)."""
    wanted = statuses or ("accepted", "pending")
    return [b for b in cal.bookings if b["status"] in wanted]


# -- chats -----------------------------------------------------------------------------------------------------------
@dataclass
class Turn:
    """One message's events and result."""

    result: TurnResult
    events: Events

    @property
    def told(self) -> list[str]:
        """What the user read: calbot's own sentences (not the first-reply notices) and the model's texts."""
        return [e.text for e in self.events.all
                if (isinstance(e, CodeReply) and e.kind != "notice") or isinstance(e, TextDone)]

    @property
    def text(self) -> str:
        return " ".join(self.told)

    @property
    def tool_results(self) -> list[tuple[str, dict[str, Any]]]:
        return [(e.name, e.result) for e in self.events.of(ToolFinished)]

    def result_of(self, tool: str) -> dict[str, Any]:
        found = [r for name, r in self.tool_results if name == tool]
        assert found, f"{tool} did not run: {self.tool_results}"
        return found[-1]

    @property
    def proposals(self) -> list[Any]:
        return [e.proposal for e in self.events.of(ProposalReady)]


class Chat:
    """One chat (a SessionState) on a ChatService. `user_before` is the identity to compare against later."""

    def __init__(self, service: ChatService, *, email: str | None = UNSET, name: str | None = None,
                 zone: str | None = None, verified: bool = True) -> None:
        self.service = service
        self.state = service.new_state()
        if email is not UNSET:  # a login gives this chat its user (the app's CAL_USER_EMAIL is one per process)
            self.state.user = User(email=email, name=name, email_verified=bool(email) and verified,
                                   time_zone=zone or self.state.user.time_zone,
                                   time_zone_source="setting")
        elif zone:
            self.state.user.time_zone = zone
        self.user_before = self.state.user.model_dump()

    async def send(self, text: str) -> Turn:
        events = Events()
        result = await self.service.handle_message(self.state, text, events)
        return Turn(result, events)

    async def confirm(self, proposal_id: str | None = None) -> dict[str, Any]:
        return await self.service.confirm(self.state, proposal_id or self._open_id())

    def discard(self, proposal_id: str | None = None) -> dict[str, Any]:
        return self.service.discard(self.state, proposal_id or self._open_id())

    def _open_id(self) -> str:
        assert self.state.proposal is not None, "no open proposal"
        return self.state.proposal.id


@pytest.fixture
async def make_service(model: ScriptedModel, clock: Clock,
                       make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., ChatService]]:
    """make(cal, *, model_client=<model in process, OPENAI_SECRET>, **setting overrides) -> ChatService on `cal`."""
    made: list[ChatService] = []

    def make(cal: Any, *, model_client: Any = UNSET, **overrides: Any) -> ChatService:
        values = {"openai_api_key": OPENAI_SECRET, "cal_api_key": CAL_SECRET, "cal_api_base_url": cal.base_url}
        values.update(overrides)
        service = ChatService(
            make_settings(**values),
            model_client=model.client(api_key=OPENAI_SECRET) if model_client is UNSET else model_client,
            cal_transport=cal.transport(),
            clock=clock)
        made.append(service)
        return service

    yield make
    for service in made:
        await service.aclose()


@pytest.fixture
def make_chat(make_service: Callable[..., ChatService]) -> Callable[..., Chat]:
    """make_chat(cal, **chat options) -> a Chat on a new ChatService (user ana@example.com, Europe/Berlin)."""
    def make(cal: Any, **options: Any) -> Chat:
        return Chat(make_service(cal), **options)
    return make


# -- the three assertions ----------------------------------------------------------------------------------------------
def assert_state_intact(state: SessionState, *, user: dict[str, Any], pending: tuple[str | None, dict] = NO_PENDING,
                        proposal: str | None = None) -> None:
    """The chat's state after a fault is one calbot can carry on from:

    - the history is one an OpenAI-compatible server accepts (every assistant tool_calls message followed by its
      tool results, no orphan, no empty message, ends with an assistant text);
    - no proposal is stuck in "executing" and no recorded outcome says "in_progress": exactly `proposal` (an id)
      is open, or none;
    - the pending function and arguments are exactly `pending`; the user (identity, zone) is exactly `user`;
    - every uid this chat made is one it has seen; the state round-trips through JSON unchanged and holds no key."""
    if state.history:
        assert_history_valid(state.history)
    if proposal is None:
        assert state.proposal is None, f"a proposal is still open: {state.proposal}"
    else:
        assert state.proposal is not None and state.proposal.id == proposal, state.proposal
        assert state.proposal.status == "open", f"proposal stuck in {state.proposal.status!r}"
    assert all(o.get("status") != "in_progress" for o in state.finished_proposals.values())
    assert (state.pending_function, state.pending_arguments) == pending
    assert state.user.model_dump() == user
    assert set(state.made_booking_uids) <= set(state.seen_booking_uids)
    dumped = state.to_json()
    assert SessionState.from_json(dumped) == state
    assert_no_secrets(dumped)


def assert_no_secrets(*texts: Any) -> None:
    """Neither key, whole or in part (its last 12 characters), appears in any of `texts` (dumped to JSON)."""
    blob = json.dumps([t if isinstance(t, str) else json.dumps(t, default=str) for t in texts])
    for secret in SECRETS:
        assert secret not in blob and secret[-12:] not in blob, f"a key leaked: ...{secret[-4:]}"


def relay(model: ScriptedModel, tool: str | None = None, **options: Any) -> None:
    """The scripted model tells the user exactly what the tool result says (its error, else its message)."""
    def answer(request: Any) -> Any:
        result = request.last_tool_result if isinstance(request.last_tool_result, dict) else {}
        return say(result.get("error") or result.get("message") or result.get("note") or "Done.")
    model.on_tool_result(tool, answer, **options)


# -- common conversations ----------------------------------------------------------------------------------------------
TOMORROW_3PM = "2026-11-24T15:00"  # Tuesday, Europe/Berlin = 14:00 UTC, inside the host's 09:00-17:00 London


async def propose_booking(chat: Chat, model: ScriptedModel, *, start: str = TOMORROW_3PM,
                          reason: str = "budget review") -> Turn:
    """One message that ends in a booking proposal (nothing written)."""
    model.on_user(f"^please book {re.escape(start)}", call("book_meeting", start=start, reason=reason))
    turn = await chat.send(f"please book {start} about {reason}")
    assert turn.result.outcome == "proposal", turn.told
    return turn


async def list_meetings(chat: Chat, model: ScriptedModel) -> Turn:
    """One message that lists the user's meetings (so their uids are seen in this chat)."""
    model.on_user("^show my meetings$", call("list_meetings"))
    model.on_tool_result("list_meetings", lambda req: say(f"You have {req.last_tool_result['count']} meeting(s)."),
                         when=lambda result: isinstance(result, dict) and result.get("ok"))
    turn = await chat.send("show my meetings")
    assert turn.result.outcome == "answered", turn.told
    return turn
