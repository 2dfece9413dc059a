"""The Cal.com client spends its RateBudget (calbot/calcom/budget.py) before every request it sends, at the HTTP level
with respx: a request over the current chat's share or the account's limit never reaches Cal.com, is not retried,
and other chats are still served. Calendar.connect gives the client the limit of the calendar it talks to."""

from __future__ import annotations


import httpx
import pytest

from calbot.calcom import BudgetExceededError, CalcomClient
from calbot.calcom.budget import CALCOM_KEY_LIMIT, RateBudget, chat_scope
from calbot.config import load_settings
from calbot.runtime import Calendar
from calbot.sandbox import Sandbox, SandboxConfig
from tests.http.cal_payloads import API_KEY, BASE_URL, envelope, event_type_json, me_json
from testing.common import clear_settings_env


@pytest.fixture(autouse=True)
def no_settings_from_outside(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No CAL_*/CALBOT_*/OPENAI_* variable and no ./.env reach load_settings."""
    clear_settings_env(monkeypatch)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def me_route(calcom_mock):
    return calcom_mock.get("/me").mock(return_value=httpx.Response(200, json=envelope(me_json())))


async def test_a_chat_over_its_share_sends_nothing_and_other_chats_are_served(calcom_mock, me_route):
    async with CalcomClient(API_KEY, BASE_URL, budget=RateBudget(account_limit=5, chat_limit=2)) as client:
        with chat_scope("greedy"):
            await client.me()
            await client.me()
            with pytest.raises(BudgetExceededError) as refused:
                await client.me()
        assert refused.value.scope == "chat" and refused.value.retry_after > 0
        assert me_route.call_count == 2  # refused before sending, and not retried

        with chat_scope("other"):
            await client.me()
            await client.me()
        await client.me()  # outside any chat: the account's limit only
        assert me_route.call_count == 5
        with chat_scope("third"), pytest.raises(BudgetExceededError) as refused:
            await client.me()
        assert refused.value.scope == "account" and me_route.call_count == 5


async def test_every_page_of_a_list_is_a_request_of_the_chat(calcom_mock):
    def page(request: httpx.Request) -> httpx.Response:
        skip = int(request.url.params["skip"])
        return httpx.Response(200, json={**envelope([]), "data": [], "pagination": {
            "totalItems": 10, "remainingItems": 10 - skip - 1, "returnedItems": 0, "itemsPerPage": 1,
            "currentPage": skip + 1, "totalPages": 10, "hasNextPage": True, "hasPreviousPage": skip > 0}})
    route = calcom_mock.get("/bookings").mock(side_effect=page)
    async with CalcomClient(API_KEY, BASE_URL, budget=RateBudget(account_limit=100, chat_limit=3)) as client:
        with chat_scope("lister"):
            await client.list_bookings(page_size=1)  # stops at an empty page
            await client.list_bookings(page_size=1)
            await client.list_bookings(page_size=1)
            with pytest.raises(BudgetExceededError):
                await client.list_bookings(page_size=1)
    assert route.call_count == 3


def test_a_client_without_a_budget_gets_calcoms_limits():
    client = CalcomClient(API_KEY, BASE_URL)
    assert client.budget.account_limit == CALCOM_KEY_LIMIT
    assert client.budget.chat_limit == CALCOM_KEY_LIMIT // 4


async def test_calendar_connect_uses_calcoms_limit_with_a_key(calcom_mock, me_route):
    calcom_mock.get("/event-types").mock(return_value=httpx.Response(200, json=envelope([event_type_json()])))
    calendar = await Calendar.connect(load_settings(cal_api_key=API_KEY, openai_api_key="sk-test"))
    try:
        assert calendar.client.budget.account_limit == CALCOM_KEY_LIMIT
        assert calendar.client.budget.chat_limit == CALCOM_KEY_LIMIT // 4
    finally:
        await calendar.aclose()


@pytest.mark.parametrize(("rate_limit", "account", "chat"), [(120, 120, 30), (40, 40, 10), (0, None, None)])
async def test_calendar_connect_uses_the_sandboxs_own_limit(rate_limit, account, chat):
    sandbox = Sandbox(SandboxConfig(rate_limit=rate_limit), ":memory:")
    calendar = await Calendar.connect(load_settings(openai_api_key="sk-test"), sandbox=sandbox)
    try:
        assert (calendar.client.budget.account_limit, calendar.client.budget.chat_limit) == (account, chat)
    finally:
        await calendar.aclose()
        sandbox.close()
