"""Fixtures for the REST API (calbot/api) tested with httpx against the ASGI app, no server.

- `api`: an Api: a FastAPI app whose catch-all GET stands in for Chainlit's page, with calbot's API installed the
  way app.py installs it (calbot.api.install), over a ChatService wired to the scripted model (`model`), the
  in-process sandbox calendar (`sandbox`, clock frozen at FIXED_NOW) and a SQLite session store in tmp_path whose
  clock (`api.sessions`) tests move to make chats expire. `api.client` is an httpx.AsyncClient on it; `api.token`
  a token for CAL_USER_EMAIL (single-user mode); `await api.new_token(email)` makes others.
- `accounts_api`: the same with two accounts in the database (ana@ and bo@): `api.token` is Ana's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from calbot.accounts import AccountStore
from calbot.accounts.tokens import TokenStore
from calbot.api import RateLimiter, install
from calbot.chat import ChatService
from calbot.config import Settings
from calbot.store.sql import SqlStore
from testing.common import FIXED_NOW
from tests.agent.conftest import (  # noqa: F401  (fixtures)
    USER,
    Clock,
    clean_env,
    clock,
    make_settings,
    model,
    sandbox,
)

PAGE = "<html>the page</html>"
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class SessionClock:
    now: datetime = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Api:
    app: FastAPI
    service: ChatService
    store: SqlStore
    tokens: TokenStore
    client: httpx.AsyncClient
    sessions: SessionClock
    token: str = ""
    limiter: RateLimiter = field(default_factory=RateLimiter)

    async def new_token(self, email: str, single_user_email: str | None = USER) -> str:
        _, secret = await self.tokens.create(email, single_user_email=single_user_email)
        return secret

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def post(self, path: str, body: Any = None, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {**self.auth(token), **kw.pop("headers", {})}
        return await self.client.post(f"/api/v1{path}", json=body, headers=headers, **kw)

    async def get(self, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        return await self.client.get(f"/api/v1{path}", headers=self.auth(token), **kw)

    async def delete(self, path: str, token: str | None = None) -> httpx.Response:
        return await self.client.delete(f"/api/v1{path}", headers=self.auth(token))


def page_app() -> FastAPI:
    app = FastAPI()

    @app.get("/{full_path:path}")
    async def serve(full_path: str) -> Any:  # registered first, as Chainlit's is
        from fastapi.responses import HTMLResponse
        return HTMLResponse(PAGE)

    return app


@pytest.fixture
async def make_api(tmp_path: Path, model: Any, sandbox: Any, clock: Clock,  # noqa: F811
                   make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., Any]]:  # noqa: F811
    made: list[Api] = []

    async def make(*, limit: int = 1000, accounts: tuple[str, ...] = (), calendar_down: bool = False,
                   **overrides: Any) -> Api:
        """`calendar_down`: Cal.com (CAL_API_KEY set) cannot be reached."""
        sessions = SessionClock()
        if calendar_down:
            overrides.setdefault("cal_api_key", "cal_live_secret_key_123")
        settings = make_settings(**overrides)
        store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/calbot-{len(made)}.db",
                                    ttl=settings.calbot_session_ttl, clock=sessions)
        unreachable = httpx.MockTransport(lambda request: (_ for _ in ()).throw(httpx.ConnectError("down")))
        service = ChatService(settings, model_client=model.client(), sandbox=None if calendar_down else sandbox,
                              cal_transport=unreachable if calendar_down else None, clock=clock, store=store,
                              session_clock=sessions)
        for email in accounts:
            await AccountStore(store, hasher=FAST).add(email, "long-enough-password", name=email.split("@")[0])
        app = page_app()
        limiter = RateLimiter(limit=limit)
        install(app, service, limiter=limiter)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")
        api = Api(app, service, store, TokenStore(store), client, sessions, limiter=limiter)
        api.token = await api.new_token(accounts[0] if accounts else USER)
        made.append(api)
        return api

    yield make
    for api in made:
        await api.client.aclose()
        await api.service.aclose()
        await api.store.close()


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> Api:
    return await make_api()


@pytest.fixture
async def accounts_api(make_api: Callable[..., Any]) -> Api:
    return await make_api(accounts=("ana@example.com", "bo@example.com"))
