"""calbot's own time per turn, with fakes that answer at once.

A turn is one `ChatService.send(chat_id, ...)` call (what the page calls: load the chat from the session store, run,
save it; the store is SQLite in a temporary file, as the app's default), alternating the book message (model call
-> book_meeting -> GET /v2/slots, GET /v2/bookings -> the proposal ends the turn) and "show me my meetings" (model
call -> list_meetings -> GET /v2/bookings -> model call -> one sentence). A new chat starts every 10 turns, so the
history stays the size of a short chat.

overhead = wall time of send
           - time inside the session store (load and save: SQLAlchemy, aiosqlite, SQLite's durable commit), given
             as its own figure
           - time inside the scripted model's transport (httpx.ASGITransport running the fake's Starlette app to the
             end of its streamed answer: matching the rule, building and serialising the SSE chunks)
           - time inside the sandbox's transport (httpx.ASGITransport running the sandbox's ASGI app: routing,
             Cal.com's rules, SQLite)
What is left is calbot's own work plus the libraries it drives: the system prompt and messages, the openai SDK
building the request and parsing the stream, the Cal.com client (httpx request building, JSON and pydantic parsing
of answers), argument validation, time zone arithmetic, the executor's rules and the events it emits.
Warm-up turns (not counted) open the calendar connection and fill caches first.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from bench.brain import bench_model
from bench.flows import BenchError, berlin, warm_up
from bench.harness import FIXED_NOW, USER_ZONE, Rig, Sink
from calbot.booking.session import SessionState
from calbot.store.base import SessionStore
from calbot.store.sql import SqlStore

MESSAGES = ("Book 30 minutes tomorrow at 15:00 about the budget", "show me my meetings")
TURNS_PER_CHAT = 10


@dataclass
class Overhead:
    samples_ms: list[float]
    wall_ms: list[float]
    kinds: list[str]  # "book" or "list", per sample
    store_ms: list[float]  # of each sample, the time in the session store (load and save)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples_ms)
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[int(p) - 1]

    def store_percentile(self, p: float) -> float:
        ordered = sorted(self.store_ms)
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[int(p) - 1]

    def as_dict(self) -> dict[str, Any]:
        return {"turns": len(self.samples_ms), "p50_ms": round(self.percentile(50), 3),
                "p99_ms": round(self.percentile(99), 3), "max_ms": round(max(self.samples_ms), 3),
                "mean_wall_ms": round(statistics.fmean(self.wall_ms), 3),
                "mean_in_fakes_ms": round(statistics.fmean(w - o for w, o in zip(self.wall_ms, self.samples_ms)), 3),
                "store_p50_ms": round(self.store_percentile(50), 3),
                "store_p99_ms": round(self.store_percentile(99), 3),
                "p50_ms_by_message": {kind: round(statistics.median(
                    s for s, k in zip(self.samples_ms, self.kinds) if k == kind), 3)
                    for kind in sorted(set(self.kinds))}}


class TimedStore:
    """The SQL store, timing what the chat service asks of it."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self.ttl, self.owner_ttl = store.ttl, store.owner_ttl
        self.seconds = 0.0

    async def load(self, chat_id: str) -> SessionState | None:
        started = time.perf_counter()
        try:
            return await self.store.load(chat_id)
        finally:
            self.seconds += time.perf_counter() - started

    async def save(self, state: SessionState, expected_version: int) -> SessionState:
        started = time.perf_counter()
        try:
            return await self.store.save(state, expected_version)
        finally:
            self.seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:  # claim_proposal, sweep, close, ...: not on a turn's path here
        return getattr(self.store, name)


async def measure_overhead(turns: int, warmup: int = 20) -> Overhead:
    model, _ = bench_model(FIXED_NOW, USER_ZONE)
    folder = tempfile.TemporaryDirectory(prefix="calbot-bench-")
    timed: list[TimedStore] = []

    async def open_store() -> SessionStore:
        timed.append(TimedStore(await SqlStore.open(f"sqlite+aiosqlite:///{folder.name}/calbot.db")))
        return timed[-1]  # type: ignore[return-value]

    rig = Rig.create(model, store_opener=open_store)
    try:
        await warm_up(rig)
        rig.seed(berlin(25, 15), "Quarterly planning")
        rig.seed(berlin(26, 11), "Design review")
        samples: list[float] = []
        walls: list[float] = []
        kinds: list[str] = []
        in_store: list[float] = []
        await rig.service.store()
        for number in range(warmup + turns):
            chat_id = f"bench-{number // TURNS_PER_CHAT}"  # a new chat every TURNS_PER_CHAT turns
            text = MESSAGES[number % 2]
            model_mark, cal_mark = rig.model_recorder.mark(), rig.sandbox.recorder.mark()
            store_mark = timed[0].seconds
            started = time.perf_counter()
            result = await rig.service.send(chat_id, text, Sink())
            wall = time.perf_counter() - started
            in_fakes = (sum(e.seconds for e in rig.model_recorder.since(model_mark))
                        + sum(e.seconds for e in rig.sandbox.recorder.since(cal_mark)))
            if result.outcome not in ("proposal", "answered"):
                raise BenchError(f"overhead turn {number} ({text!r}) ended in {result.outcome!r}: {result.error}")
            store_s = timed[0].seconds - store_mark
            if number >= warmup:
                samples.append((wall - in_fakes - store_s) * 1000)
                walls.append(wall * 1000)
                kinds.append("book" if number % 2 == 0 else "list")
                in_store.append(store_s * 1000)
        return Overhead(samples, walls, kinds, in_store)
    finally:
        await rig.aclose()
        folder.cleanup()
