"""bench/model_server.py: the bench model over HTTP answers as the tests' ScriptedModel server does (the same SSE
chunks, the same JSON errors), through the client calbot itself uses, `delay` after each request arrived."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openai
import pytest

from bench.brain import SMALL_TALK, bench_model
from bench.harness import USER_ZONE
from bench.model_server import serve
from calbot.chat import new_model_client
from testing.openai_fake import NO_KEY_MESSAGE, ScriptedModel

DELAY = 0.2
MESSAGES = [{"role": "system", "content": "You are calbot."}, {"role": "user", "content": "hello, what can you do?"}]


@pytest.fixture
async def bench_server(tmp_path: Path) -> AsyncIterator[tuple[ScriptedModel, str]]:
    model, _ = bench_model(datetime.now(UTC), USER_ZONE, delay=DELAY)
    ready, stop = tmp_path / "model.url", asyncio.Event()
    task = asyncio.ensure_future(serve(model, DELAY, ready, stop))
    for _ in range(200):
        if ready.exists() or task.done():
            break
        await asyncio.sleep(0.01)
    assert ready.exists(), task
    try:
        yield model, ready.read_text()
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_a_streamed_answer_arrives_after_the_delay_through_calbots_client(bench_server):
    model, base_url = bench_server
    client = new_model_client("sk-bench", base_url, max_retries=0, timeout=5)
    try:
        started = time.perf_counter()
        stream = await client.post("/chat/completions", body={"model": "scripted", "messages": MESSAGES,
                                                                "stream": True},
                                   cast_to=object, stream=True, stream_cls=openai.AsyncStream[object])
        chunks = [chunk async for chunk in stream]
        elapsed = time.perf_counter() - started
    finally:
        await client.close()

    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text == SMALL_TALK
    assert len(chunks) > 3  # streamed in pieces, as the tests' fake does
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert DELAY <= elapsed < DELAY + 0.5
    assert model.calls_count == 1 and model.requests[0].latest_user_text == "hello, what can you do?"


async def test_two_requests_on_one_connection_and_a_plain_json_answer(bench_server):
    model, base_url = bench_server
    async with httpx.AsyncClient(base_url=base_url, headers={"authorization": "Bearer sk-bench"}) as http:
        for _ in range(2):  # keep-alive: the second request reuses the connection
            response = await http.post("/chat/completions", json={"model": "scripted", "messages": MESSAGES})
            assert response.status_code == 200
            assert response.json()["choices"][0]["message"]["content"] == SMALL_TALK
    assert model.calls_count == 2


async def test_errors_are_the_fakes_json_errors(bench_server):
    _, base_url = bench_server
    async with httpx.AsyncClient(base_url=base_url) as http:
        no_key = await http.post("/chat/completions", json={"model": "scripted", "messages": MESSAGES})
        unknown = await http.get("/nowhere", headers={"authorization": "Bearer sk-bench"})
        garbage = await http.post("/chat/completions", content=b"{not json",
                                  headers={"authorization": "Bearer sk-bench"})
        models = await http.get("/models", headers={"authorization": "Bearer sk-bench"})

    assert no_key.status_code == 401 and no_key.json()["error"]["message"] == NO_KEY_MESSAGE
    assert unknown.status_code == 404 and "GET /v1/nowhere" in unknown.json()["error"]["message"]
    assert garbage.status_code == 400
    assert models.status_code == 200 and models.json()["data"][0]["id"] == "scripted"
