"""Issue 15, finding 4: a model reply with many tool calls must not run them all, and one chat must not use up the
Cal.com account's rate budget for every other chat of the process.

The calendar here is the sandbox with Cal.com's own limit switched on (120 requests a minute per key, then a 60 s
block), so a chat that overspends really does leave the next chat rate-limited. What is checked: the calls run per
reply and per turn are capped, every call still gets a tool result (the OpenAI API needs one per tool_call id), the
stored history stays valid, and a second chat is served after the first one ran wild.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest

from calbot.agent.caps import CALL_CAP_REPLY, MAX_CALLS_PER_REPLY, MAX_CALLS_PER_TURN, NOT_RUN
from calbot.agent.loop import ToolStarted
from calbot.calcom.budget import CHAT_SHARE, ChatScope
from calbot.calcom.errors import BudgetExceededError
from calbot.chat import ChatService
from calbot.sandbox import Sandbox, SandboxConfig
from tests.agent.conftest import (
    Clock,
    Events,
    assert_history_valid,
    bookings_in,
    calendar_requests,
    parsed,
    tool_messages,
)
from testing.openai_fake import ToolCall, calls, call, say

FIRST_DAY = date(2026, 11, 24)
CALCOM_LIMIT = 120  # API-NOTES §11: requests per minute per API key


@pytest.fixture
def limited_sandbox(clock: Clock) -> Iterator[Sandbox]:
    """The sandbox calendar with Cal.com's rate limit on (the other agent tests switch it off)."""
    box = Sandbox(SandboxConfig(rate_limit=CALCOM_LIMIT), ":memory:", clock)
    yield box
    box.close()


@pytest.fixture
def limited_service(make_service: Callable[..., ChatService], limited_sandbox: Sandbox) -> ChatService:
    return make_service(sandbox_=limited_sandbox)


def list_calls(days: Iterator[int], count: int) -> object:
    """A reply with `count` list_meetings calls, each for another day (so none is a repeat of another)."""
    return calls(*(ToolCall("list_meetings", {"from_date": (FIRST_DAY + timedelta(days=next(days))).isoformat()})
                   for _ in range(count)))


def bookings_lists(sandbox: Sandbox) -> list[dict]:
    return calendar_requests(sandbox, "GET", "/v2/bookings")


def refused_for_rate(result: dict) -> bool:
    """calbot's own refusal of a chat over its share (not Cal.com's 429, which says it "is limiting" calbot)."""
    return result.get("status") == "calendar_error" and "too fast" in str(result.get("error", ""))


async def second_chat_is_served(service: ChatService, model, events: Events) -> None:
    """Another person's chat lists their meetings right afterwards: Cal.com answers it."""
    model.on_user("my meetings please", call("list_meetings"), times=1)
    other = service.new_state()
    result = await service.handle_message(other, "my meetings please", events)
    assert result.outcome == "answered", result
    (answer,) = tool_messages(other.history)
    assert parsed(answer)["ok"] is True, parsed(answer)
    assert_history_valid(other.history)


async def test_a_reply_with_150_list_calls_runs_at_most_the_cap_and_answers_every_call(
        limited_service, limited_sandbox, model, events):
    model.on_user("show me everything", list_calls(itertools.count(), 150))
    model.on_tool_result("list_meetings", say("Here is what I found."))
    state = limited_service.new_state()

    result = await limited_service.handle_message(state, "show me everything", events)

    assert result.outcome == "answered"
    assert len(events.of(ToolStarted)) == MAX_CALLS_PER_REPLY == len(result.tools_called)
    assert len(bookings_lists(limited_sandbox)) == MAX_CALLS_PER_REPLY  # one GET /v2/bookings per list run
    # The model got a result for every one of the 150 calls, in order, and the extra ones say they were not run.
    reply_ids = [c.id for c in model.requests[0].reply.tool_calls]
    sent = model.requests[1].messages
    results = [m for m in sent if m.get("role") == "tool"]
    assert [m["tool_call_id"] for m in results] == reply_ids and len(reply_ids) == 150
    statuses = [parsed(m).get("status") for m in results]
    assert statuses[MAX_CALLS_PER_REPLY:] == [NOT_RUN] * (150 - MAX_CALLS_PER_REPLY)
    assert NOT_RUN not in statuses[:MAX_CALLS_PER_REPLY]
    assert all(parsed(m)["error"] for m in results[MAX_CALLS_PER_REPLY:])
    # The stored turn keeps what ran (valid for the next request); the calls not run leave it with their results.
    assert_history_valid(state.history)
    assert len(tool_messages(state.history)) == MAX_CALLS_PER_REPLY

    await second_chat_is_served(limited_service, model, events)


async def test_a_model_that_keeps_asking_is_stopped_at_the_cap_per_turn(limited_service, limited_sandbox, model,
                                                                         events):
    days = itertools.count()
    model.on_user("everything", lambda _req: list_calls(days, MAX_CALLS_PER_REPLY))
    model.on_tool_result("list_meetings", lambda _req: list_calls(days, MAX_CALLS_PER_REPLY))
    state = limited_service.new_state()

    result = await limited_service.handle_message(state, "show me everything, day by day", events)

    assert result.outcome == "call_cap"
    assert len(result.tools_called) == MAX_CALLS_PER_TURN == len(bookings_lists(limited_sandbox))
    assert result.model_calls == MAX_CALLS_PER_TURN // MAX_CALLS_PER_REPLY + 1 == model.calls_count
    assert [c.text for c in events.codes("guard")] == [CALL_CAP_REPLY] and events.codes("error") == []
    assert_history_valid(state.history)
    assert state.history[-1] == {"role": "assistant", "content": CALL_CAP_REPLY}
    assert len(tool_messages(state.history)) == MAX_CALLS_PER_TURN


async def test_one_chat_cannot_use_up_the_accounts_rate_budget(limited_service, limited_sandbox, model, events):
    days = itertools.count()
    model.on_user("again", lambda _req: list_calls(days, MAX_CALLS_PER_TURN))
    model.on_tool_result("list_meetings", say("Done."))
    greedy = limited_service.new_state()

    told_to_wait = []
    for _ in range(20):  # far more than Cal.com's 120 a minute if every call ran
        await limited_service.handle_message(greedy, "again", events)
        told_to_wait += [parsed(m) for m in tool_messages(greedy.history) if refused_for_rate(parsed(m))]

    sent = len(bookings_lists(limited_sandbox))
    assert sent == CALCOM_LIMIT // CHAT_SHARE, f"one chat sent {sent} of the account's {CALCOM_LIMIT} a minute"
    assert told_to_wait, "the greedy chat was never told to slow down"
    assert "second" in told_to_wait[-1]["error"]  # "... try again in N seconds"
    assert_history_valid(greedy.history)

    await second_chat_is_served(limited_service, model, events)


async def test_calls_answered_by_another_guard_do_not_use_the_cap(service, model, sandbox, events):
    days = itertools.count(1)
    model.on_user("book", calls(
        ToolCall("book_meeting", {"start": "2026-11-24T15:00", "reason": "first"}),
        ToolCall("book_meeting", {"start": "2026-11-24T16:00", "reason": "second"}),  # one change at a time
        *list_calls(days, MAX_CALLS_PER_REPLY).tool_calls))
    state = service.new_state()

    result = await service.handle_message(state, "book it and show me the next days", events)

    assert result.outcome == "proposal"
    runs = MAX_CALLS_PER_REPLY - 1  # the book call and 7 lists; the refused write did not count
    assert result.tools_called == ["book_meeting"] + ["list_meetings"] * runs
    assert [e.name for e in events.of(ToolStarted)] == result.tools_called
    asked = [parsed(m).get("status") for m in model.requests[0].messages if m.get("role") == "tool"]
    assert asked == []  # a proposal ends the turn without asking the model again
    stored = [parsed(m).get("status") for m in tool_messages(state.history)]
    assert stored[:2] == ["awaiting_confirmation", "one_change_at_a_time"]
    assert NOT_RUN not in stored and len(stored) == 2 + runs  # the call not run left with its result
    assert_history_valid(state.history)


async def test_the_same_call_among_many_still_ends_the_turn_as_a_repeat(service, model, sandbox, events):
    reply = list_calls(itertools.count(1), MAX_CALLS_PER_REPLY + 1)
    model.on_user("show", calls(*reply.tool_calls, ToolCall("list_meetings", reply.tool_calls[0].arguments)))
    state = service.new_state()

    result = await service.handle_message(state, "show me the next days", events)

    assert result.outcome == "repeat" and result.model_calls == 1
    assert len(bookings_lists(sandbox)) == MAX_CALLS_PER_REPLY
    statuses = [parsed(m).get("status") for m in tool_messages(state.history)]
    assert statuses[-1] == "repeated" and NOT_RUN not in statuses
    assert len(statuses) == MAX_CALLS_PER_REPLY + 1
    assert_history_valid(state.history)


async def test_a_chat_over_its_share_can_still_confirm(limited_service, limited_sandbox, model, events):
    model.on_user("book", call("book_meeting", start="2026-11-24T15:00", reason="budget review"))
    model.on_user("my meetings", call("list_meetings"))
    state = limited_service.new_state()
    result = await limited_service.handle_message(state, "book tomorrow at 3pm about the budget review", events)
    assert result.outcome == "proposal"
    budget = (await limited_service.calendar()).client.budget
    used_up = 0
    while True:  # the rest of this chat's share goes (as if it had asked for many other things)
        try:
            budget.spend(ChatScope(state.chat_id))
        except BudgetExceededError as exc:
            assert exc.scope == "chat"
            break
        used_up += 1
    assert used_up < budget.chat_limit

    outcome = await limited_service.confirm(state, result.proposal.id)

    assert outcome["ok"] is True, outcome
    assert [b["status"] for b in bookings_in(limited_sandbox)] == ["accepted"]
    # ... while a new question of this chat is still held to its share
    await limited_service.handle_message(state, "my meetings", events)
    assert refused_for_rate(parsed(tool_messages(state.history)[-1]))
