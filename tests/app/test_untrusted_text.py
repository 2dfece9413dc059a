"""app.py's PageRenderer with text calbot did not write (issue 15, finding 2): the model's streamed reply reaches the
page without images, look-alike links or HTML at every moment of the stream, with the same pacing as before (first
words at once, then at most every STREAM_FLUSH_SECONDS); tool steps and tables show invisible controls by name.
See tests/app/conftest.py for the recorded page."""

from __future__ import annotations

import asyncio
import tomllib
from datetime import UTC, datetime
from typing import Any

import chainlit as cl

from calbot.channels import chainlit_app as app
from calbot.agent.loop import TextDelta, TextDone, ToolFinished, ToolStarted
from calbot.safe_text import IMAGE_NOT_SHOWN
from calbot.sandbox.service import NewBooking
from tests.app.conftest import ROOT
from testing.openai_fake import call, say
from tests.markdown_hazards import BIDI_CONTROLS, hazards, visible

PAUSE = app.STREAM_FLUSH_SECONDS * 2  # longer than the flush interval: each piece would be on the page by then


def states(message) -> list[str]:
    """Each text the page held for a streamed message: after stream_start, after every token, and the final one."""
    held, seen = "", []
    for token in message.tokens:
        held += token
        seen.append(held)
    return [*seen, message.content]


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in strings(v)]
    return []


async def test_an_image_cut_across_pieces_is_never_on_the_page_not_even_for_a_moment(page):
    page.attach()
    renderer = app.PageRenderer()
    for piece in ["Here ", "![cal", "endar](http://127.0.0.1:9/p", "ixel?d=secret) done."]:
        await renderer.emit(TextDelta(piece))
        await asyncio.sleep(PAUSE)
    await renderer.emit(TextDone("(whole text)"))

    [message] = page.messages
    assert message.content == f"Here calendar {IMAGE_NOT_SHOWN} done." and message.sent
    for held in states(message):
        assert hazards(held) == [], held


async def test_the_first_words_still_go_at_once_while_a_link_is_held(page):
    page.attach()
    renderer = app.PageRenderer()
    await renderer.emit(TextDelta("Hello "))
    [message] = page.messages
    assert message.tokens == ["Hello "]  # at once, as before
    await renderer.emit(TextDelta("see [paypal.com"))
    await asyncio.sleep(PAUSE)
    assert message.content == "Hello see "  # the words before the bracket, within the interval; the link waits
    await renderer.emit(TextDelta("](http://evil.example/login) ok"))
    await asyncio.sleep(PAUSE)
    assert visible(message.content) == "Hello see paypal.com (http://evil.example/login) ok"
    await renderer.emit(TextDone("(whole text)"))
    assert message.sends == 1 and all(hazards(held) == [] for held in states(message))


async def test_a_reply_held_whole_until_its_end_is_still_one_message(page):
    page.attach()
    renderer = app.PageRenderer()
    await renderer.emit(TextDelta("[just a bracket"))
    assert page.messages == []
    await renderer.emit(TextDone("[just a bracket"))
    [message] = page.messages
    assert message.content == "[just a bracket" and message.sent and message.sends == 1


async def test_a_reply_cut_short_inside_an_image_shows_the_text_received(page):
    page.attach()
    renderer = app.PageRenderer()
    await renderer.emit(TextDelta("Look "))
    await renderer.emit(TextDelta("![x](http://127.0.0.1:9/p"))
    await renderer.finish()  # Stop or an error before TextDone

    [message] = page.messages
    assert message.sent and visible(message.content) == "Look ![x](http://127.0.0.1:9/p"
    assert hazards(message.content) == []


async def test_tool_steps_show_invisible_controls_by_name(page):
    page.attach()
    renderer = app.PageRenderer()
    arguments = {"reason": "pay \u202egpj.exe\u202c", "guests": ["\u2066x\u2069"]}
    await renderer.emit(ToolStarted("c1", "book_meeting", arguments))
    await renderer.emit(ToolFinished("c1", "book_meeting", arguments,
                                     {"ok": False, "untrusted": {"title": "\u202etitle", "with": ["a\u200fb"]}}))

    [step] = page.steps
    assert "<U+202E>gpj.exe<U+202C>" in step.input and "<U+2066>x<U+2069>" in step.input
    assert "<U+202E>title" in step.content and "a<U+200F>b" in step.content
    assert not set("".join(strings(page.events))) & set(BIDI_CONTROLS)
    assert arguments["reason"] == "pay \u202egpj.exe\u202c"  # what the executor and the model got is untouched


async def test_a_hostile_reply_and_a_hostile_booking_reach_the_page_inert(page, chat, model, sandbox):
    page.attach()
    name = "Visit https://paypal.com.evil.example \u202egpj.exe\u202c " + "W" * 3000
    sandbox.calendar.create(NewBooking(
        start=datetime(2026, 11, 24, 14, 0, tzinfo=UTC), event_type_id=1001, attendee_name=name,
        attendee_email="mallory@example.com", attendee_time_zone="Europe/Berlin", guests=("ana@example.com",)))
    model.on_user(r"show", call("list_meetings", from_date="2026-11-24"))
    model.on_tool_result("list_meetings", say(
        "Here ![calendar data](http://127.0.0.1:9/pixel?d=secret) and [paypal.com](http://127.0.0.1:9/login), "
        "<img src=http://127.0.0.1:9/raw.gif> <http://127.0.0.1:9/auto> www.paypal.com.evil.example "
        "mallory@example.com \u202ereversed\u202c. Done."))

    await app.on_message(cl.Message(content="show me my meetings on Tuesday"))

    table = page.message_with("| Day | Time |")
    answer = page.message_with("Done.")
    for message in page.messages:
        for held in states(message):
            assert hazards(held) == [], held
    assert not set("".join(strings(page.events))) & set(BIDI_CONTROLS)
    assert max(len(line) for line in table.content.splitlines()) < 400  # the 3000 W are cut
    assert "<U+202E>reversed<U+202C>" in answer.content and "paypal.com (http" in visible(answer.content)


def test_the_page_loads_the_stylesheet_that_wraps_long_words():
    ui = tomllib.loads((ROOT / ".chainlit" / "config.toml").read_text())["UI"]
    assert ui["custom_css"] == "/public/calbot.css"
    css = (ROOT / "public" / "calbot.css").read_text()
    assert ".message-content td" in css and "overflow-wrap: anywhere" in css
