"""calbot's Chainlit front door (`chainlit run app.py` imports this module): hooks and rendering only. The chat lives
in the session store (calbot/store) under Chainlit's thread id; this page keeps only that id (and the messages
carrying buttons).

- Replies stream; each tool call is a step; lists and proposals are rendered by code (calbot/channels/markdown.py).
- A proposal is a message with Confirm and Discard buttons. Confirm executes the stored proposal once (a double click
  writes once); Discard is answered by code. Typing a new message withdraws the open proposal and its buttons.
- The browser's time zone arrives through public/calbot.js -> window message -> on_window_message.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
import types
from datetime import UTC, datetime
from typing import Any

import chainlit as cl

from calbot import safe_text, web_guard
from calbot.channels import chainlit_auth, markdown
from calbot.channels.chainlit_auth import SignedOut
from calbot.agent.loop import (
    CodeReply,
    Event,
    ProposalAnswered,
    ProposalReady,
    ProposalWithdrawn,
    TextDelta,
    TextDone,
    ToolFinished,
    ToolStarted,
)
from calbot.explain import (RESUMED_CHAT_GONE, RESUMED_PROPOSAL_EXPIRED, RESUMED_PROPOSAL_OPEN,
                            SOMETHING_WENT_WRONG)
from calbot.sessions import Person
from calbot.wiring import build_service

log = logging.getLogger("calbot.app")


def _without_constructor_sleep() -> None:
    """Chainlit 2.12's Message and Step constructors call time.sleep(0.001), only to space the created_at stamps its
    data layer sorts by (calbot has no data layer; the page shows messages in the order they are sent). In an asyncio
    server that sleep blocks every chat at once: ~5 ms per turn, half a second when 100 chats send together
    (bench/). Upstream has been removing these sleeps (Chainlit PRs #1374, #1634); until 2.12's remaining ones go,
    the two modules get a `time` whose sleep does not block. Everything else in them uses the real module."""
    quiet = types.SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("__")})
    quiet.sleep = lambda seconds: None
    for name in ("chainlit.message", "chainlit.step"):  # (chainlit.step as an attribute is the @step decorator)
        module = importlib.import_module(name)
        if getattr(module, "time", None) is time:
            module.time = quiet


_without_constructor_sleep()


class _IncreasingClock:
    """Chainlit stamps each message and step with utc_now() and a saved chat is shown sorted by those stamps (as
    text). Without the sleep above, two stamps can fall in the same microsecond; this clock never gives the same
    or an earlier stamp twice in a process (a chat's turn runs in one process), always with six digits of
    microseconds so that the text sorts as the time does."""

    def __init__(self) -> None:
        self._last = datetime.min

    def __call__(self) -> str:
        now = datetime.now(UTC).replace(tzinfo=None)
        if now <= self._last:
            now = self._last + _ONE_MICROSECOND
        self._last = now
        return now.isoformat(timespec="microseconds") + "Z"


_ONE_MICROSECOND = datetime.resolution
stamp = _IncreasingClock()
for _module in ("chainlit.emitter", "chainlit.message", "chainlit.step"):
    importlib.import_module(_module).utc_now = stamp
utc_now = stamp  # (this module's tool steps too)

service = build_service()  # no network or database at import: both open on the first chat
web_guard.install(service.settings.calbot_allowed_origins)  # only calbot's own page (and those listed) may drive it
chainlit_auth.install_login_answers()  # refused sign-ins said in words; the throttle's client address

TIME_ZONE_REQUEST = {"type": "calbot:time_zone?"}
# A streamed reply's first words go to the page at once; later pieces at most this often (one socket.io event each
# time instead of one per model chunk), and whatever is left goes with the finished message.
STREAM_FLUSH_SECONDS = 0.05


@cl.on_app_startup
async def on_app_startup() -> None:
    """Sign-in and saved chats when there are accounts (before any request). Chainlit only logs an exception from
    this hook and serves on: a failure here stops the server instead, so the page never opens without sign-in by
    mistake."""
    try:
        await chainlit_auth.start(service)
    except Exception as exc:
        log.critical("calbot could not set up sign-in; stopping")
        raise SystemExit(1) from exc


@cl.on_app_shutdown
async def on_app_shutdown() -> None:
    await service.aclose()  # the store's connections, the Cal.com client, the model client


@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    return [
        cl.Starter(label="Book a meeting", message="Help me book a meeting."),
        cl.Starter(label="Show my meetings", message="Show me my scheduled meetings."),
        cl.Starter(label="Cancel a meeting", message="I want to cancel one of my meetings."),
        cl.Starter(label="Reschedule a meeting", message="I want to move one of my meetings to another time."),
    ]


def _chat_id() -> str:
    """This chat's id in the session store: Chainlit's thread id (what a resumed thread will bring back)."""
    return cl.context.session.thread_id


def _proposal_messages() -> dict[str, cl.Message]:
    messages = cl.user_session.get("proposal_messages")
    if messages is None:
        messages = {}
        cl.user_session.set("proposal_messages", messages)
    return messages


async def _person() -> Person | None:
    """Who is chatting (None: single-user mode). Raises SignedOut (its sentence is for the person)."""
    return await chainlit_auth.person(service)


@cl.on_chat_start
async def on_chat_start() -> None:
    await cl.send_window_message(TIME_ZONE_REQUEST)  # public/calbot.js answers with the browser's zone


@cl.on_chat_resume
async def on_chat_resume(thread: dict[str, Any]) -> None:
    """A saved chat reopened (the sidebar, its URL, after a restart): Chainlit shows its messages again; calbot's
    chat continues from the store. An open proposal is offered again while its time is still ahead, else it is
    closed, saying so. Someone else's chat is never shown (Chainlit checks the thread's author; the store too)."""
    await cl.send_window_message(TIME_ZONE_REQUEST)
    try:
        person = await _person()
        state = await service.load_chat(_chat_id(), person=person)
    except SignedOut as exc:
        await cl.Message(content=str(exc)).send()
        return
    except Exception:
        log.exception("resuming a chat failed")
        await cl.Message(content=SOMETHING_WENT_WRONG).send()
        return
    if state is None:
        await cl.Message(content=RESUMED_CHAT_GONE).send()
        return
    proposal = state.proposal
    if proposal is None or proposal.status != "open":
        return
    if proposal.start > service.now():
        await cl.Message(content=RESUMED_PROPOSAL_OPEN).send()
        await PageRenderer().show_proposal(ProposalReady(proposal))
        return
    await service.press_discard(_chat_id(), proposal.id, person=person)
    await cl.Message(content=RESUMED_PROPOSAL_EXPIRED).send()


@cl.on_window_message
async def on_window_message(data: Any) -> None:
    if isinstance(data, dict) and data.get("type") == "calbot:time_zone" and isinstance(data.get("time_zone"), str):
        try:
            await service.report_zone(_chat_id(), data["time_zone"][:64], person=await _person())
        except SignedOut:
            return
        except Exception:  # the zone is asked for again by the next chat; the setting or host zone holds meanwhile
            log.exception("saving the browser's time zone failed")


class PageRenderer:
    """Turns the loop's events into Chainlit messages and steps. The model's text goes through
    calbot.safe_text.ModelMarkdown on its way (no image, link or HTML of its own; invisible controls shown), tool
    steps show invisible controls by name, and what code renders comes from calbot/channels/markdown.py."""

    def __init__(self) -> None:
        self.streaming: cl.Message | None = None
        self.steps: dict[str, cl.Step] = {}
        self._sanitiser = safe_text.ModelMarkdown()  # the reply being streamed; holds back only unfinished [ and ![
        self._unsent: list[str] = []  # streamed text not on the page yet
        self._flushed_at = 0.0
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    async def emit(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            await self._stream(event.text)
        elif isinstance(event, TextDone):
            await self._end_stream()
        elif isinstance(event, ToolStarted):
            # A sibling of this reply's messages (children of the on_message run step), so it shows in order.
            parent = cl.context.current_step
            step = cl.Step(name=event.name, type="tool", show_input="json", language="json",
                           parent_id=parent.id if parent else None)
            step.input = safe_text.reveal_all(event.arguments if isinstance(event.arguments, dict)
                                              else {"arguments": event.arguments})
            step.start = utc_now()
            await step.send()
            self.steps[event.call_id] = step
        elif isinstance(event, ToolFinished):
            step = self.steps.pop(event.call_id, None)
            if step is not None:
                step.output = safe_text.reveal_all(event.result)
                step.end = utc_now()
                await step.update()
            if event.shown_as == "meetings" and event.result.get("ok"):
                await cl.Message(content=markdown.meetings_markdown(event.result)).send()
            elif event.shown_as == "zone_change" and event.result.get("pending_times"):
                await cl.Message(content=markdown.zone_change_markdown(event.result)).send()
        elif isinstance(event, ProposalReady):
            await self.show_proposal(event)
        elif isinstance(event, ProposalAnswered):  # a typed yes or no: shown as the button's press would be
            await show_answer(event.proposal_id, event.button, event.outcome, typed=True)
        elif isinstance(event, ProposalWithdrawn):
            await close_proposal(event.proposal.id, "_Withdrawn because you sent a new message: nothing was "
                                                    "changed._")
        elif isinstance(event, CodeReply):
            text = f"ℹ️ {event.text}" if event.kind == "notice" else event.text
            await cl.Message(content=safe_text.reveal(text)).send()

    async def _stream(self, text: str) -> None:
        text = self._sanitiser.feed(text)
        if not text:  # all of it held back (an unfinished [ or ![): it goes out once known, or with the message
            return
        loop = asyncio.get_running_loop()
        if self.streaming is None:
            self.streaming = cl.Message(content="", created_at=utc_now())  # in order when the chat is reopened
            self._flushed_at = loop.time()
            await self.streaming.stream_token(text)
            return
        self._unsent.append(text)
        waited = loop.time() - self._flushed_at
        if waited >= STREAM_FLUSH_SECONDS:
            await self._flush()
        elif self._flush_timer is None:  # a model that pauses mid-sentence: what it sent shows within the interval
            self._flush_timer = loop.call_later(STREAM_FLUSH_SECONDS - waited, self._flush_soon)

    def _flush_soon(self) -> None:
        self._flush_timer = None
        task = asyncio.ensure_future(self._flush())  # runs in this chat's context (call_later copied it)
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    def _cancel_flush_timer(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None

    async def _flush(self) -> None:
        self._cancel_flush_timer()
        if self.streaming is None or not self._unsent:
            return
        text = "".join(self._unsent)
        self._unsent.clear()
        self._flushed_at = asyncio.get_running_loop().time()
        await self.streaming.stream_token(text)

    async def _end_stream(self) -> None:
        """The reply is complete: the finished message carries all of its text (nothing left behind in the buffer)."""
        self._cancel_flush_timer()
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
        rest = "".join(self._unsent) + self._sanitiser.finish()  # finish() also readies it for the next reply
        self._unsent.clear()
        if self.streaming is None and rest:  # a reply held back whole
            self.streaming = cl.Message(content="")
        if self.streaming is not None:
            self.streaming.content += rest
            await self.streaming.send()
            self.streaming = None

    async def show_proposal(self, event: ProposalReady) -> None:
        proposal = event.proposal
        payload = {"proposal_id": proposal.id}
        message = cl.Message(content=markdown.proposal_markdown(proposal), actions=[
            cl.Action(name="confirm", payload=payload, label="Confirm", icon="check"),
            cl.Action(name="discard", payload=payload, label="Discard", icon="x"),
        ])
        await message.send()
        _proposal_messages()[proposal.id] = message

    async def finish(self) -> None:
        """End a reply cut short (Stop, error): no half-streamed message or running tool step stays open."""
        await self._end_stream()
        for step in self.steps.values():  # a tool cut short by Stop: close its step
            step.output = {"ok": False, "status": "stopped", "error": "Stopped before it finished."}
            step.end = utc_now()
            await step.update()
        self.steps.clear()


async def close_proposal(proposal_id: str, note: str) -> None:
    """Take the buttons off a proposal message and say what became of it."""
    message = _proposal_messages().pop(proposal_id, None)
    if message is None:
        return
    await message.remove_actions()
    message.actions = []
    message.content = f"{message.content}\n\n{note}"
    await message.update()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    renderer = PageRenderer()
    try:
        await service.send(_chat_id(), message.content, renderer.emit, person=await _person())
    except SignedOut as exc:
        await cl.Message(content=str(exc)).send()
    except Exception:
        log.exception("on_message failed")
        await cl.Message(content=SOMETHING_WENT_WRONG).send()
    finally:
        await renderer.finish()


def _proposal_id(action: cl.Action) -> str:
    value = (action.payload or {}).get("proposal_id")
    return value if isinstance(value, str) else ""


@cl.action_callback("confirm")
async def on_confirm(action: cl.Action) -> None:
    proposal_id = _proposal_id(action)
    try:
        outcome = await service.press_confirm(_chat_id(), proposal_id, person=await _person())
    except SignedOut as exc:
        await cl.Message(content=str(exc)).send()
        return
    except Exception:
        log.exception("confirm failed")
        await cl.Message(content=SOMETHING_WENT_WRONG).send()
        return
    await show_answer(proposal_id, "Confirm", outcome)


async def show_answer(proposal_id: str, button: str, outcome: dict[str, Any], *, typed: bool = False) -> None:
    """What a press of Confirm or Discard (or the same answer typed) became, on the page."""
    if outcome.get("repeated") or outcome.get("status") == "in_progress":
        if typed:  # a click is answered once; a typed answer always gets a sentence
            await cl.Message(content=markdown.escape(outcome.get("message"))).send()
        return  # a second click on the same proposal: it was (or is being) done once, and answered once
    if outcome.get("status") == "no_proposal":
        await close_proposal(proposal_id, "_This proposal is no longer open: nothing was changed._")
        await cl.Message(content=markdown.escape(outcome.get("message"))).send()
        return
    how = "You answered" if typed else "You pressed"
    await close_proposal(proposal_id, f"_{how} **{button}**._")
    if button == "Confirm":
        await cl.Message(content=markdown.outcome_markdown(outcome)).send()
    elif outcome.get("status") == "discarded":
        await cl.Message(content="Discarded: nothing was changed.").send()


@cl.action_callback("discard")
async def on_discard(action: cl.Action) -> None:
    proposal_id = _proposal_id(action)
    try:
        outcome = await service.press_discard(_chat_id(), proposal_id, person=await _person())
    except SignedOut as exc:
        await cl.Message(content=str(exc)).send()
        return
    except Exception:
        log.exception("discard failed")
        await cl.Message(content=SOMETHING_WENT_WRONG).send()
        return
    await show_answer(proposal_id, "Discard", outcome)
