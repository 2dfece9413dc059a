"""The sandbox answers in worker threads (so a long slots request never holds the event loop); those threads must
end with the event loop that used them. Anyio's worker threads did not: after the suite had passed, the test process
waited on them for ever (CI would have hung)."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import httpx

from calbot.sandbox import Sandbox, SandboxConfig
from testing.common import FIXED_NOW


def test_no_worker_thread_outlives_the_event_loop_that_used_the_sandbox():
    """The loop is closed while the task that asked the sandbox is still pending (as when a test's loop or a server
    stops): anyio tied its idle workers to that task's end, which never came, so they waited for ever."""
    before = set(threading.enumerate())
    sandbox = Sandbox(SandboxConfig(rate_limit=0), ":memory:", lambda: FIXED_NOW)
    loop = asyncio.new_event_loop()
    answered: list[int] = []

    async def use_then_wait() -> None:
        start = datetime(2026, 11, 24, tzinfo=UTC)
        async with httpx.AsyncClient(transport=sandbox.transport(), base_url="http://sandbox") as client:
            answers = await asyncio.gather(*(client.get(
                "/v2/slots", params={"eventTypeId": 1001, "start": (start + timedelta(days=n)).isoformat(),
                                     "end": (start + timedelta(days=n + 1)).isoformat()},
                headers={"cal-api-version": "2024-09-04"}) for n in range(8)))
        answered.extend(answer.status_code for answer in answers)
        loop.stop()
        await asyncio.Event().wait()  # still pending when the loop closes

    try:
        loop.create_task(use_then_wait())
        loop.run_forever()
    finally:
        loop.close()
        sandbox.close()
    assert answered == [200] * 8
    left = [t for t in set(threading.enumerate()) - before if t.is_alive() and not t.daemon]
    for thread in left:
        thread.join(timeout=5)  # a closed loop's executor lets its threads go once they are idle
    left = [t for t in left if t.is_alive()]
    assert left == [], f"threads left running: {[t.name for t in left]}"
