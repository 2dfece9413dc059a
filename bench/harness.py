"""What every in-process measurement shares: a fixed clock, settings that ignore the environment and `.env`, the
sandbox calendar and the scripted model behind transports that record (and time) every request, and a ChatService
wired to them exactly as the app wires its own (calbot.chat.ChatService is the front door the app uses).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from calbot.chat import ChatService
from calbot.sessions import StoreOpener
from calbot.config import Settings, load_settings
from calbot.sandbox import Sandbox, SandboxConfig
from calbot.sandbox.service import NewBooking
from testing.common import FIXED_NOW
from testing.openai_fake import ScriptedModel

# FIXED_NOW (testing/common.py), Monday 23 November 2026, 08:00 UTC: 09:00 in Berlin (the user's zone), 08:00 in
# London (the sandbox host's zone, working Mon-Fri 09:00-17:00, so 10:00-17:30 Berlin). "Tomorrow at 15:00" is a free
# working hour.
USER_EMAIL = "ana@example.com"
USER_NAME = "Ana Diaz"
USER_ZONE = "Europe/Berlin"
THIRTY_MIN = 1001  # the sandbox's default (30 minute) event type
# Start-up look-ups, done once per process when the calendar connects (calbot/booking/account.py) and cached after:
# not counted as a task's Cal.com calls.
BOOKING_UID = re.compile(r"/v2/bookings/[^/]+")
STARTUP_LOOKUPS = frozenset({("GET", "/v2/me"), ("GET", "/v2/event-types")})


@dataclass
class FixedClock:
    now: datetime = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    status: int
    seconds: float  # time spent inside the wrapped transport (the fake's own work)

    @property
    def label(self) -> str:
        """`GET /v2/bookings/{uid}`: the method and the path, a booking uid replaced so tasks compare."""
        return f"{self.method} {BOOKING_UID.sub('/v2/bookings/{uid}', self.path)}"


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)

    def mark(self) -> int:
        return len(self.exchanges)

    def since(self, mark: int) -> list[Exchange]:
        return self.exchanges[mark:]

    def seconds(self) -> float:
        return sum(e.seconds for e in self.exchanges)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps another transport; records method, path, status and the time spent inside it for every request.

    With httpx.ASGITransport (the sandbox and the in-process model both use it) the ASGI app runs to completion
    inside `handle_async_request` and the body is buffered, so the time recorded is all of the fake's work."""

    def __init__(self, inner: httpx.AsyncBaseTransport, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        status = 0
        try:
            response = await self.inner.handle_async_request(request)
            status = response.status_code
            return response
        finally:
            self.recorder.exchanges.append(Exchange(request.method, request.url.path, status,
                                                    time.perf_counter() - started))

    async def aclose(self) -> None:
        await self.inner.aclose()


class RecordingSandbox(Sandbox):
    """The sandbox calendar whose in-process transport (what the app's Cal.com client uses) records every request."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__(SandboxConfig(rate_limit=0), ":memory:", clock)
        self.recorder = Recorder()

    def transport(self) -> httpx.AsyncBaseTransport:  # type: ignore[override]
        return RecordingTransport(super().transport(), self.recorder)


def calcom_calls(exchanges: list[Exchange]) -> list[Exchange]:
    """A task's Cal.com requests: everything but the cached start-up look-ups."""
    return [e for e in exchanges if (e.method, e.path) not in STARTUP_LOOKUPS]


def settings(*, verified_user: bool = True, sandbox_db: Path | str = "/nonexistent/bench-unused.db") -> Settings:
    """Settings for an in-process run: every field given, so nothing comes from the environment or `.env`."""
    return load_settings(
        _env_file=None, openai_api_key="sk-bench", openai_base_url=None, openai_model="scripted",
        cal_api_key=None, cal_api_base_url="https://api.cal.com/v2", cal_event_type_id=None,
        cal_user_email=USER_EMAIL if verified_user else None, cal_user_name=USER_NAME if verified_user else None,
        calbot_timezone=USER_ZONE, calbot_sandbox_db=str(sandbox_db))


@dataclass
class Rig:
    """A ChatService on the scripted model (in process) and a recording sandbox, sharing one fixed clock."""
    model: ScriptedModel
    sandbox: RecordingSandbox
    service: ChatService
    model_recorder: Recorder
    clock: FixedClock

    @classmethod
    def create(cls, model: ScriptedModel, *, verified_user: bool = True,
               store_opener: StoreOpener | None = None) -> Rig:
        clock = FixedClock()
        sandbox = RecordingSandbox(clock)
        model_recorder = Recorder()
        http = httpx.AsyncClient(transport=RecordingTransport(httpx.ASGITransport(app=model.app), model_recorder),
                                 base_url="http://model.test")
        client = model.client(http_client=http)
        service = ChatService(settings(verified_user=verified_user), model_client=client, sandbox=sandbox,
                              clock=clock, store_opener=store_opener)
        return cls(model, sandbox, service, model_recorder, clock)

    async def aclose(self) -> None:
        await self.service.aclose()
        self.sandbox.close()

    def seed(self, start: datetime, about: str, *, email: str = USER_EMAIL, name: str = USER_NAME) -> str:
        """A booking put straight into the sandbox calendar (not through calbot); returns its uid."""
        booking = self.sandbox.calendar.create(NewBooking(
            start=start, event_type_id=THIRTY_MIN, attendee_name=name, attendee_email=email,
            attendee_time_zone=USER_ZONE, responses={"notes": about}))
        return booking["uid"]


class Sink:
    """An `emit` that keeps the events (the app renders them; the bench only needs them for checks)."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    async def __call__(self, event: Any) -> None:
        self.events.append(event)
