"""Fixtures for the sandbox calendar's tests.

- `make_sandbox(**config)`: an in-memory Sandbox (test hooks on, rate limit off, clock frozen at FIXED_NOW unless
  `clock=` is given); `sandbox` is one with the defaults.
- `SpecCheckingTransport`: wraps any httpx transport and checks every request and every response against
  tests/spec/calcom/openapi-v2-subset.json (tests/openapi_spec.py); a mismatch raises AssertionError in the caller and
  is remembered, so the fixture also fails the test at teardown.
- `cal` (raw httpx.AsyncClient, key sent) / `anon` (no key) / `client` (calbot's CalcomClient), all over the
  spec-checking transport into `sandbox`.
- `standalone`: `python -m calbot.sandbox --test-hooks` in a subprocess on a free 127.0.0.1 port (its own SQLite
  file under tmp_path); `.base_url` is http://127.0.0.1:PORT, `.api` is that + /v2.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from calbot.calcom import CalcomClient
from calbot.sandbox import EMBEDDED_BASE_URL, SANDBOX_API_KEY, Sandbox, SandboxConfig
from tests.openapi_spec import validate_request, validate_response
from testing.common import FIXED_NOW

ROOT = Path(__file__).resolve().parents[2]
# Monday 23 November 2026, 08:00 UTC (08:00 in London, the default host zone: one hour before work starts).
ORIGIN = EMBEDDED_BASE_URL.removesuffix("/v2")  # http://sandbox.calbot.local


class SpecCheckingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.failures: list[str] = []
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        checked = request.url.path.startswith("/v2/")
        if checked:
            self._check(validate_request, request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if checked:
            self._check(validate_response, request, response)
        self.exchanges.append((request, response))
        return response

    def _check(self, check: Callable[..., None], *args: Any) -> None:
        try:
            check(*args)
        except AssertionError as exc:
            self.failures.append(str(exc))
            raise


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    made: list[Sandbox] = []

    def make(*, clock: Callable[[], datetime] | None = None, db: str | Path = ":memory:", **config: Any) -> Sandbox:
        base = SandboxConfig(test_hooks=True, rate_limit=0)
        sandbox = Sandbox(replace(base, **config), db, clock or (lambda: FIXED_NOW))
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        sandbox.close()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


@pytest.fixture
def spec_transport(sandbox: Sandbox) -> Iterator[SpecCheckingTransport]:
    transport = SpecCheckingTransport(sandbox.transport())
    yield transport
    if transport.failures:
        pytest.fail(f"{len(transport.failures)} exchange(s) did not match the Cal.com OpenAPI document:\n\n"
                    + "\n\n".join(transport.failures), pytrace=False)


@pytest.fixture
async def cal(spec_transport: SpecCheckingTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ORIGIN, transport=spec_transport,
                                 headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}) as http:
        yield http


@pytest.fixture
async def anon(spec_transport: SpecCheckingTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=ORIGIN, transport=spec_transport) as http:
        yield http


@pytest.fixture
async def client(spec_transport: SpecCheckingTransport) -> AsyncIterator[CalcomClient]:
    async with CalcomClient(SANDBOX_API_KEY, EMBEDDED_BASE_URL, transport=spec_transport) as calcom:
        yield calcom


# -- the standalone server ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StandaloneSandbox:
    process: subprocess.Popen[bytes]
    port: int
    db: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.base_url}/v2"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_standalone(db: Path, *args: str, port: int | None = None, log: Path | None = None,
                     timeout: float = 20.0) -> StandaloneSandbox:
    """Start `python -m calbot.sandbox` and wait until /health answers; raises RuntimeError with its log if not."""
    port = port or free_port()
    log = log or db.with_suffix(f".{port}.log")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "calbot.sandbox", "--port", str(port), "--db", str(db),
                                    *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = StandaloneSandbox(process, port, db, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=0.5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the sandbox did not answer /health within {timeout} s:\n{log.read_text()}")


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[StandaloneSandbox]:
    server = start_standalone(tmp_path / "sandbox.db", "--test-hooks", "--rate-limit", "0")
    yield server
    server.stop()
