"""app.py, the Chainlit front door, driven through its hooks with a mocked Chainlit context (see conftest.py).

The model is a ScriptedModel in process, the calendar the in-memory sandbox at Monday 23 November 2026 08:00 UTC;
the user is ana@example.com in Europe/Berlin. What the page shows is what the emitter was asked to send.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tomllib

import chainlit as cl
import pytest
from chainlit.user_session import user_sessions

from calbot.channels import chainlit_app as app
from calbot.agent.loop import TextDelta, TextDone
from calbot.sandbox import FaultSpec
from tests.app.conftest import CHAINLIT_ROOT, ROOT, Page, action_of
from testing.openai_fake import call, fail, say

BOOK_TEXT = "Book me 30 minutes tomorrow at 3pm about the budget review"
# 15:00 in Berlin (CET, UTC+1) on Tuesday 24 November 2026 = 14:00 UTC = 14:00 London: inside the host's hours.
BOOK_CALL = call("book_meeting", start="2026-11-24T15:00", reason="Budget review")
BOOKED_START_UTC = "2026-11-24T14:00:00"


def script_booking(model) -> None:
    model.on_user(r"\bbook\b", BOOK_CALL)


async def open_proposal(page: Page, model) -> cl.Message:
    """Send the booking message; return the proposal message as shown (the one with buttons)."""
    script_booking(model)
    await app.on_message(cl.Message(content=BOOK_TEXT))
    with_buttons = [m for m in page.messages if m.actions]
    assert len(with_buttons) == 1, page.texts
    return with_buttons[0]


def bookings(sandbox) -> list[dict]:
    return [b for b in sandbox.store.all() if b["status"] != "cancelled"]


# -- welcome screen, chat start, browser time zone ------------------------------------------------------------------

async def test_starters_are_the_four_tasks_each_with_a_message():
    starters = await app.starters()

    assert [s.label for s in starters] == ["Book a meeting", "Show my meetings", "Cancel a meeting",
                                           "Reschedule a meeting"]
    assert all(isinstance(s, cl.Starter) and s.message.strip() for s in starters)
    assert len({s.message for s in starters}) == 4
    for starter in starters:  # each with its icon, served from public/
        assert starter.icon and (ROOT / starter.icon.lstrip("/")).is_file(), starter.icon


async def saved_state():
    """This tab's chat as the session store has it (None: not saved yet)."""
    return await app.service.load_chat(app._chat_id())


async def test_chat_start_asks_the_browser_zone_stores_nothing_and_sends_no_chat_message(page, chat):
    page.attach()

    await app.on_chat_start()

    assert app._chat_id() == cl.context.session.thread_id  # the chat's id is Chainlit's thread id
    assert cl.user_session.get("state") is None  # the page keeps no chat state of its own
    assert await saved_state() is None  # a chat is stored once it has something to keep
    assert page.window_messages == [{"type": "calbot:time_zone?"}]
    assert page.kinds("send_step") == [] and page.kinds("stream_start") == []  # a message would hide the starters
    assert page.unexpected == []


async def test_browser_zone_from_the_window_message_becomes_the_users_zone(page, chat):
    page.attach()
    await app.on_chat_start()

    await app.on_window_message({"type": "calbot:time_zone", "time_zone": "America/New_York"})

    state = await saved_state()
    assert state.user.email == "ana@example.com"
    assert (state.user.time_zone, state.user.time_zone_source) == ("America/New_York", "browser")
    assert page.messages == []


@pytest.mark.parametrize("garbage", [
    None, "calbot:time_zone", 42, [], ["calbot:time_zone", "America/New_York"], {},
    {"type": "calbot:time_zone"}, {"type": "calbot:time_zone", "time_zone": None},
    {"type": "calbot:time_zone", "time_zone": 5}, {"type": "calbot:time_zone", "time_zone": "Mars/Olympus_Mons"},
    {"type": "calbot:time_zone", "time_zone": "../../etc/passwd"},
    {"type": "calbot:time_zone", "time_zone": "x" * 10_000},
    {"type": "other", "time_zone": "America/New_York"}, {"time_zone": "America/New_York"},
])
async def test_garbage_window_messages_are_ignored(page, chat, model, garbage):
    page.attach()
    await app.on_chat_start()

    await app.on_window_message(garbage)

    assert await saved_state() is None  # nothing stored: the chat keeps the setting's zone
    assert page.messages == [] and page.unexpected == []
    model.on_user("hi", say("Hello."))
    await app.on_message(cl.Message(content="hi"))
    state = await saved_state()
    assert (state.user.time_zone, state.user.time_zone_source) == ("Europe/Berlin", "setting")


# -- proposal, Confirm, Discard --------------------------------------------------------------------------------------

async def test_booking_message_shows_a_tool_step_and_a_proposal_with_confirm_and_discard(page, chat, model, sandbox):
    page.attach()
    await app.on_chat_start()

    proposal = await open_proposal(page, model)

    assert [s.name for s in page.steps] == ["Checking the time for your booking"]  # named for people
    step = page.steps[0]
    assert json.loads(step.input) == {"start": "2026-11-24T15:00", "reason": "Budget review"}
    assert json.loads(step.content)["status"] == "awaiting_confirmation"
    assert step.updates == 1 and step.last["end"]  # the step was closed with its result

    text = proposal.content
    assert "Tuesday 24 November 2026" in text
    assert "15:00–15:30" in text and "Europe/Berlin" in text  # local time and zone
    assert "30 minutes" in text
    assert "Budget review" in text

    state = await saved_state()
    assert state.proposal is not None
    assert proposal.labels == ["Confirm", "Discard"]
    assert [a["name"] for a in proposal.actions] == ["confirm", "discard"]
    assert all(a["payload"] == {"proposal_id": state.proposal.id} for a in proposal.actions)
    assert bookings(sandbox) == []  # nothing is written before Confirm
    assert model.calls_count == 1  # a proposal ends the turn without another model call
    assert page.unexpected == []


async def test_confirm_books_once_shows_the_result_and_removes_the_buttons(page, chat, model, sandbox):
    page.attach()
    proposal = await open_proposal(page, model)
    confirm = action_of(proposal, "Confirm")
    calls_before, mark = model.calls_count, page.mark()

    await app.on_confirm(confirm)

    made = bookings(sandbox)
    assert len(made) == 1
    assert made[0]["start"].startswith(BOOKED_START_UTC)
    assert made[0]["attendees"][0]["email"] == "ana@example.com"
    [result] = page.messages_since(mark)
    assert "Booked" in result.content
    assert "15:00–15:30" in result.content and "Europe/Berlin" in result.content
    assert made[0]["meetingUrl"] in result.content  # the join link
    assert proposal.actions == []
    assert sorted(a["label"] for a in proposal.removed_actions) == ["Confirm", "Discard"]
    assert "You pressed **Confirm**" in proposal.content
    assert model.calls_count == calls_before  # Confirm is executed by code

    # A second click on the same button (a double click): nothing more written, no second answer.
    mark = page.mark()
    events = len(page.events)
    await app.on_confirm(confirm)

    assert len(bookings(sandbox)) == 1
    assert page.messages_since(mark) == [] and page.events[events:] == []


async def test_two_concurrent_confirms_book_once_and_answer_once(page, chat, model, sandbox):
    page.attach()
    proposal = await open_proposal(page, model)
    mark = page.mark()

    await asyncio.gather(app.on_confirm(action_of(proposal, "Confirm")), app.on_confirm(action_of(proposal, "Confirm")))

    assert len(bookings(sandbox)) == 1
    assert [m.content.startswith("**✅ Booked") for m in page.messages_since(mark)] == [True]


async def test_discard_books_nothing_and_is_answered_without_the_model(page, chat, model, sandbox):
    page.attach()
    proposal = await open_proposal(page, model)
    calls_before, mark = model.calls_count, page.mark()

    await app.on_discard(action_of(proposal, "Discard"))

    assert bookings(sandbox) == []
    assert [m.content for m in page.messages_since(mark)] == ["Discarded: nothing was changed."]
    assert model.calls_count == calls_before
    assert proposal.actions == [] and "You pressed **Discard**" in proposal.content
    assert (await saved_state()).proposal is None

    # Confirm after Discard (a stale button): still nothing is booked.
    await app.on_confirm(action_of_removed(proposal, "Confirm"))
    assert bookings(sandbox) == []


def action_of_removed(message, label: str) -> cl.Action:
    [data] = [a for a in message.removed_actions if a["label"] == label]
    return cl.Action(**data)


async def test_typing_while_a_proposal_is_open_withdraws_it(page, chat, model, sandbox):
    page.attach()
    proposal = await open_proposal(page, model)
    model.on_user(r"weather", say("I only know about your calendar."))

    await app.on_message(cl.Message(content="What's the weather like?"))

    assert proposal.actions == []
    assert sorted(a["label"] for a in proposal.removed_actions) == ["Confirm", "Discard"]
    assert "Withdrawn" in proposal.content
    mark = page.mark()
    await app.on_confirm(action_of_removed(proposal, "Confirm"))
    assert bookings(sandbox) == []
    assert all("Booked" not in m.content for m in page.messages_since(mark))


async def test_a_second_discard_is_silent(page, chat, model, sandbox):
    page.attach()
    proposal = await open_proposal(page, model)
    discard = action_of(proposal, "Discard")

    await app.on_discard(discard)
    mark, events = page.mark(), len(page.events)
    await app.on_discard(discard)

    assert page.messages_since(mark) == [] and page.events[events:] == []
    assert bookings(sandbox) == []


@pytest.mark.parametrize("payload", [{}, {"proposal_id": 7}, {"proposal_id": None}, {"proposal_id": "nope"}])
async def test_confirm_with_a_forged_payload_writes_nothing(page, chat, model, sandbox, payload):
    page.attach()
    proposal = await open_proposal(page, model)
    mark = page.mark()

    await app.on_confirm(cl.Action(name="confirm", payload=payload, label="Confirm"))

    assert bookings(sandbox) == []
    [answer] = page.messages_since(mark)
    assert "no longer open" in answer.content and "nothing was changed" in answer.content
    assert proposal.labels == ["Confirm", "Discard"]  # the real proposal is untouched and still confirmable
    await app.on_confirm(action_of(proposal, "Confirm"))
    assert len(bookings(sandbox)) == 1


async def test_a_proposal_cannot_be_confirmed_from_another_chat(page, chat, model, sandbox):
    page.attach()
    proposal = await open_proposal(page, model)
    other = Page()
    try:
        other.attach()
        await app.on_chat_start()

        await app.on_confirm(action_of(proposal, "Confirm"))

        assert bookings(sandbox) == []
        assert len(other.messages) == 1 and "no longer open" in other.messages[0].content
        assert proposal.labels == ["Confirm", "Discard"]  # nothing was sent to the first tab
    finally:
        user_sessions.pop(other.session_id, None)


async def test_the_hooks_are_registered_with_chainlit_and_work_through_its_wrappers(page, chat, model, sandbox):
    """The same flow through what Chainlit's server calls: config.code.* (run steps, task start/end, wrappers)."""
    from chainlit.config import config

    code = config.code
    assert code.set_starters.__wrapped__ is app.starters
    assert code.on_window_message.__wrapped__ is app.on_window_message
    assert code.action_callbacks["confirm"].__wrapped__ is app.on_confirm
    assert code.action_callbacks["discard"].__wrapped__ is app.on_discard
    assert code.on_message is not None and code.on_chat_start is not None
    page.attach()
    script_booking(model)

    await code.on_chat_start()
    await code.on_window_message({"type": "calbot:time_zone", "time_zone": "Europe/London"})
    user_message = cl.Message(content=BOOK_TEXT, type="user_message")
    await code.on_message(user_message)

    [run] = page.runs("on_message")
    [step] = page.steps
    [proposal] = [m for m in page.messages if m.actions]
    assert "15:00–15:30 GMT (Europe/London)" in proposal.content  # read in the zone the browser reported
    # The tool step and the proposal are both children of the run step, so the page shows them in order.
    assert step.last["parentId"] == run.id and proposal.last["parentId"] == run.id
    assert all(a["name"] in code.action_callbacks for a in proposal.actions)  # each button has a callback

    await code.action_callbacks["confirm"](action_of(proposal, "Confirm"))
    await code.action_callbacks["confirm"](action_of_removed(proposal, "Confirm"))

    [booking] = bookings(sandbox)
    assert booking["start"].startswith("2026-11-24T15:00:00")  # 15:00 London is 15:00 UTC in November
    assert len([m for m in page.messages if "Booked" in m.content]) == 1
    assert proposal.actions == []
    # The zone asked for; the sandbox notice shown, so the browser is told to remember it (once per browser).
    assert page.window_messages == [{"type": "calbot:time_zone?"}, {"type": "calbot:notice_shown", "notice": "sandbox"}]
    assert page.unexpected == []


async def test_a_calcom_failure_at_confirm_is_a_sentence_not_the_raw_answer(page, chat, model, sandbox):
    page.attach()
    proposal = await open_proposal(page, model)
    # Twice: after the first 500 calbot looks for the booking, finds none and tries once more.
    sandbox.server.add_fault(FaultSpec(method="POST", path=r"/v2/bookings$", status=500, count=2,
                                       message="pg pool exhausted at db-7.internal:5432"))
    mark = page.mark()

    await app.on_confirm(action_of(proposal, "Confirm"))

    assert bookings(sandbox) == []
    [result] = page.messages_since(mark)
    assert result.content.startswith("**Not done.**")
    assert "pg pool" not in page.everything() and "db-7" not in page.everything()
    assert "Traceback" not in page.everything()


# -- lists, streaming, notices --------------------------------------------------------------------------------------

async def test_list_is_a_table_in_the_users_zone_with_the_zone_named(page, chat, model, sandbox):
    page.attach()
    await app.on_chat_start()
    proposal = await open_proposal(page, model)
    await app.on_confirm(action_of(proposal, "Confirm"))
    # The browser says New York: 14:00 UTC is 09:00 EST there.
    await app.on_window_message({"type": "calbot:time_zone", "time_zone": "America/New_York"})
    model.on_user(r"show", call("list_meetings", status="upcoming"))
    model.on_tool_result("list_meetings", say("That is your only meeting."))
    mark = page.mark()

    await app.on_message(cl.Message(content="Show me my scheduled meetings."))

    assert [s.name for s in page.steps_since(mark)] == ["Checking your calendar"]
    tables = [m.content for m in page.messages_since(mark) if "|---|" in m.content]
    assert len(tables) == 1, page.texts
    table = tables[0]
    assert "America/New_York" in table.replace("\\_", "_")  # Markdown-escaped in the source
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| Day | Time | What | With | Status |"
    assert len(rows) == 2
    assert "Tue 24 Nov 2026" in rows[1] and "09:00–09:30 EST" in rows[1]
    assert "15:00" not in table  # not Berlin time
    assert page.messages_since(mark)[-1].content == "That is your only meeting."


async def test_a_text_answer_is_streamed_and_ends_as_one_message(page, chat, model):
    page.attach()
    await app.on_message(cl.Message(content="first"))  # the notice goes with the first reply
    answer = "Hello Ana! I can book, list, cancel and reschedule your meetings."
    model.on_user(r"hello", say(answer))
    mark = page.mark()

    await app.on_message(cl.Message(content="hello"))

    [message] = page.messages_since(mark)
    assert message.content == answer
    # The fake sends every chunk at once: the first words show at once, the rest arrives with the finished message
    # (no event per chunk), and the message ends once, by send(), with all of its text.
    assert message.streamed and message.tokens == ["Hello "]
    assert page.kinds("send_token") == []
    assert message.sent and message.sends == 1
    assert message.last["output"] == answer


def _deltas(*texts: str) -> list[TextDelta]:
    return [TextDelta(text) for text in texts]


async def test_a_slow_stream_shows_every_piece_before_the_reply_ends(page):
    """A model that sends a piece, pauses, sends more: nothing waits for the next piece or for the end."""
    page.attach()
    renderer = app.PageRenderer()
    pause = app.STREAM_FLUSH_SECONDS * 2

    await renderer.emit(TextDelta("Checking "))
    [message] = page.messages
    assert message.tokens == ["Checking "]  # the first piece at once
    await renderer.emit(TextDelta("your "))  # within the interval: held back...
    await renderer.emit(TextDelta("calendar"))
    assert message.tokens == ["Checking "]
    await asyncio.sleep(pause)  # ...and shown when the interval is over, though no new piece came
    for _ in range(20):  # (a busy machine may run the timer's task a little late)
        if len(message.tokens) > 1:
            break
        await asyncio.sleep(pause)
    assert message.tokens == ["Checking ", "your calendar"] and message.content == "Checking your calendar"
    await renderer.emit(TextDelta("..."))  # after a pause longer than the interval: shown at once
    assert message.tokens[-1] == "..."
    assert not message.sent

    await renderer.emit(TextDone("Checking your calendar..."))
    assert message.sent and message.sends == 1 and message.content == "Checking your calendar..."
    assert renderer._flush_timer is None and not renderer._flushing


async def test_a_reply_cut_short_keeps_every_piece_received(page):
    page.attach()
    renderer = app.PageRenderer()
    for delta in _deltas("One ", "two ", "three"):
        await renderer.emit(delta)

    await renderer.finish()  # Stop or an error before TextDone

    [message] = page.messages
    assert message.sent and message.content == "One two three"
    await asyncio.sleep(app.STREAM_FLUSH_SECONDS * 2)  # the pending flush was cancelled: nothing is sent twice
    assert message.sends == 1 and len(message.tokens) == 1


async def test_two_replies_in_one_turn_are_two_messages(page):
    page.attach()
    renderer = app.PageRenderer()
    for event in [*_deltas("Looking ", "now."), TextDone("Looking now."), *_deltas("Found ", "it."),
                  TextDone("Found it.")]:
        await renderer.emit(event)

    assert page.texts == ["Looking now.", "Found it."]
    assert all(m.sent and m.sends == 1 for m in page.messages)


async def test_the_first_reply_carries_the_sandbox_notice_and_the_second_does_not(page, chat, model):
    page.attach()
    await app.on_chat_start()
    model.on_user(r".", say("Sure."))

    await app.on_message(cl.Message(content="hi"))
    first = page.texts
    mark = page.mark()
    await app.on_message(cl.Message(content="hi again"))
    second = [m.content for m in page.messages_since(mark)]

    assert len(first) == 2 and "CAL_API_KEY" in first[0] and "sandbox" in first[0] and first[1] == "Sure."
    assert second == ["Sure."]


# -- errors never reach the page raw --------------------------------------------------------------------------------

async def test_a_rejected_openai_key_is_a_sentence_naming_the_setting(page, chat, model):
    page.attach()
    await app.on_message(cl.Message(content="first"))
    model.on_user(r".", fail(401, "Incorrect API key provided: sk-abc***xyz", code="invalid_api_key"))
    mark = page.mark()

    await app.on_message(cl.Message(content="book me something"))

    [message] = page.messages_since(mark)
    assert "OPENAI_API_KEY" in message.content
    shown = page.everything()
    assert "sk-abc" not in shown and "Incorrect API key" not in shown and "Traceback" not in shown


async def test_an_exception_in_the_service_is_the_generic_sentence(page, chat, monkeypatch):
    page.attach()

    async def broken(*args, **kwargs):
        raise RuntimeError("secret-ish internal")

    monkeypatch.setattr(chat, "handle_message", broken)

    await app.on_message(cl.Message(content="hi"))

    assert page.texts == [app.SOMETHING_WENT_WRONG]
    assert "secret-ish" not in page.everything() and "Traceback" not in page.everything()


async def test_an_exception_while_streaming_ends_the_stream_and_shows_the_generic_sentence(page, chat, model,
                                                                                          monkeypatch):
    page.attach()
    real = chat.handle_message

    async def breaks_midway(state, text, emit):
        async def emit_then_fail(event):
            await emit(event)
            if type(event).__name__ == "TextDelta":
                raise RuntimeError("secret-ish internal")
        return await real(state, text, emit_then_fail)

    monkeypatch.setattr(chat, "handle_message", breaks_midway)
    model.on_user(r".", say("A long answer that will be cut short."))

    await app.on_message(cl.Message(content="hi"))

    state = await saved_state()
    assert any(m.content == app.SOMETHING_WENT_WRONG for m in page.messages)
    assert all(m.sent for m in page.messages)  # no half-streamed message left open
    assert "secret-ish" not in page.everything()
    assert state.history[-1]["role"] == "assistant"  # the turn was closed in the history


async def test_an_exception_at_confirm_is_the_generic_sentence(page, chat, model, sandbox, monkeypatch):
    page.attach()
    proposal = await open_proposal(page, model)

    async def broken(*args, **kwargs):
        raise RuntimeError("secret-ish internal")

    monkeypatch.setattr(chat, "confirm", broken)
    mark = page.mark()

    await app.on_confirm(action_of(proposal, "Confirm"))

    assert [m.content for m in page.messages_since(mark)] == [app.SOMETHING_WENT_WRONG]
    assert "secret-ish" not in page.everything()
    assert bookings(sandbox) == []


# -- configuration and the browser script -----------------------------------------------------------------------------

def test_chainlit_config_disables_editing_and_loads_the_time_zone_script():
    config = tomllib.loads((ROOT / ".chainlit" / "config.toml").read_text(encoding="utf-8"))

    assert config["features"]["edit_message"] is False
    assert config["UI"]["name"] == "calbot"
    assert config["UI"]["custom_js"] == "/public/calbot.js"
    assert (ROOT / "public" / "calbot.js").is_file()


def test_the_tests_ran_chainlit_with_the_repository_config_outside_the_repository():
    from chainlit.config import APP_ROOT, config

    assert CHAINLIT_ROOT is not None and APP_ROOT == str(CHAINLIT_ROOT)
    assert config.ui.name == "calbot" and config.features.edit_message is False


def test_time_zone_script_posts_the_zone_and_answers_the_request():
    source = (ROOT / "public" / "calbot.js").read_text(encoding="utf-8")
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in source
    assert re.search(r"""type:\s*["']calbot:time_zone["']""", source)
    assert re.search(r"""["']calbot:time_zone\?["']""", source)

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (scripts/test.sh installs it when run as root)")
    harness = """
const posted = [], listeners = [], timers = [];
const stored = {};
global.window = {
  postMessage: (data, origin) => posted.push({data, origin}),
  addEventListener: (type, fn) => listeners.push({type, fn}),
  localStorage: {getItem: (k) => (k in stored ? stored[k] : null), setItem: (k, v) => { stored[k] = String(v); }},
};
global.setTimeout = (fn, delay) => timers.push(delay);
eval(require("fs").readFileSync(process.argv[1], "utf8"));
const before = posted.length;
for (const l of listeners) if (l.type === "message") {
  l.fn({data: {type: "something else"}});
  l.fn({data: null});
  l.fn({data: {type: "calbot:time_zone?"}});
  l.fn({data: {type: "calbot:notice_shown", notice: "sandbox"}});  // the page showed the sandbox notice
  l.fn({data: {type: "calbot:time_zone?"}});  // the next chat: this browser has seen it
}
console.log(JSON.stringify({before, posted, timers}));
"""
    out = subprocess.run([node, "-e", harness, str(ROOT / "public" / "calbot.js")], capture_output=True, text=True,
                         timeout=20, env={"TZ": "America/New_York", "PATH": "/usr/bin:/bin"}, check=True)
    result = json.loads(out.stdout)
    assert result["before"] == 0  # nothing is posted before a request or a timer
    assert result["posted"] == [
        {"data": {"type": "calbot:time_zone", "time_zone": "America/New_York", "seen_notices": []}, "origin": "*"},
        {"data": {"type": "calbot:time_zone", "time_zone": "America/New_York", "seen_notices": ["sandbox"]},
         "origin": "*"}]
    assert result["timers"]  # and it also posts on its own shortly after loading


def test_chainlit_message_and_step_constructors_no_longer_block_the_event_loop():
    """app.py gives chainlit.message and chainlit.step a `time` whose sleep does nothing (their constructors call
    time.sleep(0.001), which blocks every chat); the real time module and its other functions are untouched."""
    import importlib
    import time

    for name in ("chainlit.message", "chainlit.step"):
        module_time = importlib.import_module(name).time
        assert module_time is not time and module_time.sleep is not time.sleep
        assert module_time.sleep(5) is None  # returns at once
        assert module_time.time is time.time and module_time.monotonic is time.monotonic
    assert time.sleep.__module__ == "time" or time.sleep.__name__ == "sleep"
