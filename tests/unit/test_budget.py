"""calbot/calcom/budget.py: the account's Cal.com requests per minute and each chat's share of them (issue 15,
finding 4), on a hand-moved clock; and the sentence a person gets when a request is not sent."""

from __future__ import annotations

import asyncio

import pytest

from calbot.calcom.budget import (
    CALCOM_KEY_LIMIT,
    CHAT_SHARE,
    MAX_TRACKED_CHATS,
    WINDOW_SECONDS,
    ChatScope,
    RateBudget,
    chat_scope,
    current_chat,
    enter_chat,
    leave_chat,
)
from calbot.calcom.errors import BudgetExceededError
from calbot.explain import explain


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def spend_until_refused(budget: RateBudget, scope: ChatScope | None, limit: int = 1000) -> int:
    for sent in range(limit):
        try:
            budget.spend(scope)
        except BudgetExceededError:
            return sent
    return limit


A, B = ChatScope("chat-a"), ChatScope("chat-b")


def test_defaults_are_calcoms_limit_and_a_quarter_of_it_per_chat() -> None:
    budget = RateBudget()
    assert budget.account_limit == CALCOM_KEY_LIMIT == 120
    assert budget.chat_limit == CALCOM_KEY_LIMIT // CHAT_SHARE == 30
    assert budget.period == WINDOW_SECONDS > 60  # never inside Cal.com's 60 s window twice


def test_a_chat_gets_its_share_and_is_then_refused_with_the_wait(clock) -> None:
    budget = RateBudget(120, clock=clock)
    for _ in range(30):
        budget.spend(A)
        clock.now += 0.5  # the first request was sent at 1000.0
    with pytest.raises(BudgetExceededError) as refused:
        budget.spend(A)
    assert refused.value.scope == "chat"
    assert refused.value.retry_after == pytest.approx(1000.0 + WINDOW_SECONDS - clock.now)


def test_another_chat_is_served_while_one_is_over_its_share(clock) -> None:
    budget = RateBudget(120, clock=clock)
    assert spend_until_refused(budget, A) == 30
    assert spend_until_refused(budget, B) == 30


def test_a_refused_request_is_not_counted(clock) -> None:
    budget = RateBudget(120, clock=clock)
    spend_until_refused(budget, A)
    for _ in range(50):  # a chat hammering while refused does not push its wait further out
        with pytest.raises(BudgetExceededError):
            budget.spend(A)
    clock.now += WINDOW_SECONDS
    assert spend_until_refused(budget, A) == 30
    assert spend_until_refused(budget, None) == 120 - 30  # the account window holds only what was sent


def test_the_window_slides(clock) -> None:
    budget = RateBudget(account_limit=4, chat_limit=2, period=10.0, clock=clock)
    budget.spend(A)  # t = 1000
    clock.now += 6
    budget.spend(A)  # t = 1006
    with pytest.raises(BudgetExceededError) as refused:
        budget.spend(A)
    assert refused.value.retry_after == pytest.approx(4.0)  # the first leaves the window at 1010
    clock.now += 4
    budget.spend(A)  # t = 1010
    with pytest.raises(BudgetExceededError) as refused:
        budget.spend(A)
    assert refused.value.retry_after == pytest.approx(6.0)  # the second leaves at 1016


def test_the_account_limit_holds_for_every_chat_together(clock) -> None:
    budget = RateBudget(120, clock=clock)
    served = [spend_until_refused(budget, ChatScope(f"chat-{n}")) for n in range(5)]
    assert served == [30, 30, 30, 30, 0]
    with pytest.raises(BudgetExceededError) as refused:
        budget.spend(ChatScope("chat-5"))
    assert refused.value.scope == "account"
    assert 0 < refused.value.retry_after <= WINDOW_SECONDS


def test_requests_outside_any_chat_count_for_the_account_only(clock) -> None:
    budget = RateBudget(120, clock=clock)
    assert spend_until_refused(budget, None) == 120
    with pytest.raises(BudgetExceededError) as refused:
        budget.spend(A)
    assert refused.value.scope == "account"


def test_no_limit_means_nothing_is_refused(clock) -> None:
    for budget in (RateBudget(None, clock=clock), RateBudget(0, clock=clock)):
        assert budget.chat_limit is None
        assert spend_until_refused(budget, A, limit=500) == 500
        assert budget.chats_tracked == 0


def test_a_scope_not_held_to_its_share_is_counted_but_not_refused(clock) -> None:
    budget = RateBudget(120, clock=clock)
    spend_until_refused(budget, A)
    confirm = ChatScope("chat-a", held_to_share=False)
    budget.spend(confirm)
    budget.spend(confirm)
    with pytest.raises(BudgetExceededError):
        budget.spend(A)
    assert spend_until_refused(budget, None) == 120 - 32  # both were counted for the account
    with pytest.raises(BudgetExceededError) as refused:  # and the account limit still holds for them
        budget.spend(confirm)
    assert refused.value.scope == "account"


def test_idle_chats_are_forgotten(clock) -> None:
    budget = RateBudget(10**9, clock=clock)
    for n in range(MAX_TRACKED_CHATS):
        budget.spend(ChatScope(f"old-{n}"))
    clock.now += WINDOW_SECONDS + 1
    budget.spend(ChatScope("busy"))
    budget.spend(ChatScope("new"))
    assert budget.chats_tracked == 2


def test_spend_uses_the_current_chat(clock) -> None:
    budget = RateBudget(120, clock=clock)
    with chat_scope("chat-a"):
        assert current_chat() == A
        assert spend_until_refused(budget, None) == 30
    assert current_chat() is None
    with chat_scope("chat-b"):
        budget.spend()


async def test_each_task_has_its_own_chat() -> None:
    seen: dict[str, object] = {}

    async def turn(chat_id: str) -> None:
        token = enter_chat(chat_id)
        try:
            await asyncio.sleep(0)  # the other chat's task runs in between
            seen[chat_id] = current_chat()
        finally:
            leave_chat(token)

    await asyncio.gather(turn("chat-a"), turn("chat-b"))
    assert seen == {"chat-a": A, "chat-b": B}
    assert current_chat() is None


@pytest.mark.parametrize(("scope", "words"), [
    ("chat", ["too fast", "this chat", "nothing was changed", "in 12 seconds"]),
    ("account", ["busy", "nothing was changed", "in 12 seconds"]),
])
def test_the_person_is_told_to_wait_and_for_how_long(scope: str, words: list[str]) -> None:
    sentence = explain(BudgetExceededError(scope, 11.2))
    for word in words:
        assert word in sentence, sentence
