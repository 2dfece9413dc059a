"""A process's CPU time, from Linux's /proc: the concurrency run reads the app process's over the burst."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used so far, all its threads: Linux's per-thread schedstat (nanoseconds), else
    utime + stime from /proc/PID/stat (clock ticks); None where there is no /proc."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        return sum(int(Path(f"/proc/{pid}/task/{t}/schedstat").read_text().split()[0]) for t in tasks) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


async def settled_cpu_seconds(pid: int, quiet_cpu: float = 0.002, interval: float = 0.1, limit: float = 10.0
                              ) -> float | None:
    """The process's CPU time once it has gone quiet: `interval` seconds in which it used under `quiet_cpu` s."""
    previous = process_cpu_seconds(pid)
    deadline = time.monotonic() + limit
    while previous is not None and time.monotonic() < deadline:
        await asyncio.sleep(interval)
        now = process_cpu_seconds(pid)
        if now is None or now - previous < quiet_cpu:
            return previous
        previous = now
    return previous
