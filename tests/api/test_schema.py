"""Schemathesis over the API's own OpenAPI document (/api/v1/openapi.json), against the ASGI app: generated valid
and invalid requests for every operation, with a good token; no 5xx, and every answer conforms to the document
(status, content type, headers, body). Bounded and derandomized, so it runs in seconds and the same way each time.

The app, its SQLite store and the scripted model live on one event loop owned by this test; Hypothesis drives the
examples synchronously and each request runs on that loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from calbot.accounts.tokens import TokenStore
from calbot.api import RateLimiter, install
from calbot.chat import ChatService
from calbot.config import load_settings
from calbot.sandbox import Sandbox, SandboxConfig
from calbot.store.sql import SqlStore
from testing.common import clear_settings_env
from testing.openai_fake import ScriptedModel, say
from tests.agent.conftest import USER, Clock
from tests.api.conftest import page_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 25  # per operation, mode and path (about 15 s in all)


@pytest.fixture
def loop() -> Any:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


async def _setup(tmp_path: Path) -> tuple[httpx.AsyncClient, str, list[Any]]:
    settings = load_settings(openai_api_key="sk-test", cal_user_email=USER, calbot_timezone="Europe/Berlin",
                             calbot_sandbox_db=str(tmp_path / "unused.db"))
    model = ScriptedModel()
    model.on_request(lambda req: True, say("Noted."))
    sandbox = Sandbox(SandboxConfig(rate_limit=0), ":memory:", Clock())
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/calbot.db")
    service = ChatService(settings, model_client=model.client(), sandbox=sandbox, clock=Clock(), store=store)
    app = page_app()
    install(app, service, limiter=RateLimiter(limit=100_000))
    _, token = await TokenStore(store).create(USER, single_user_email=USER)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")
    return client, token, [client, service, store, sandbox]


async def _teardown(resources: list[Any]) -> None:
    client, service, store, sandbox = resources
    await client.aclose()
    await service.aclose()
    await store.close()
    sandbox.close()


def test_generated_requests_get_documented_answers(loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    client, token, resources = loop.run_until_complete(_setup(tmp_path))
    try:
        document = loop.run_until_complete(client.get("/api/v1/openapi.json")).json()
        assert document["servers"] == [{"url": "/api/v1"}]
        schema = schemathesis.openapi.from_dict(document)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 8
        # A chat that exists, so that some generated ids... are not all unknown: its id is given to the path.
        chat = loop.run_until_complete(client.post("/api/v1/chats", json={"message": "hi"},
                                                   headers={"Authorization": f"Bearer {token}"})).json()["chat_id"]
        seen: dict[int, int] = {}
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                for path_parameters in ({}, {"chat_id": chat}) if "{chat_id}" in operation.path else ({},):
                    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None)
                    try:
                        _run(loop, client, token, strategy, seen)
                    except Unsatisfiable:  # nothing in this operation can be made invalid (no parameter, no body)
                        assert mode is GenerationMode.NEGATIVE
                        assert not operation.path_parameters and not operation.query and not operation.body
        assert {200, 201, 204, 400, 404} <= set(seen), seen
        assert not any(status >= 500 for status in seen), seen
    finally:
        loop.run_until_complete(_teardown(resources))


def _run(loop: Any, client: httpx.AsyncClient, token: str, strategy: Any, seen: dict[int, int]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://127.0.0.1:8000/api/v1",
                                          headers={"Authorization": f"Bearer {token}"})
        kwargs.pop("verify", None)
        if not kwargs.get("cookies"):
            kwargs.pop("cookies", None)
        if isinstance(kwargs.get("data"), (str, bytes)):  # a raw body (httpx wants it as content)
            kwargs["content"] = kwargs.pop("data")
        response = loop.run_until_complete(client.request(**kwargs))
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS)

    check()
