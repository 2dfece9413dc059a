"""Starting the app (and other servers) as separate processes, for the browser tests and the bench.

    with chainlit_app({"OPENAI_BASE_URL": ..., ...}, home / "app.log") as url:
        ...                          # `env -u CI chainlit run app.py -h` on 127.0.0.1, /health answered

Every server listens on 127.0.0.1 only and is always stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from testing.common import SETTING_PREFIXES

ROOT = Path(__file__).resolve().parents[1]
# Variables a developer's shell or .env may set that must not leak into an app started for a test or the bench.
CLEARED_PREFIXES = SETTING_PREFIXES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, log: Path, what: str, timeout: float = 60) -> None:
    """Return once GET {url}/health answers 200; RuntimeError (with the log's tail) if the process exits first or
    `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer /health in {timeout:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def chainlit_command(port: int) -> list[str]:
    chainlit = ROOT / ".venv" / "bin" / "chainlit"
    return [str(chainlit) if chainlit.exists() else shutil.which("chainlit") or "chainlit",
            "run", "app.py", "-h", "--host", "127.0.0.1", "--port", str(port)]


@contextmanager
def chainlit_app(settings: dict[str, str], log: Path, timeout: float = 60) -> Iterator[str]:
    """`env -u CI chainlit run app.py -h` on a free port with `settings` as its only CAL_/CALBOT_/OPENAI_/CHAINLIT_
    variables; yields its URL once /health answers, stops it at the end."""
    with chainlit_process(settings, log, timeout) as (url, _):
        yield url


@contextmanager
def chainlit_process(settings: dict[str, str], log: Path, timeout: float = 60
                     ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """chainlit_app that also yields the process (the bench reads its CPU time)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith(CLEARED_PREFIXES)}
    chats = Path(tempfile.mkdtemp(prefix="calbot-chats-"))  # the app's session store, unless settings name one
    env["CALBOT_DATABASE_URL"] = f"sqlite+aiosqlite:///{chats}/calbot.db"
    env.update(settings)
    with log.open("w") as out:
        process = subprocess.Popen(chainlit_command(port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log, "chainlit", timeout)
        yield url, process
    finally:
        stop(process)
        shutil.rmtree(chats, ignore_errors=True)
