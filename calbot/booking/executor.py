"""The executor: runs the model's tool calls for one Cal.com account, and the user's Confirm, Discard and withdrawal.

It only dispatches. The rules live beside each other in this package: who the user is and what they may change
(access.py), reading the calendar (reads.py), writes as proposals (proposals.py), Confirm once (confirm.py), the
tools (tools.py, one registry), what every answer looks like (results.py). Missing details make the call the
session's pending function; later calls merge into it. Holds no per-chat state: every call gets the chat's
SessionState.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from calbot.booking.session import Proposal, SessionState
from calbot.booking import access, proposals
from calbot.booking.account import Account
from calbot.booking.args import FIELD_WORDS, describe_validation
from calbot.booking.confirm import confirm as confirm_once
from calbot.booking.context import Context, utcnow
from calbot.booking.results import Status, fail
from calbot.booking.slots import StartRefused
from calbot.booking.tools import TOOLS, tool_schemas
from calbot.calcom import CalcomClient, CalcomError
from calbot.calcom.budget import chat_scope
from calbot.explain import explain
from calbot.timezones import TimeInputError

log = logging.getLogger(__name__)


class Executor:
    """Runs tool calls for one Cal.com account. Holds no per-chat state: every call gets the chat's SessionState."""

    def __init__(self, client: CalcomClient, account: Account, *, clock: Callable[[], datetime] = utcnow):
        self.ctx = Context(client, account, clock)

    # the context's parts, readable and settable here (a test or the chat service may set the clock)
    @property
    def client(self) -> CalcomClient:
        return self.ctx.client

    @client.setter
    def client(self, value: CalcomClient) -> None:
        self.ctx.client = value

    @property
    def account(self) -> Account:
        return self.ctx.account

    @account.setter
    def account(self, value: Account) -> None:
        self.ctx.account = value

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.ctx.clock

    @clock.setter
    def clock(self, value: Callable[[], datetime]) -> None:
        self.ctx.clock = value

    # -- sessions --------------------------------------------------------------------------------------------------
    def new_session(self, *, email: str | None = None, name: str | None = None, time_zone: str | None = None,
                    email_verified: bool | None = None) -> SessionState:
        """A fresh chat. `email` from configuration or a login is verified; the zone falls back to the host's."""
        return access.new_session(host_time_zone=self.ctx.account.host_time_zone, email=email, name=name,
                                  time_zone=time_zone,
                                  email_verified=email_verified)

    apply_browser_zone = staticmethod(access.apply_browser_zone)

    def is_owner(self, state: SessionState) -> bool:
        return access.is_owner(self.ctx, state)

    # -- tool calls ------------------------------------------------------------------------------------------------
    async def call(self, state: SessionState, name: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        """Run one tool call and return its result for the model. Never raises for bad input or Cal.com errors.
        Its Cal.com requests count against this chat's share of the account's rate limit (calcom/budget.py)."""
        with chat_scope(state.chat_id):
            return await self._call(state, name, arguments)

    async def _call(self, state: SessionState, name: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        tool = TOOLS.get(name)
        if tool is None:
            return fail(Status.INVALID_ARGUMENTS, f"There is no tool called {name!r}. Use one of: "
                                                  f"{', '.join(TOOLS)}.")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return fail(Status.INVALID_ARGUMENTS, f"The arguments of {name} are not valid JSON ({exc.msg}).")
        if not isinstance(arguments, dict):
            return fail(Status.INVALID_ARGUMENTS, f"The arguments of {name} must be a JSON object.")

        given = {k: v for k, v in arguments.items() if v not in (None, "", [])}
        merged = {**state.pending_arguments, **given} if state.pending_function == name else given
        try:
            args = tool.args.model_validate(merged)
        except ValidationError as exc:
            return fail(Status.INVALID_ARGUMENTS, f"{name}: {describe_validation(exc)}. Fix these and call again.")
        clean = args.model_dump(exclude_none=True)

        try:
            identity_problem = access.fill_identity(state, args)
            if identity_problem:
                return identity_problem
            missing = tool.args.missing(clean) + access.identity_missing(state, args)
            if missing:
                state.pending_function, state.pending_arguments = name, clean
                return {"ok": False, "status": str(Status.NEEDS_DETAILS), "tool": name, "missing": missing,
                        "have": clean, "ask_user_for": [FIELD_WORDS.get(m, m) for m in missing]}
            result = await tool.handler(self.ctx, state, args)
        except TimeInputError as exc:  # a StartRefused also says why: past, too far ahead...
            why = {"reason": exc.reason} if isinstance(exc, StartRefused) else {}
            result = fail(Status.INVALID_TIME, str(exc), **why)
        except OverflowError:  # the backstop: inputs are range-checked (args.py, timezones.py) so this never happens
            log.warning("tool %s: date arithmetic overflowed", name)
            result = fail(Status.INVALID_TIME, "That date is too far from today for calbot; ask for a date within "
                                               "a year.")
        except CalcomError as exc:
            log.info("tool %s failed: %s", name, type(exc).__name__)
            result = fail(Status.CALENDAR_ERROR, explain(exc))

        if tool.writes:
            # Keep what we have so a corrected call only needs the changed field; a proposal waits on Confirm.
            state.pending_function, state.pending_arguments = name, clean
        else:
            state.clear_pending(name)
        return result

    # -- what the chat loop asks of a toolbox (calbot.agent.toolbox) -------------------------------------------------
    @staticmethod
    def schemas() -> list[dict[str, Any]]:
        return tool_schemas()

    @staticmethod
    def writes(name: str) -> bool:
        tool = TOOLS.get(name)
        return tool is not None and tool.writes

    @staticmethod
    def label(name: str) -> str:
        tool = TOOLS.get(name)
        return tool.label if tool is not None else ""

    @staticmethod
    def shown_as(name: str) -> str | None:
        tool = TOOLS.get(name)
        return tool.shown_as if tool is not None else None

    @staticmethod
    def malformed(result: dict[str, Any]) -> bool:
        return result.get("status") == Status.INVALID_ARGUMENTS

    @staticmethod
    def opened(state: SessionState, result: dict[str, Any]) -> Proposal | None:
        """The proposal a write call opened, while it is still the chat's open one."""
        proposal = state.proposal
        if (result.get("status") == Status.AWAITING_CONFIRMATION and proposal is not None
                and proposal.id == result.get("proposal_id")):
            return proposal
        return None

    # -- the user's buttons ----------------------------------------------------------------------------------------
    async def confirm(self, state: SessionState, proposal_id: str) -> dict[str, Any]:
        """Execute the stored proposal exactly as stored, at most once (a second click gets the first outcome)."""
        return await confirm_once(self.ctx, state, proposal_id)

    def discard(self, state: SessionState, proposal_id: str) -> dict[str, Any]:
        return proposals.discard(state, proposal_id)

    def withdraw(self, state: SessionState) -> Proposal | None:
        """The user typed instead of pressing a button: the open proposal is dropped, its pending details kept."""
        return proposals.withdraw(state)
