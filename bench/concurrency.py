"""Many chats at once through the real app: `chainlit run app.py` as a user starts it, the bench model over HTTP
answering every request after `delay` seconds, and socket.io clients that talk to the app as Chainlit's page does.

What a client does, as the page (chainlit 2.12 frontend, libs/react-client useChatSession) does:
1. POST /set-session-cookie {"session_id": <uuid4>} (the page's "sticky" cookie X-Chainlit-Session-id);
2. connect socket.io on path /ws/socket.io (Engine.IO 4: long-polling first, then the upgrade to a WebSocket) with the
   auth payload {"clientType": "webapp", "sessionId", "threadId": "", "userEnv": "{}", "chatProfile": ""}, the
   cookie and the page's Origin, offering permessage-deflate on the WebSocket as the browser does;
3. on connect, emit "connection_successful" and "fetch_favorites"; the app starts the chat (on_chat_start), which
   sends the window message {"type": "calbot:time_zone?"}; public/calbot.js answers it with a "window_message"
   {"type": "calbot:time_zone", "time_zone": ...}, so the client does too; the "task_end" that closes
   on_chat_start means the page is idle: the chat has started;
4. emit "client_message" {"message": {"threadId": "", "id": <uuid4>, "name": "User", "type": "user_message",
   "output": <text>, "createdAt": <ISO>, "metadata": {"location": <page URL>}}, "fileReferences": []}.

The app answers with "task_start", the notices of a chat's first reply ("new_message"), the streamed answer
("stream_start", "stream_token"..., then "new_message" with the same id when it is complete) and "task_end" when the
on_message handler has returned (the page stops its spinner). A turn's time runs from the emit of "client_message"
to that "task_end"; the time to the complete answer ("new_message" of the streamed id) is recorded too, and the app
process's CPU time over the burst (all its threads, from /proc), per turn.

Why CPU per turn is the figure to watch: the app serves every chat from one event loop on one core. All 100
messages arrive together, so each chat's model request goes out only after the loop has done the pre-model work of
all of them, and the answers, arriving together a second later, are streamed out interleaved. Turns therefore end
close together, at about delay + 100 x (the app's CPU per turn); the p95 moves with that product, and the CPU figure
shows it with far less run-to-run noise than the p95.

One warm-up chat goes first (not counted): it opens the calendar connection (the start-up look-ups). Then every
client connects and starts its chat, and when all have, all send their message at (nearly) the same time.

With sign_in=True (bench/signed_in.py) the same run happens with sign-in on: one password account in a fresh SQLite
CALBOT_DATABASE_URL, so Chainlit's SQLAlchemy data layer writes every thread and step there; each client first signs
in (POST /login, a few at a time, timed apart: sign_in_all_s) and its socket carries the access_token cookie. Chainlit starts those writes as tasks on the app's
event loop (asyncio.create_task in Message.send/Step.send/update), so some may still run after a turn's task_end: the
CPU is also read once the app has gone quiet after the burst (app_cpu_ms_per_turn_settled), clients still connected.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import socketio

from bench import signed_in as sign_in_mode
from bench.brain import SMALL_TALK
from bench.cpu import process_cpu_seconds, settled_cpu_seconds
from bench.harness import USER_EMAIL, USER_NAME, USER_ZONE
from testing.processes import chainlit_process, stop

ROOT = Path(__file__).resolve().parents[1]
MESSAGE = "hello, what can you do?"
BROWSER_ZONE = USER_ZONE
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) calbot-bench"


class ConcurrencyError(RuntimeError):
    """The app could not be started or reached: the bench itself failed."""


@contextmanager
def running_app(model_base_url: str, home: Path, startup_timeout: float = 60.0,
                extra: dict[str, str] | None = None) -> Iterator[tuple[str, Path, int]]:
    """`env -u CI chainlit run app.py -h --host 127.0.0.1 --port P` with the bench model and a fresh sandbox file
    (`extra`: more settings, e.g. sign-in's). Yields (url, log path, pid); the process is always stopped at the end."""
    # Blank counts as unset for calbot, and a variable that is set (even blank) wins over a developer's .env.
    settings = dict(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=model_base_url, OPENAI_MODEL="scripted",
                    CAL_API_KEY="", CAL_API_BASE_URL="", CAL_EVENT_TYPE_ID="", CAL_USER_EMAIL=USER_EMAIL,
                    CAL_USER_NAME=USER_NAME, CALBOT_TIMEZONE=USER_ZONE, CALBOT_SANDBOX_DB=str(home / "sandbox.db"),
                    CHAINLIT_ENV_FILE=str(home / "no.env"), **(extra or {}))
    log = home / "app.log"
    started = False
    try:
        with chainlit_process(settings, log, startup_timeout) as (url, process):
            started = True
            yield url, log, process.pid
    except RuntimeError as exc:
        if started:
            raise
        raise ConcurrencyError(str(exc)) from None  # the app did not start: the bench itself failed


@dataclass
class ChatClient:
    """One browser tab's chat, over socket.io."""
    url: str
    auth_cookie: str | None = None  # after sign_in: the access_token cookie the socket carries
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    sent_at: float | None = None
    answer_at: float | None = None  # the streamed answer complete ("new_message" of the streamed id)
    first_token_at: float | None = None
    ended_at: float | None = None  # "task_end" after the message was sent
    answer: str = ""
    error: str | None = None
    events: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # compress=15: offer permessage-deflate, as Chromium does on every WebSocket (aiohttp does not by default).
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False,
                                        websocket_extra_options={"compress": 15})
        self._streamed_id: str | None = None
        self._asked_zone = False
        self._in_turn = False
        self.sio.on("window_message", self._on_window_message)
        self.sio.on("stream_start", self._on_stream_start)
        self.sio.on("stream_token", self._on_stream_token)
        self.sio.on("new_message", self._on_new_message)
        self.sio.on("task_start", self._on_task_start)
        self.sio.on("task_end", self._on_task_end)
        self.sio.on("*", self._on_any)

    async def connect(self, http: httpx.AsyncClient) -> None:
        response = await http.post(f"{self.url}/set-session-cookie", json={"session_id": self.session_id})
        response.raise_for_status()
        cookie = f"X-Chainlit-Session-id={response.cookies.get('X-Chainlit-Session-id') or self.session_id}"
        if self.auth_cookie:
            cookie += "; " + self.auth_cookie
        await self.sio.connect(
            self.url, socketio_path="/ws/socket.io", transports=["polling", "websocket"], wait_timeout=20,
            headers={"Cookie": cookie, "Origin": self.url, "User-Agent": USER_AGENT},
            auth={"clientType": "webapp", "sessionId": self.session_id, "threadId": "", "userEnv": "{}",
                  "chatProfile": ""})
        await self.sio.emit("connection_successful")
        await self.sio.emit("fetch_favorites")

    async def sign_in(self, http: httpx.AsyncClient) -> None:
        self.auth_cookie = await sign_in_mode.sign_in(http, self.url)

    async def send(self, text: str) -> None:
        message = {"threadId": "", "id": str(uuid.uuid4()), "name": "User", "type": "user_message", "output": text,
                   "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                   "metadata": {"location": f"{self.url}/"}}
        self.sent_at = time.perf_counter()
        await self.sio.emit("client_message", {"message": message, "fileReferences": []})

    async def close(self) -> None:
        try:
            await self.sio.disconnect()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    # -- events --------------------------------------------------------------------------------------------------------
    async def _on_any(self, event: str, *args: Any) -> None:
        self.events.append(event)  # events without a handler of their own

    async def _on_window_message(self, data: Any) -> None:
        self.events.append("window_message")
        if isinstance(data, dict) and data.get("type") == "calbot:time_zone?":
            await self.sio.emit("window_message", {"type": "calbot:time_zone", "time_zone": BROWSER_ZONE})
            self._asked_zone = True

    async def _on_stream_start(self, step: Any) -> None:
        self.events.append("stream_start")
        if self.sent_at is not None and isinstance(step, dict):
            self._streamed_id = step.get("id")
            self.first_token_at = self.first_token_at or time.perf_counter()
            self.answer = str(step.get("output") or "")

    async def _on_stream_token(self, data: Any) -> None:
        if isinstance(data, dict) and data.get("id") == self._streamed_id:
            self.answer += str(data.get("token") or "")

    async def _on_new_message(self, step: Any) -> None:
        self.events.append("new_message")
        if self._streamed_id and isinstance(step, dict) and step.get("id") == self._streamed_id:
            self.answer_at = time.perf_counter()
            self.answer = str(step.get("output") or self.answer)

    async def _on_task_start(self, *_: Any) -> None:
        self.events.append("task_start")
        if self.sent_at is not None:
            self._in_turn = True

    async def _on_task_end(self, *_: Any) -> None:
        self.events.append("task_end")
        if self.sent_at is None:
            if self._asked_zone:  # on_chat_start has finished: the page is idle, ready for a message
                self.started.set()
        elif self._in_turn and self.ended_at is None:
            self.ended_at = time.perf_counter()
            self.done.set()

    # -- results -------------------------------------------------------------------------------------------------------
    @property
    def turn_seconds(self) -> float | None:
        if self.sent_at is None or self.ended_at is None or self.answer_at is None:
            return None
        return self.ended_at - self.sent_at


def _percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[p - 1]


@dataclass
class ConcurrencyResult:
    clients: int
    delay: float
    turns: list[float]  # seconds, completed turns only
    answers: list[float]  # seconds to the complete answer
    first_tokens: list[float]
    connect_seconds: float
    model_requests: int
    errors: list[str]
    app_cpu_seconds: float | None = None  # the app process's CPU time from the first message sent to the last turn's end
    app_cpu_settled_seconds: float | None = None  # ... to when the app had gone quiet after it (deferred work too)
    signed_in: bool = False
    sign_in_seconds: float | None = None  # every client's POST /login, before the connects
    saved_rows: dict[str, int] | None = None  # with sign-in: rows the data layer wrote (threads, steps)

    @property
    def completed(self) -> int:
        return len(self.turns)

    def p(self, values: list[float], p: int) -> float | None:
        return round(_percentile(values, p), 4) if values else None

    def as_dict(self) -> dict[str, Any]:
        return {"clients": self.clients, "completed": self.completed, "model_delay_s": self.delay,
                "turn_p50_s": self.p(self.turns, 50), "turn_p95_s": self.p(self.turns, 95),
                "turn_max_s": round(max(self.turns), 4) if self.turns else None,
                "answer_p95_s": self.p(self.answers, 95), "first_token_p95_s": self.p(self.first_tokens, 95),
                "connect_all_s": round(self.connect_seconds, 3), "model_requests": self.model_requests,
                "app_cpu_ms_per_turn": self._per_turn_ms(self.app_cpu_seconds),
                "app_cpu_ms_per_turn_settled": self._per_turn_ms(self.app_cpu_settled_seconds),
                "signed_in": self.signed_in, "saved_rows": self.saved_rows,
                "sign_in_all_s": round(self.sign_in_seconds, 3) if self.sign_in_seconds is not None else None,
                "errors": self.errors[:10]}

    def _per_turn_ms(self, seconds: float | None) -> float | None:
        return round(seconds * 1000 / self.completed, 2) if seconds is not None and self.completed else None


async def _one_turn(client: ChatClient, timeout: float) -> None:
    await client.send(MESSAGE)
    await asyncio.wait_for(client.done.wait(), timeout)


async def _drive(url: str, clients: int, turn_timeout: float, connect_timeout: float, pid: int | None = None,
                 signed_in: bool = False) -> tuple[list[ChatClient], list[str], dict[str, float | None]]:
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients + 1)
    async with httpx.AsyncClient(timeout=20, limits=limits) as http:
        # Warm-up chat (not counted): the first message opens the calendar connection.
        warm = ChatClient(url)
        try:
            if signed_in:
                await asyncio.wait_for(warm.sign_in(http), connect_timeout)
            await asyncio.wait_for(warm.connect(http), connect_timeout)
            await asyncio.wait_for(warm.started.wait(), connect_timeout)
            await _one_turn(warm, turn_timeout)
        except Exception as exc:  # noqa: BLE001
            raise ConcurrencyError(f"the warm-up chat failed ({type(exc).__name__}: {exc}); events: "
                                   f"{warm.events}") from exc
        finally:
            await warm.close()

        chats = [ChatClient(url) for _ in range(clients)]
        sign_in_seconds = None
        if signed_in:  # every client signs in first, a few at a time
            sign_in_seconds, failures = await sign_in_mode.sign_in_all(chats, http, connect_timeout)
            for index, failure in failures.items():
                chats[index].error = failure
                errors.append(failure)

        async def start(chat: ChatClient) -> None:
            await chat.connect(http)
            await chat.started.wait()

        chats_in = [c for c in chats if c.error is None]
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(asyncio.wait_for(start(c), connect_timeout) for c in chats_in),
                                        return_exceptions=True)
        connect_seconds = time.perf_counter() - started
        ready = []
        for chat, outcome in zip(chats_in, outcomes):
            if isinstance(outcome, BaseException):
                chat.error = f"connect: {type(outcome).__name__}: {outcome}"
                errors.append(chat.error)
            else:
                ready.append(chat)
        cpu_before = process_cpu_seconds(pid) if pid else None
        try:
            outcomes = await asyncio.gather(*(_one_turn(c, turn_timeout) for c in ready), return_exceptions=True)
            cpu_after = process_cpu_seconds(pid) if pid else None
            cpu_settled = await settled_cpu_seconds(pid) if pid else None
            for chat, outcome in zip(ready, outcomes):
                if isinstance(outcome, BaseException):
                    chat.error = f"turn: {type(outcome).__name__}: {outcome} (events: {chat.events[-8:]})"
                    errors.append(chat.error)
                elif chat.answer_at is None:
                    chat.error = f"turn: task_end without an answer (events: {chat.events[-8:]})"
                    errors.append(chat.error)
        finally:
            await asyncio.gather(*(c.close() for c in chats), return_exceptions=True)
        app_cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
        settled = cpu_settled - cpu_before if cpu_before is not None and cpu_settled is not None else None
        return chats, errors, {"connect": connect_seconds, "sign_in": sign_in_seconds, "cpu": app_cpu,
                               "settled": settled}


@contextmanager
def model_process(delay: float, home: Path, startup_timeout: float = 30.0) -> Iterator[tuple[str, Path]]:
    """`python -m bench.model_server` (the bench model over HTTP on 127.0.0.1, answering after `delay` seconds) in a
    process of its own. Yields (OPENAI_BASE_URL, stats file); the process is always stopped at the end."""
    ready, stats = home / "model.url", home / "model.json"
    log = home / "model.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "bench.model_server", "--delay", str(delay),
                                    "--ready", str(ready), "--stats", str(stats)],
                                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + startup_timeout
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise ConcurrencyError(f"the bench model server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield ready.read_text().strip(), stats
    finally:
        stop(process)


def run_concurrency(clients: int, delay: float, *, sign_in: bool = False, turn_timeout: float = 60.0,
                    connect_timeout: float = 30.0, total_timeout: float | None = None) -> ConcurrencyResult:
    """Start the bench model (over HTTP, its own process) and the app, run `clients` chats at once, stop both.
    sign_in: with one account in a fresh database (sign-in and Chainlit's data layer on), every client signed in.
    total_timeout: by default 120 s, and 1 s more per client with sign-in (the argon2 checks)."""
    if total_timeout is None:
        total_timeout = 120.0 + (clients if sign_in else 0)
    with tempfile.TemporaryDirectory(prefix="calbot-bench-") as tmp:
        home = Path(tmp)
        try:
            extra = sign_in_mode.prepare(home) if sign_in else None
        except sign_in_mode.SignInError as exc:
            raise ConcurrencyError(str(exc)) from None
        with model_process(delay, home) as (base_url, stats), \
                running_app(base_url, home, extra=extra) as (url, log, pid):
            try:
                chats, errors, timing = asyncio.run(asyncio.wait_for(
                    _drive(url, clients, turn_timeout, connect_timeout, pid, sign_in), total_timeout))
            except TimeoutError:
                raise ConcurrencyError(f"the concurrency run took more than {total_timeout:.0f} s:\n"
                                       f"{log.read_text()[-3000:]}") from None
            app_log = log.read_text()
        model_stats = json.loads(stats.read_text()) if stats.exists() else {"requests": -1, "errors": []}
        turns = [c.turn_seconds for c in chats if c.turn_seconds is not None]
        answers = [c.answer_at - c.sent_at for c in chats if c.answer_at is not None and c.sent_at is not None]
        firsts = [c.first_token_at - c.sent_at for c in chats
                  if c.first_token_at is not None and c.sent_at is not None]
        wrong = [c.answer for c in chats if c.answer_at is not None and c.answer.strip() != SMALL_TALK]
        if wrong:
            errors.append(f"{len(wrong)} answer(s) differ from the bench model's sentence, e.g. {wrong[0]!r}")
        errors += [f"bench model: {e}" for e in model_stats.get("errors", [])]
        if errors and "Traceback" in app_log:
            errors.append("app log: " + app_log[-1500:])
        saved = sign_in_mode.saved_rows(home) if sign_in else None
        return ConcurrencyResult(clients, delay, turns, answers, firsts, timing["connect"] or 0.0,
                                 model_stats["requests"] - 1, errors, timing["cpu"], timing["settled"], sign_in,
                                 timing["sign_in"], saved)
