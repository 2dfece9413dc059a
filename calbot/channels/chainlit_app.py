"""calbot's Chainlit front door (`chainlit run app.py` imports this module): the hooks. The chat lives in the session
store (calbot/store) under Chainlit's thread id; this page keeps only that id (and the messages carrying buttons).
How things look is calbot/channels/chainlit_page.py; sign-in is calbot/channels/chainlit_auth.py.

- Replies stream; each tool call is a step named for people; lists and proposals are rendered by code.
- Free times and listed meetings carry buttons that act in code (calbot/channels/choices.py), without the model.
- A proposal is a message with Confirm and Discard buttons. Confirm executes the stored proposal once (a double click
  writes once); Discard is answered by code. Typing a new message withdraws the open proposal and its buttons.
- The browser's time zone arrives through public/calbot.js -> window message -> on_window_message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import chainlit as cl

from calbot import web_guard
from calbot.agent.loop import ProposalReady
from calbot.channels import chainlit_auth, choices
from calbot.channels.chainlit_auth import SignedOut
from calbot.channels.chainlit_page import (  # noqa: F401  (STREAM_FLUSH_SECONDS, close_proposal: for tests)
    SEEN_SANDBOX_NOTICE,
    STREAM_FLUSH_SECONDS,
    PageRenderer,
    close_proposal,
    show_answer,
)
from calbot.chat import Choice
from calbot.explain import (
    RESUMED_CHAT_GONE,
    RESUMED_PROPOSAL_EXPIRED,
    RESUMED_PROPOSAL_OPEN,
    SOMETHING_WENT_WRONG,
)
from calbot.sessions import Person
from calbot.wiring import build_service

log = logging.getLogger("calbot.app")
T = TypeVar("T")

service = build_service()  # no network or database at import: both open on the first chat
web_guard.install(service.settings.calbot_allowed_origins)  # only calbot's own page (and those listed) may drive it
chainlit_auth.install_login_answers()  # refused sign-ins said in words; the throttle's client address

TIME_ZONE_REQUEST = {"type": "calbot:time_zone?"}


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
        cl.Starter(label="Book a meeting", message="Help me book a meeting.", icon="/public/icons/book.svg"),
        cl.Starter(label="Show my meetings", message="Show me my scheduled meetings.",
                   icon="/public/icons/meetings.svg"),
        cl.Starter(label="Cancel a meeting", message="I want to cancel one of my meetings.",
                   icon="/public/icons/cancel.svg"),
        cl.Starter(label="Reschedule a meeting", message="I want to move one of my meetings to another time.",
                   icon="/public/icons/move.svg"),
    ]


def _chat_id() -> str:
    """This chat's id in the session store: Chainlit's thread id (what a resumed thread will bring back)."""
    return cl.context.session.thread_id


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
        await _renderer().show_proposal(ProposalReady(proposal))
        return
    await service.press_discard(_chat_id(), proposal.id, person=person)
    await cl.Message(content=RESUMED_PROPOSAL_EXPIRED).send()


@cl.on_window_message
async def on_window_message(data: Any) -> None:
    if isinstance(data, dict) and data.get("type") == "calbot:time_zone" and isinstance(data.get("time_zone"), str):
        if data.get("seen_notices") == ["sandbox"]:  # public/calbot.js: this browser was shown the sandbox notice
            cl.user_session.set(SEEN_SANDBOX_NOTICE, True)
        try:
            await service.report_zone(_chat_id(), data["time_zone"][:64], person=await _person())
        except SignedOut:
            return
        except Exception:  # the zone is asked for again by the next chat; the setting or host zone holds meanwhile
            log.exception("saving the browser's time zone failed")


def _renderer() -> PageRenderer:
    return PageRenderer(service.now, once_per_browser=service.settings.calendar_notice)


async def _guarded(what: str, step: Callable[[Person | None], Awaitable[T]]) -> T | None:
    """Run one step of this page's chat as the person on it. A person who must sign in again, or a step that fails,
    is told so on the page (never the error's text) and the step gives None."""
    try:
        return await step(await _person())
    except SignedOut as exc:
        await cl.Message(content=str(exc)).send()
    except Exception:
        log.exception("%s failed", what)
        await cl.Message(content=SOMETHING_WENT_WRONG).send()
    return None


@cl.on_message
async def on_message(message: cl.Message) -> None:
    renderer = _renderer()

    async def turn(person: Person | None) -> None:
        await renderer.working()
        await service.send(_chat_id(), message.content, renderer.emit, person=person)

    try:
        await _guarded("on_message", turn)
    finally:
        await renderer.finish()


def _proposal_id(action: cl.Action) -> str:
    value = (action.payload or {}).get("proposal_id")
    return value if isinstance(value, str) else ""


@cl.action_callback("confirm")
async def on_confirm(action: cl.Action) -> None:
    proposal_id = _proposal_id(action)
    outcome = await _guarded("confirm", lambda person: service.press_confirm(_chat_id(), proposal_id, person=person))
    if outcome is None:
        return
    await show_answer(proposal_id, "Confirm", outcome)


@cl.action_callback("discard")
async def on_discard(action: cl.Action) -> None:
    proposal_id = _proposal_id(action)
    outcome = await _guarded("discard", lambda person: service.press_discard(_chat_id(), proposal_id, person=person))
    if outcome is None:
        return
    await show_answer(proposal_id, "Discard", outcome)


@cl.action_callback(choices.CHOOSE)
async def on_choose(action: cl.Action) -> None:
    """A free time or a meeting's Cancel or Move, pressed: done in code (no model call); a proposal still waits."""
    try:
        choice = Choice.model_validate(action.payload or {})
    except ValueError:
        log.warning("ignored a malformed choice")
        return
    renderer = _renderer()
    try:
        await _guarded("choice", lambda person: service.choose(_chat_id(), choice, renderer.emit, person=person))
    finally:
        await renderer.finish()
