"""How calbot's chat looks on the Chainlit page: the loop's events become messages and steps (PageRenderer), a
proposal gets its Confirm and Discard buttons and what became of it (show_answer, close_proposal), a booked meeting
its calendar links. calbot/channels/chainlit_app.py holds the hooks; this module only renders.

It also sets the order of saved messages: Chainlit stamps each message and step and a reopened chat is sorted by
the stamps, so calbot replaces Chainlit's blocking 1 ms sleep with a clock that never repeats a stamp."""

from __future__ import annotations

import asyncio
import base64
import importlib
import time
import types
from uuid import uuid4
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import chainlit as cl

from calbot import safe_text
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
from calbot.channels import calendar_links, choices, markdown
from calbot.explain import FREE_TIMES_NEARBY, FREE_TIMES_TO_PRESS

# A streamed reply's first words go to the page at once; later pieces at most this often (one socket.io event each
# time instead of one per model chunk), and whatever is left goes with the finished message.
STREAM_FLUSH_SECONDS = 0.05
SEEN_SANDBOX_NOTICE = "calbot_seen_sandbox_notice"  # user_session key: this browser said it has seen it
WORKING = "Reading your request"  # the indicator's step while nothing of the reply has arrived


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


def _proposal_messages() -> dict[str, cl.Message]:
    messages = cl.user_session.get("proposal_messages")
    if messages is None:
        messages = {}
        cl.user_session.set("proposal_messages", messages)
    return messages



class PageRenderer:
    """Turns the loop's events into Chainlit messages and steps. The model's text goes through
    calbot.safe_text.ModelMarkdown on its way (no image, link or HTML of its own; invisible controls shown), tool
    steps show invisible controls by name, and what code renders comes from calbot/channels/markdown.py."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                 once_per_browser: str | None = None) -> None:
        self._now = now  # the time the booking rules go by (which listed meetings may still change)
        self._once_per_browser = once_per_browser  # the sandbox notice: shown once per browser, not every chat
        self.streaming: cl.Message | None = None
        self.steps: dict[str, cl.Step] = {}
        self._sanitiser = safe_text.ModelMarkdown()  # the reply being streamed; holds back only unfinished [ and ![
        self._unsent: list[str] = []  # streamed text not on the page yet
        self._flushed_at = 0.0
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()
        self._indicator: cl.Step | None = None

    async def working(self) -> None:
        """Show that calbot is at work until the first thing of the reply arrives (the model may take seconds)."""
        self._indicator = cl.Step(name=WORKING, type="llm", show_input=False)
        await self._indicator.send()

    async def _stop_working(self) -> None:
        if self._indicator is not None:
            indicator, self._indicator = self._indicator, None
            await indicator.remove()

    async def emit(self, event: Event) -> None:
        await self._stop_working()
        if isinstance(event, TextDelta):
            await self._stream(event.text)
        elif isinstance(event, TextDone):
            await self._end_stream()
        elif isinstance(event, ToolStarted):
            # A sibling of this reply's messages (children of the on_message run step), so it shows in order.
            parent = cl.context.current_step
            step = cl.Step(name=event.label or event.name, type="tool", show_input="json", language="json",
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
                zone = str(event.result.get("time_zone") or "UTC")
                await cl.Message(content=markdown.meetings_markdown(event.result),
                                 actions=choices.meeting_actions(event.result, zone, self._now())).send()
            elif times := choices.time_actions(event.result):
                note = FREE_TIMES_NEARBY if event.result.get("status") == "slot_unavailable" else FREE_TIMES_TO_PRESS
                await cl.Message(content=note, actions=times).send()
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
            if event.kind == "notice" and event.text == self._once_per_browser:
                if cl.user_session.get(SEEN_SANDBOX_NOTICE):
                    return  # this browser has seen it (public/calbot.js remembers)
                await cl.send_window_message({"type": "calbot:notice_shown", "notice": "sandbox"})
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
            # (ids with calbot's prefixes: public/calbot.css makes these two large, Confirm filled)
            cl.Action(name="confirm", payload=payload, label="Confirm", icon="check", id=f"calbot-confirm-{uuid4()}"),
            cl.Action(name="discard", payload=payload, label="Discard", icon="x", id=f"calbot-discard-{uuid4()}"),
        ])
        await message.send()
        _proposal_messages()[proposal.id] = message

    async def finish(self) -> None:
        """End a reply cut short (Stop, error): no half-streamed message or running tool step stays open."""
        await self._stop_working()
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
        content, elements = markdown.outcome_markdown(outcome), []
        if outcome.get("ok") and outcome.get("status") in ("booked", "rescheduled", "awaiting_host"):
            content, elements = _with_calendar_links(content, outcome.get("booking") or {})
        await cl.Message(content=content, elements=elements).send()
    elif outcome.get("status") == "discarded":
        await cl.Message(content="Discarded: nothing was changed.").send()


def _with_calendar_links(content: str, booking: dict[str, Any]) -> tuple[str, list[Any]]:
    """A booked or moved meeting with an .ics file to download and a Google Calendar link (calendar_links.py)."""
    try:
        entry = calendar_links.CalendarEntry.from_view(booking)
    except (KeyError, ValueError, TypeError):
        return content, []
    name = calendar_links.ics_filename(entry)
    # A data: URL, not a file in Chainlit's .files/ folder: that folder is per working directory, and any Chainlit
    # process stopping there deletes it (several processes, a restart), while a few hundred bytes travel as they are.
    data = base64.b64encode(calendar_links.ics_bytes(entry)).decode()
    file = cl.File(name=name, url=f"data:text/calendar;base64,{data}", mime="text/calendar", display="inline")
    link = calendar_links.google_calendar_url(entry)
    return f"{content}\n- **Add to your calendar:** {name} · [Google Calendar]({link})", [file]
