"""Every error status of the REST API, each as RFC 9457 problem details with a sentence, never a traceback or a key."""

from __future__ import annotations

import httpx
import pytest

from calbot.api import RateLimiter
from calbot.api.problems import Problem
from calbot.store.base import StoreUnavailableError
from testing.openai_fake import fail, say
from tests.agent.conftest import bookings_in

KEYS = ("sk-test", "cal_live_secret_key_123", "Traceback", "calbot_")


def assert_problem(response: httpx.Response, status: int, words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and words in body["detail"], body
    assert body["detail"].endswith(".") and not any(key in response.text for key in KEYS)
    return body


async def test_400_bad_json_and_bad_fields(api):
    post = api.client.post
    headers = {**api.auth(), "Content-Type": "application/json"}
    assert_problem(await post("/api/v1/chats", content=b"{not json", headers=headers), 400, "not valid JSON")
    assert_problem(await post("/api/v1/chats", content=b"[1, 2]", headers=headers), 400, "must be a JSON object")
    assert_problem(await api.post("/chats", {"text": "hi"}), 400, "'message' field required")
    assert_problem(await api.post("/chats", {"message": 42}), 400, "'message'")
    assert_problem(await api.post("/chats", {"message": "hi", "time_zone": 3}), 400, "'time_zone'")
    assert_problem(await api.get("/chats?limit=0"), 400, "'limit'")
    assert_problem(await api.get("/chats?cursor=nonsense"), 400, "cursor")


async def test_401_without_a_good_token(api, make_api):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer calbot_wrong"}, {"Authorization": "Bearer " + "x" * 5000}):
        answer = await api.client.get("/api/v1/chats", headers=headers)
        assert_problem(answer, 401, "token")
        assert answer.headers["www-authenticate"].startswith("Bearer")
    record = (await api.tokens.list())[0]
    await api.tokens.revoke(record.id)
    assert_problem(await api.get("/chats"), 401, "not valid")


async def test_401_when_the_account_is_disabled(accounts_api):
    assert (await accounts_api.get("/chats")).status_code == 200
    await accounts_api.tokens.accounts.disable("ana@example.com")
    assert_problem(await accounts_api.get("/chats"), 401, "disabled")


async def test_404_unknown_chat_proposal_and_path(api, model):
    for path in ("/chats/no-such-chat", "/chats/" + "x" * 101):
        assert_problem(await api.get(path), 404, "no such chat")
    assert_problem(await api.post("/chats/no-such-chat/messages", {"message": "hi"}), 404, "no such chat")
    assert_problem(await api.post("/chats/no-such-chat/proposals/p1/confirm"), 404, "no such chat")
    assert_problem(await api.delete("/chats/no-such-chat"), 404, "no such chat")
    model.on_user("hi", say("Hello."))
    chat = (await api.post("/chats", {"message": "hi"})).json()["chat_id"]
    assert_problem(await api.post(f"/chats/{chat}/proposals/p1/confirm"), 404, "no open proposal")
    assert_problem(await api.post(f"/chats/{chat}/proposals/p1/discard"), 404, "no open proposal")
    assert_problem(await api.get("/nothing-here"), 404, "/api/v1/docs")
    newline = await api.client.post("/api/v1/chats/a%0Ab/messages", json={"message": "hi"}, headers=api.auth())
    assert_problem(newline, 404, "no such chat")  # (an encoded newline once slipped past the mount to the page)
    assert_problem(await api.client.put("/api/v1/chats", headers=api.auth()), 405, "PUT")


async def test_413_over_4000_characters(api, model):
    assert_problem(await api.post("/chats", {"message": "a" * 4001}), 413, "4,001 characters")
    assert model.calls_count == 0
    model.on_user("a", say("OK."))
    assert (await api.post("/chats", {"message": "a" * 4000})).status_code == 201


async def test_415_a_body_that_is_not_json(api):
    answer = await api.client.post("/api/v1/chats", content=b"message=hi", headers={
        **api.auth(), "Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(answer, 415, "Content-Type: application/json")
    assert_problem(await api.client.post("/api/v1/chats", content=b'{"message": "hi"}', headers=api.auth()), 415,
                   "JSON")


async def test_422_blank_message_and_unknown_zone(api, model):
    assert_problem(await api.post("/chats", {"message": ""}), 422, "empty")
    assert_problem(await api.post("/chats", {"message": " \t\n "}), 422, "empty")
    assert_problem(await api.post("/chats", {"message": "hi", "time_zone": "Mars/Base"}), 422, "Mars/Base")
    assert model.calls_count == 0


async def test_429_per_token_with_retry_after(make_api, model):
    api = await make_api(limit=3)
    other = await api.new_token("ana@example.com")
    for _ in range(3):
        assert (await api.get("/chats")).status_code == 200
    answer = await api.get("/chats")
    assert_problem(answer, 429, "wait")
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert (await api.get("/chats", token=other)).status_code == 200  # another token has its own window


def test_the_limiter_lets_requests_through_again_after_the_window() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=2, window=10, clock=lambda: now[0])
    limiter.check("t")
    now[0] = 4
    limiter.check("t")
    with pytest.raises(Problem) as refused:
        limiter.check("t")
    assert refused.value.headers["Retry-After"] == "6"
    now[0] = 10.5
    limiter.check("t")


async def test_503_when_the_model_is_down(api, model, sandbox):
    model.on_user("hi", fail(500, "upstream exploded; key sk-test"))
    body = assert_problem(await api.post("/chats", {"message": "hi"}), 503, "model")
    assert body["chat_id"] and bookings_in(sandbox) == []


async def test_503_when_the_calendar_is_down(make_api, model):
    api = await make_api(calendar_down=True)
    health = await api.client.get("/api/v1/health")
    assert_problem(health, 503, "calendar")
    assert health.json()["calendar"] == "cal.com" and health.json()["store"] == "ok"
    model.on_user("hi", say("Hello."))
    assert_problem(await api.post("/chats", {"message": "hi"}), 503, "Cal.com")


async def test_503_when_the_store_is_down(api):
    async def broken() -> None:
        raise StoreUnavailableError("The chat database at 'postgresql://u:***@db/x' cannot be used.")
    api.service.store = broken  # type: ignore[method-assign]
    health = await api.client.get("/api/v1/health")
    assert_problem(health, 503, "store")
    assert health.json()["store"] == "down" and health.json()["down"] == ["store"]
    assert_problem(await api.get("/chats"), 503, "CALBOT_DATABASE_URL")


async def test_health_when_all_is_well(api):
    answer = await api.client.get("/api/v1/health")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "calendar": "sandbox", "store": "ok"}


async def test_a_bug_is_a_500_sentence_not_a_traceback(api, model):
    async def broken(*args, **kwargs):
        raise RuntimeError("secret sk-test in a traceback")
    api.service.load_chat = broken  # type: ignore[method-assign]
    assert_problem(await api.get("/chats/some-chat"), 500, "Something went wrong")
