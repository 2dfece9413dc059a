"""Cal.com's rate budget, shared fairly between the chats of one process.

Cal.com counts an API key's requests over a 60 s window and, once the key goes over its limit (120 by default),
refuses every request of that key for 60 s more (API-NOTES §11). One CalcomClient serves every chat of the process,
so without a budget one chat (a runaway model, a script typing fast) could spend the whole minute and leave every
other chat blocked for the next one. `RateBudget` keeps two sliding windows of the times requests were sent:

- the account's: at most `account_limit` requests in any `period`, so calbot itself never sets off Cal.com's block;
- each chat's: at most `chat_limit` of them (by default a quarter of the account's, 30 a minute: a person's busiest
  minute is a few tasks of 1 to 4 requests each), so one chat can never take more than its share.

A request over either window is not sent: `spend()` raises BudgetExceededError with the seconds until it would fit,
and explain.py tells the person to try again then. A refused request does not count. Sliding windows rather than
token buckets: a bucket holding B that refills r a second lets B + 60r requests into one of Cal.com's 60 s windows,
while a window of send times lets in exactly the limit whenever Cal.com's window starts. `period` is 61 s, one more
than Cal.com's window, for the difference between our clock and the time a request reaches Cal.com.

Which chat a request belongs to is a context variable: `enter_chat(chat_id)` or `with chat_scope(chat_id)` around
the work of one chat, and the client reads it, so the executor and the code between pass nothing. The loop sets it
for each turn (Agent.run) and ChatService for Confirm, which counts but is not held to the chat's share (the person
pressed the button on a change that was already checked; the account window still applies). Requests outside any
chat (the account look-ups when the calendar connects) count against the account window only.

Per process: each app process has its own budget. Several processes sharing one key need a shared store (a later
issue); until then Cal.com's 429 is still handled by the client (waited out when short, told otherwise).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

from calbot.calcom.errors import BudgetExceededError

CALCOM_KEY_LIMIT = 120  # API-NOTES §11: requests per 60 s window per API key
CHAT_SHARE = 4  # one chat may use at most 1/CHAT_SHARE of the account's requests per window
WINDOW_SECONDS = 61.0  # Cal.com's 60 s window and 1 s for clocks and latency
MAX_TRACKED_CHATS = 1000  # above this, windows of chats idle for a whole period are forgotten


@dataclass(frozen=True)
class ChatScope:
    chat_id: str
    held_to_share: bool = True  # False: counted, but not refused by the chat's share (Confirm)


_scope: ContextVar[ChatScope | None] = ContextVar("calbot_chat_scope", default=None)


def enter_chat(chat_id: str, *, held_to_share: bool = True) -> Token[ChatScope | None]:
    """Cal.com requests from here on (in this task) are this chat's, until `leave_chat(token)`."""
    return _scope.set(ChatScope(chat_id, held_to_share))


def leave_chat(token: Token[ChatScope | None]) -> None:
    _scope.reset(token)


@contextmanager
def chat_scope(chat_id: str, *, held_to_share: bool = True) -> Iterator[ChatScope]:
    token = enter_chat(chat_id, held_to_share=held_to_share)
    try:
        yield _scope.get()  # type: ignore[misc]
    finally:
        leave_chat(token)


def current_chat() -> ChatScope | None:
    return _scope.get()


class _Window:
    """The send times of the last `period` seconds; at most `limit` of them."""

    def __init__(self, limit: int, period: float):
        self.limit = limit
        self.period = period
        self.times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self.times and self.times[0] <= now - self.period:
            self.times.popleft()

    def wait(self, now: float) -> float:
        """Seconds until one more request fits (0: it fits now)."""
        self._expire(now)
        if len(self.times) < self.limit:
            return 0.0
        return self.times[-self.limit] + self.period - now

    def add(self, now: float) -> None:
        self._expire(now)
        self.times.append(now)


class RateBudget:
    """The account's requests per window, and each chat's share of them. None (or 0) for a limit: no limit."""

    def __init__(self, account_limit: int | None = CALCOM_KEY_LIMIT, chat_limit: int | None = None, *,
                 period: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        if chat_limit is None and account_limit:
            chat_limit = max(1, account_limit // CHAT_SHARE)
        self.account_limit = account_limit or None
        self.chat_limit = chat_limit or None
        self.period = period
        self.clock = clock
        self._account = _Window(self.account_limit, period) if self.account_limit else None
        self._chats: dict[str, _Window] = {}

    def spend(self, scope: ChatScope | None = None) -> None:
        """Count one request about to be sent for `scope` (default: the current chat), or raise
        BudgetExceededError (nothing counted) when it does not fit."""
        scope = scope if scope is not None else current_chat()
        now = self.clock()
        chat = self._chat_window(scope.chat_id) if scope is not None and self.chat_limit else None
        if chat is not None and scope is not None and scope.held_to_share:
            wait = chat.wait(now)
            if wait > 0:
                raise BudgetExceededError("chat", wait)
        if self._account is not None:
            wait = self._account.wait(now)
            if wait > 0:
                raise BudgetExceededError("account", wait)
            self._account.add(now)
        if chat is not None:
            chat.add(now)

    def _chat_window(self, chat_id: str) -> _Window:
        window = self._chats.get(chat_id)
        if window is None:
            if len(self._chats) >= MAX_TRACKED_CHATS:
                self._forget_idle()
            window = self._chats[chat_id] = _Window(self.chat_limit or 0, self.period)
        return window

    def _forget_idle(self) -> None:
        cutoff = self.clock() - self.period
        for chat_id in [c for c, w in self._chats.items() if not w.times or w.times[-1] <= cutoff]:
            del self._chats[chat_id]

    @property
    def chats_tracked(self) -> int:
        return len(self._chats)
