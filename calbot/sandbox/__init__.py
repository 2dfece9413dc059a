"""calbot's sandbox calendar: a local emulator of the Cal.com API v2 surface calbot uses, persisted in SQLite.

    sandbox = Sandbox.open(".calbot/sandbox.db")       # or Sandbox() for an in-memory one
    client = CalcomClient(SANDBOX_API_KEY, EMBEDDED_BASE_URL, transport=sandbox.transport())

The same app runs standalone with `python -m calbot.sandbox --port 5555` (see __main__.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx

from calbot.sandbox.config import (
    SANDBOX_API_KEY,
    Recurrence,
    SandboxConfig,
    SandboxEventType,
    SandboxHost,
    WeeklySchedule,
)
from calbot.sandbox.server import FaultSpec, SandboxServer
from calbot.sandbox.service import ApiError, SandboxCalendar
from calbot.sandbox.store import BookingStore

DEFAULT_DB_PATH = Path(".calbot") / "sandbox.db"
# Base URL the embedded sandbox is reached at through httpx.ASGITransport (no socket is opened).
EMBEDDED_BASE_URL = "http://sandbox.calbot.local/v2"


class Sandbox:
    """One sandbox calendar: config + SQLite store + rules + ASGI app."""

    def __init__(self, config: SandboxConfig | None = None, db: str | Path = ":memory:",
                 clock: Callable[[], datetime] | None = None) -> None:
        self.config = config or SandboxConfig()
        self.store = BookingStore(db)
        self.calendar = SandboxCalendar(self.config, self.store, clock)
        self.server = SandboxServer(self.calendar)

    @classmethod
    def open(cls, db: str | Path = DEFAULT_DB_PATH, *, config: SandboxConfig | None = None,
             reset: bool = False, clock: Callable[[], datetime] | None = None) -> Sandbox:
        sandbox = cls(config, db, clock)
        if reset:
            sandbox.store.reset()
        return sandbox

    @property
    def app(self):  # noqa: ANN201 - a Starlette app
        return self.server.app

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.server.app)

    def close(self) -> None:
        self.store.close()


__all__ = ["DEFAULT_DB_PATH", "EMBEDDED_BASE_URL", "SANDBOX_API_KEY", "ApiError", "FaultSpec", "Recurrence",
           "Sandbox", "SandboxCalendar", "SandboxConfig", "SandboxEventType", "SandboxHost", "WeeklySchedule"]
