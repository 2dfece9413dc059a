"""Who calls the REST API: `Authorization: Bearer <token>` (calbot/accounts/tokens.py), and how often.

The token's email is the verified identity: the chat service gets Person(email, the account's name and saved zone),
so the API's chats are that person's and no one else's. The account is looked at on every request: a disabled or
removed account's tokens stop working at once.

The rate limit is a sliding window per token, kept in this process's memory (RateLimiter): it costs nothing per
request (no database write), and what it guards, the model and the calendar behind each message, is spent per
process anyway. With several calbot processes behind a balancer each allows a token its own window; a token
used from one client mostly reaches one of them."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from calbot.accounts.tokens import TokenStore, may_hold_token
from calbot.api.problems import (
    BAD_TOKEN,
    NEEDS_SQL_STORE,
    NO_TOKEN,
    RATE_LIMITED,
    STORE_DOWN,
    Problem,
)
from calbot.chat import ChatService
from calbot.sessions import Person
from calbot.store.base import StoreError
from calbot.store.sql import SqlStore

RATE_LIMIT = 30  # requests per token ...
RATE_WINDOW_S = 60.0  # ... in this many seconds
TOUCH_EVERY_S = 60.0  # a token's last use is written at most this often


class RateLimiter:
    """At most `limit` requests per key within `window` seconds; `check(key)` raises 429 with Retry-After."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def check(self, key: str) -> None:
        now = self._clock()
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            wait = max(1, math.ceil(seen[0] + self.window - now))
            raise Problem(429, RATE_LIMITED.format(wait=wait), headers={"Retry-After": str(wait)})
        seen.append(now)
        if len(self._seen) > 10_000:  # forget idle tokens now and then
            for idle in [k for k, v in self._seen.items() if not v or v[-1] <= now - self.window]:
                del self._seen[idle]


@dataclass(frozen=True)
class Caller:
    token_id: str
    person: Person


class Authenticator:
    def __init__(self, service: ChatService, limiter: RateLimiter) -> None:
        self.service = service
        self.limiter = limiter
        self._tokens: TokenStore | None = None
        self._touched: dict[str, float] = {}

    async def tokens(self) -> TokenStore:
        try:
            store = await self.service.store()
        except StoreError:
            raise Problem(503, STORE_DOWN) from None
        if not isinstance(store, SqlStore):
            raise Problem(503, NEEDS_SQL_STORE)
        if self._tokens is None or self._tokens.engine is not store.engine:
            self._tokens = TokenStore(store)
        return self._tokens

    async def caller(self, authorization: str | None) -> Caller:
        scheme, _, secret = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Problem(401, NO_TOKEN, headers={"WWW-Authenticate": "Bearer"})
        tokens = await self.tokens()
        try:
            record = await tokens.verify(secret.strip())
            account = await tokens.accounts.get(record.email) if record is not None else None
            allowed = record is not None and await may_hold_token(tokens.accounts, record.email,
                                                                  self.service.settings.cal_user_email)
        except StoreError:
            raise Problem(503, STORE_DOWN) from None
        if record is None or not allowed:
            raise Problem(401, BAD_TOKEN, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        self.limiter.check(record.id)
        now = time.monotonic()
        if now - self._touched.get(record.id, -TOUCH_EVERY_S) >= TOUCH_EVERY_S:
            self._touched[record.id] = now
            try:
                await tokens.touch(record.id)
            except StoreError:
                pass  # only `tokens list`'s "last used" is late
        name = account.name if account is not None else self.service.settings.cal_user_name
        zone = account.time_zone if account is not None else None
        return Caller(record.id, Person(email=record.email, name=name, time_zone=zone))
