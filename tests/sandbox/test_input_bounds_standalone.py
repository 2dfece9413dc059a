"""Issue 15, finding 11 against the real `python -m calbot.sandbox` process (uvicorn on 127.0.0.1, real clock).

A thousand years of slots must neither hold up /health nor come back as a huge answer; a body over Cal.com's 100 KB
is refused with 413 before it is read (a declared length) or as soon as it passes the limit (a streamed one: the
server's peak memory does not grow by the 100 MB sent); a body
with NaN, which Starlette cannot echo as JSON, still gets Cal.com's envelope, never uvicorn's plain-text 500.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from calbot.sandbox import SANDBOX_API_KEY
from tests.sandbox.conftest import StandaloneSandbox, start_standalone
from tests.sandbox.test_input_bounds import assert_envelope

BOOKINGS = {"cal-api-version": "2024-08-13", "Authorization": f"Bearer {SANDBOX_API_KEY}"}
SLOTS = {"cal-api-version": "2024-09-04"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneSandbox]:
    started = start_standalone(tmp_path_factory.mktemp("bounds") / "sandbox.db", "--test-hooks", "--rate-limit", "0")
    yield started
    started.stop()


def bookings(server: StandaloneSandbox) -> list[dict[str, object]]:
    return httpx.get(f"{server.base_url}/_sandbox/state", timeout=10).json()["bookings"]


def peak_rss_mb(server: StandaloneSandbox) -> float:
    """The server process's peak resident memory so far (VmHWM), in MB."""
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


async def test_a_thousand_years_of_slots_neither_blocks_health_nor_floods(server: StandaloneSandbox) -> None:
    today = datetime.now(UTC).date()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        began = time.monotonic()
        slots = asyncio.create_task(http.get("/v2/slots", headers=SLOTS, params={
            "eventTypeId": 1001, "start": today.isoformat(), "end": today.replace(year=today.year + 1000).isoformat()}))
        waits: list[float] = []
        while not slots.done():
            asked = time.monotonic()
            assert (await http.get("/health")).status_code == 200
            waits.append(time.monotonic() - asked)
            await asyncio.sleep(0.05)
        response = await slots
        took = time.monotonic() - began
    assert response.status_code == 200, response.text[:300]
    days = [date.fromisoformat(key) for key in response.json()["data"]]
    assert days and days[-1] <= today + timedelta(days=367)
    assert len(response.content) < 1_000_000
    assert took < 5, f"the slots answer took {took:.1f} s"
    assert max(waits, default=0) < 0.5, f"/health waited {max(waits):.1f} s"


async def test_a_streamed_body_over_100_kb_is_413_and_stores_nothing(server: StandaloneSandbox) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"start": "2030-01-01T10:00:00Z", "eventTypeId": 1001, "attendee": {"name": "'
        for _ in range(1600):  # 100 MB if it were all read
            sent.append(1)
            yield b"A" * 65_536

    peak_before = peak_rss_mb(server)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        try:
            response = await http.post("/v2/bookings", headers=BOOKINGS, content=chunks())
        except httpx.TransportError:
            pytest.fail("the server closed the connection instead of answering 413")
    body = assert_envelope(response, 413)
    assert (body["error"]["code"], body["error"]["message"]) == ("PayloadTooLargeException",
                                                                 "request entity too large")
    # The client sent all 100 MB (httpx finishes a request before it reads the answer); the server kept none of it.
    assert len(sent) == 1600 and peak_rss_mb(server) < peak_before + 30
    assert bookings(server) == []
    assert httpx.get(f"{server.base_url}/health", timeout=5).status_code == 200


def test_a_declared_100_mb_body_is_refused_before_it_is_sent(server: StandaloneSandbox) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /v2/bookings HTTP/1.1\r\nHost: 127.0.0.1\r\ncal-api-version: 2024-08-13\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{\"attendee\"")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)  # raises socket.timeout if the server waits for the 100 MB
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b'"PayloadTooLargeException"' in body


async def test_nan_in_a_body_is_the_400_envelope_not_plain_text(server: StandaloneSandbox) -> None:
    raw = (b'{"start": "2030-01-01T10:00:00Z", "eventTypeId": NaN, "attendee": {"name": "A", '
           b'"email": "a@example.com", "timeZone": "UTC"}}')
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        response = await http.post("/v2/bookings", content=raw,
                                   headers={**BOOKINGS, "content-type": "application/json"})
        assert_envelope(response, 400)
        for params in ({"take": "9" * 5000}, {"afterStart": "0001-01-01T00:00:00+01:00"}):
            assert_envelope(await http.get("/v2/bookings", headers=BOOKINGS, params=params), 400)
        slots = await http.get("/v2/slots", headers=SLOTS, params={"eventTypeId": str(2**63), "start": "2030-01-01",
                                                                   "end": "2030-01-02"})
        assert_envelope(slots, 400)

