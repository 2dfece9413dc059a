"""The chat service: everything a front door (the Chainlit page, later a REST API or a messaging channel) needs to
hold a conversation, without Chainlit.

One ChatService per process holds what every chat shares: the settings, the Cal.com connection (opened on first
use, retried after a failure), the model client and the session store. Front doors name a chat by its id: each call
loads the chat from the store, runs under that chat's lock, and saves it (see calbot/sessions.py), so any process
can continue any chat. The same turn also runs on a SessionState the caller holds (tests, the bench, a shell):

    service = ChatService(load_settings())           # calbot.wiring.build_service: with the SQL store
    await service.send(chat_id, "book me 30 minutes tomorrow at 3pm about the budget", emit)
    await service.press_confirm(chat_id, proposal_id)  # the user's Confirm

    state = service.new_state()                        # or, holding the state yourself:
    await service.handle_message(state, "show me my meetings", emit)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import openai
from pydantic import BaseModel, Field

from calbot.agent import history
from calbot.agent.loop import (Agent, CodeReply, Emit, ProposalAnswered, ProposalReady, ProposalWithdrawn, ToolFinished,
                               TurnResult)
from calbot.agent.prompt import calendar_instructions
from calbot.booking.access import new_session
from calbot.booking.account import AccountError
from calbot.booking.answers import typed_answer
from calbot.booking.executor import Executor
from calbot.booking.session import SessionState
from calbot.calcom.budget import chat_scope
from calbot.config import DEFAULT_OPENAI_BASE_URL, Settings
from calbot.explain import CHANGE_IN_PROGRESS, PROPOSAL_NOT_OPEN, refused_server
from calbot.logs import install_redaction
from calbot.runtime import Calendar
from calbot.sandbox import Sandbox
from calbot.sessions import ChatsByIdMixin, Person, StoreOpener
from calbot.store.base import Clock, SessionStore, utc_now
from calbot.validation import strip_control

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4000
MODEL_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MODEL_RETRIES = 2


def new_model_client(api_key: str, base_url: str | None, *, timeout: httpx.Timeout | float = MODEL_TIMEOUT,
                     max_retries: int = MODEL_RETRIES) -> openai.AsyncOpenAI:
    """The model client calbot makes from its settings: the openai SDK over its aiohttp transport (openai[aiohttp],
    the SDK's documented choice "for improved concurrency performance"). With many chats streaming at once, the
    default transport's pool re-checks every open connection on each request and each close: a tenth of the app's
    time with 100 chats (bench/). Retries, timeouts and errors are the SDK's either way.

    Without `base_url` the default is passed explicitly: given none, the SDK would read OPENAI_BASE_URL from the
    environment itself, bringing back a value the settings refused (issue 15, finding 12)."""
    return openai.AsyncOpenAI(api_key=api_key, base_url=base_url or DEFAULT_OPENAI_BASE_URL, timeout=timeout,
                              max_retries=max_retries, http_client=openai.DefaultAioHttpClient())


class Choice(BaseModel):
    """A button that asks for something in code, without the model: a free time to book (`start`: the time as the
    tool result gave it, ISO 8601 in UTC), or a listed meeting to cancel or move (`booking_uid`). `label` is what
    the button said (calbot's own words and times, never text someone else wrote), noted in the history."""

    kind: Literal["book_at", "cancel", "move"]
    start: str | None = Field(default=None, max_length=40)
    booking_uid: str | None = Field(default=None, max_length=100)
    event_type_id: int | None = Field(default=None, gt=0)  # book_at: the kind of meeting the free times were for
    label: str = Field(max_length=120)


_CHOICE_TOOLS = {"book_at": "book_meeting", "cancel": "cancel_meeting", "move": "reschedule_meeting"}


EMPTY_MESSAGE_REPLY = "Tell me what you would like to do, for example: book a meeting tomorrow at 3pm."


class ChatService(ChatsByIdMixin):
    def __init__(self, settings: Settings, *, model_client: openai.AsyncOpenAI | None = None,
                 cal_transport: httpx.AsyncBaseTransport | None = None, sandbox: Sandbox | None = None,
                 clock: Callable[[], datetime] | None = None, store: SessionStore | None = None,
                 store_opener: StoreOpener | None = None, session_clock: Clock = utc_now):
        """`store` (or `store_opener`, awaited on first use and again after a failure): where chats live between
        messages; neither given: this process's memory (tests, a shell)."""
        super().__init__(store=store, store_opener=store_opener, ttl=settings.calbot_session_ttl,
                         session_clock=session_clock)
        self.settings = settings
        install_redaction([settings.openai_api_key_value, settings.cal_api_key_value])  # keys never reach a log
        self._model_client = model_client
        self._cal_transport = cal_transport
        self._sandbox = sandbox
        self._clock = clock
        self._calendar: Calendar | None = None
        self._agent: Agent | None = None
        self._connecting = asyncio.Lock()

    # -- shared resources ------------------------------------------------------------------------------------------
    def model_client(self) -> openai.AsyncOpenAI | None:
        """The model client, or None without OPENAI_API_KEY (the app still starts and says what to set)."""
        if self._model_client is None and self.settings.openai_api_key_value:
            self._model_client = new_model_client(self.settings.openai_api_key_value, self.settings.openai_base_url)
        return self._model_client

    async def calendar(self) -> Calendar:
        """The Cal.com connection, opened once. Raises AccountError (a sentence naming the setting) on failure;
        the next call tries again, so fixing a network problem needs no restart."""
        if self._calendar is None:
            async with self._connecting:
                if self._calendar is None:
                    calendar = await Calendar.connect(self.settings, transport=self._cal_transport,
                                                      sandbox=self._sandbox)
                    if self._clock is not None:
                        calendar.executor.clock = self._clock
                    self._calendar = calendar
        return self._calendar

    def now(self) -> datetime:
        """The time the booking rules go by (a test's frozen clock, else now)."""
        return self._clock() if self._clock is not None else datetime.now(UTC)

    async def _calendar_if_possible(self) -> Calendar | None:
        try:
            return await self.calendar()
        except AccountError:
            return None  # said by the step that needs the calendar

    async def agent(self) -> Agent | None:
        client = self.model_client()
        if client is None:
            return None
        if self._agent is None:
            calendar = await self.calendar()
            self._agent = Agent(client, self.settings.openai_model, calendar.executor,
                                instructions=calendar_instructions(calendar.executor),
                                base_url=self.settings.openai_base_url)
        return self._agent

    async def aclose(self) -> None:
        await self.close_store()
        if self._calendar is not None:
            await self._calendar.aclose()
            self._calendar = None
            self._agent = None
        if self._model_client is not None:
            await self._model_client.close()

    # -- chats -----------------------------------------------------------------------------------------------------
    def new_state(self, time_zone: str | None = None, *, person: Person | None = None) -> SessionState:
        """A new chat. The user is the signed-in `person` (their verified email; the chat is theirs), else
        CAL_USER_EMAIL / CAL_USER_NAME when set (verified: it comes from configuration). Zone: the one the person
        chose before (saved with their account, as if given in this chat), else `time_zone` (the browser's), else
        CALBOT_TIMEZONE, else the calendar host's once known."""
        settings = self.settings
        host_zone = self._calendar.account.host_time_zone if self._calendar is not None else None
        if person is not None:
            state = new_session(email=person.email, name=person.name, time_zone=settings.calbot_timezone,
                                host_time_zone=host_zone, email_verified=True)
            state.owner = person.email
            if person.time_zone:
                state.user.offer_zone(person.time_zone, "chat")
        else:
            state = new_session(email=settings.cal_user_email, name=settings.cal_user_name,
                                time_zone=settings.calbot_timezone, host_time_zone=host_zone)
        if time_zone:
            self.set_browser_zone(state, time_zone)
        return state

    @staticmethod
    def set_browser_zone(state: SessionState, time_zone: str) -> bool:
        """The zone the browser reports wins over the setting, but never over one the user gave in the chat."""
        return Executor.apply_browser_zone(state, time_zone)

    def notices(self) -> list[str]:
        """Sentences for the first reply of a chat: configuration problems and the sandbox notice."""
        notices = list(self.settings.problems)
        if self.settings.calendar_notice:
            notices.append(self.settings.calendar_notice)
        return notices

    async def handle_message(self, state: SessionState, text: str, emit: Emit) -> TurnResult:
        """One message from the user. Never raises for bad input, configuration or upstream errors: each becomes a
        CodeReply sentence. A typed message withdraws an open proposal (its buttons go away; nothing is written);
        an empty or over-long message is refused before that and changes nothing."""
        shown_now: list[str] = []
        if not state.notices_shown:
            state.notices_shown = True
            shown_now = self.notices()
            for notice in shown_now:
                await emit(CodeReply(notice, "notice"))

        cleaned = strip_control(text or "").strip()
        if not cleaned:
            await emit(CodeReply(EMPTY_MESSAGE_REPLY, "guard"))
            return TurnResult("refused")
        if len(cleaned) > MAX_MESSAGE_CHARS:
            sentence = (f"Your message is {len(cleaned):,} characters long; I can read up to "
                        f"{MAX_MESSAGE_CHARS:,}. Nothing was sent. Please shorten it and send it again.")
            await emit(CodeReply(sentence, "guard"))
            return TurnResult("refused", error=sentence)

        proposal = state.proposal
        if proposal is not None and proposal.status == "open":
            answer = typed_answer(cleaned, proposal.action)
            if answer is not None:  # a plain yes or no: the button, decided by code, without the model
                return await self._typed_answer(state, cleaned, proposal.id, answer, emit)

        await self._withdraw_open(state, emit)

        if self.settings.refused_server is not None:
            sentence = refused_server(self.settings.refused_server)
            await emit(CodeReply(sentence, "error"))
            return TurnResult("failed", error=sentence)
        if self.model_client() is None:
            sentence = ("I cannot answer yet: OPENAI_API_KEY is not set. Set it (and OPENAI_BASE_URL for another "
                        "OpenAI-compatible server) and restart calbot.")
            if not any("OPENAI_API_KEY is not set" in notice for notice in shown_now):  # (said once, not twice)
                await emit(CodeReply(sentence, "error"))
            return TurnResult("failed", error=sentence)
        try:
            agent = await self.agent()
        except AccountError as exc:
            await emit(CodeReply(str(exc), "error"))
            return TurnResult("failed", error=str(exc))
        assert agent is not None
        calendar = await self.calendar()
        if calendar.account.host_time_zone:  # (a chat made before the calendar was open)
            state.user.offer_zone(calendar.account.host_time_zone, "default")
        return await agent.run(state, cleaned, emit)

    async def _withdraw_open(self, state: SessionState, emit: Emit) -> None:
        """A new request (a message, a pressed choice) withdraws the open proposal. Withdrawing decides its fate, as
        Confirm and Discard do: only if this claim wins (a Confirm of it running in another process keeps it; the
        turn goes on and that Confirm's outcome is merged in)."""
        if state.proposal is None:
            return
        calendar = await self._calendar_if_possible()  # a chat saved by another process: maybe not open here yet
        if (calendar is not None and state.proposal.status != "executing"
                and await self.claim(state.chat_id, state.proposal.id)):
            withdrawn = calendar.executor.withdraw(state)
            if withdrawn is not None:
                await emit(ProposalWithdrawn(withdrawn))

    async def handle_choice(self, state: SessionState, choice: Choice, emit: Emit) -> dict[str, Any]:
        """The person pressed a free time or a meeting's Cancel or Move: the tool runs in code with what the
        button names (merged with the details already given, as a model's call would be), through the same rules
        (the slot checked again, the meeting theirs); a proposal still waits for Confirm. The open proposal, if any,
        is withdrawn first, as a typed message would (_withdraw_open). Returns the tool's result."""
        try:
            calendar = await self.calendar()
        except AccountError as exc:
            await emit(CodeReply(str(exc), "error"))
            return {"ok": False, "status": "calendar_error", "error": str(exc)}
        await self._withdraw_open(state, emit)
        name = _CHOICE_TOOLS[choice.kind]
        arguments: dict[str, Any] = ({"start": choice.start} if choice.kind == "book_at"
                                     else {"booking_uid": choice.booking_uid})
        if choice.kind == "book_at" and choice.event_type_id:
            arguments["event_type_id"] = choice.event_type_id
        uid = f" (uid {choice.booking_uid})" if choice.booking_uid else ""
        history.append(state.history, {"role": "user", "content": f"[The user pressed: {choice.label}{uid}]"})
        result = await calendar.executor.call(state, name, arguments)  # (counted as this chat's Cal.com requests)
        proposal = calendar.executor.opened(state, result)
        await emit(ToolFinished(f"choice-{state.turns_started}", name, arguments, result,
                                calendar.executor.shown_as(name)))
        if proposal is not None:
            await emit(ProposalReady(proposal))
            note = f"[calbot showed the proposal with Confirm and Discard: {proposal.summary}]"
        else:
            note = _choice_sentence(result)
            await emit(CodeReply(note, "guard"))
        history.append(state.history, {"role": "assistant", "content": note})
        return result

    async def _typed_answer(self, state: SessionState, text: str, proposal_id: str, answer: str,
                            emit: Emit) -> TurnResult:
        """The person typed yes or no to the open proposal: exactly what the Confirm or Discard button does (claimed
        once in the store, the outcome noted in the history after the words they typed)."""
        history.append(state.history, {"role": "user", "content": text})
        state.turns_started += 1
        if answer == "confirm":
            outcome = await self.confirm(state, proposal_id)
        else:
            await self._calendar_if_possible()
            won = await self.claim(state.chat_id, proposal_id)
            outcome = (self.discard(state, proposal_id) if won else
                       {"ok": False, "status": "in_progress", "message": CHANGE_IN_PROGRESS})
        if outcome.get("status") in ("in_progress", "no_proposal") or outcome.get("repeated"):
            history.append(state.history, {"role": "assistant", "content": str(outcome.get("message", ""))})
        await emit(ProposalAnswered(proposal_id, "Confirm" if answer == "confirm" else "Discard", outcome))
        return TurnResult("typed_answer")

    async def confirm(self, state: SessionState, proposal_id: str) -> dict[str, Any]:
        """The user pressed Confirm: execute the stored proposal once and note the outcome in the history. Once
        across processes: the store's claim on the proposal decides (one Confirm, Discard or withdrawal wins)."""
        calendar = await self.calendar()
        proposal = state.proposal
        if (proposal_id not in state.finished_proposals and proposal is not None and proposal.id == proposal_id
                and proposal.status != "executing" and not await self.claim(state.chat_id, proposal_id)):
            return {"ok": False, "status": "in_progress", "message": CHANGE_IN_PROGRESS}
        # Counted as this chat's, but not refused by its share: the person pressed the button on a checked change.
        with chat_scope(state.chat_id, held_to_share=False):
            outcome = await calendar.executor.confirm(state, proposal_id)
        if not outcome.get("repeated") and outcome.get("status") not in ("in_progress", "no_proposal"):
            self._note(state, "Confirm", outcome)
        return outcome

    def discard(self, state: SessionState, proposal_id: str) -> dict[str, Any]:
        """The user pressed Discard: answered by code, no model call, nothing written. (`press_discard` first
        claims the proposal in the store, so a Confirm of it in another process and this Discard cannot both win.)"""
        if self._calendar is None:
            return {"ok": False, "status": "no_proposal", "message": PROPOSAL_NOT_OPEN}
        outcome = self._calendar.executor.discard(state, proposal_id)
        if outcome.get("status") == "discarded":
            self._note(state, "Discard", outcome)
        return outcome

    @staticmethod
    def _note(state: SessionState, button: str, outcome: dict[str, Any]) -> None:
        history.append(state.history, history.button_note(button, outcome))


def _choice_sentence(result: dict[str, Any]) -> str:
    """What a pressed choice that made no proposal says: what is still missing, or why not."""
    if result.get("ask_user_for"):
        return "To go on, tell me " + ", ".join(str(x) for x in result["ask_user_for"]) + "."
    return str(result.get("error") or result.get("message") or "That could not be done; nothing was changed.")
