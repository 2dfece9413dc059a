"""The concurrency run with sign-in on (issue 17): one password account in a fresh calbot database, so the app starts
with Chainlit's password auth and its SQLAlchemy data layer (calbot/channels/chainlit_auth.py), which writes every
thread, message and step of the page to that database.

Each client signs in as Chainlit's page does: POST /login (form fields username, password), which answers with the
HttpOnly `access_token` cookie (in chunks `access_token_0`, ... when the token is long); the socket.io connection then
carries that cookie, which is where Chainlit 2.12 reads the token in its connect handler (chainlit/socket.py
`_get_token`: the Cookie header only, never the auth payload).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx

from bench.harness import USER_EMAIL, USER_NAME

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-long-password"
SECRET = "bench-sign-in-secret-0123456789abcdef0123456789abcdef"  # set explicitly: nothing is generated
AUTH_COOKIE = "access_token"
# Sign-ins in flight at once. Each is an argon2 check (in the app's worker threads, about 0.3 s on the 2-core
# development machine): 100 at once took 31 s, longer than a connect may wait, and a burst still signing people in
# would measure argon2, not the turns.
SIGN_INS_AT_ONCE = 4


class SignInError(RuntimeError):
    """The account could not be made or the sign-in failed: the bench itself failed."""


def database_path(home: Path) -> Path:
    return home / "calbot.db"


def prepare(home: Path) -> dict[str, str]:
    """Make the account with `python -m calbot users add` in a fresh SQLite file under `home`; return the app's
    settings that turn sign-in on there (CALBOT_DATABASE_URL, CHAINLIT_AUTH_SECRET)."""
    settings = {"CALBOT_DATABASE_URL": f"sqlite+aiosqlite:///{database_path(home)}", "CHAINLIT_AUTH_SECRET": SECRET}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALBOT_", "CAL_", "OPENAI_", "CHAINLIT_"))}
    env.update(settings, CHAINLIT_ENV_FILE=str(home / "no.env"), PYTHONPATH=str(ROOT))
    added = subprocess.run([sys.executable, "-m", "calbot", "users", "add", USER_EMAIL, "--name", USER_NAME],
                           cwd=ROOT, env=env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60,
                           check=False)
    if added.returncode != 0:
        raise SignInError(f"`python -m calbot users add` failed ({added.returncode}): {added.stderr[-2000:]}")
    return settings


async def sign_in(http: httpx.AsyncClient, url: str, email: str = USER_EMAIL, password: str = PASSWORD) -> str:
    """POST /login as the page does; return the auth cookie(s) as a Cookie header fragment."""
    response = await http.post(f"{url}/login", data={"username": email, "password": password})
    if response.status_code != 200:
        raise SignInError(f"POST /login answered {response.status_code}: {response.text[:300]}")
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    pairs = [f"{name}={morsel.value}" for name, morsel in jar.items()
             if name.startswith(AUTH_COOKIE) and morsel.value]
    if not pairs:
        raise SignInError(f"POST /login set no {AUTH_COOKIE} cookie (headers: {list(response.headers)})")
    return "; ".join(pairs)


async def sign_in_all(clients: Sequence[Any], http: httpx.AsyncClient, timeout: float
                      ) -> tuple[float, dict[int, str]]:
    """`await client.sign_in(http)` for every client, SIGN_INS_AT_ONCE at a time; (seconds, {index: failure})."""
    gate = asyncio.Semaphore(SIGN_INS_AT_ONCE)

    async def one(client: Any) -> None:
        async with gate:
            await asyncio.wait_for(client.sign_in(http), timeout)

    started = time.perf_counter()
    outcomes = await asyncio.gather(*(one(c) for c in clients), return_exceptions=True)
    failures = {index: f"sign-in: {type(outcome).__name__}: {outcome}"
                for index, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)}
    return time.perf_counter() - started, failures


def saved_rows(home: Path) -> dict[str, int] | None:
    """What the data layer wrote: rows in Chainlit's threads and steps tables (None when they cannot be read)."""
    path = database_path(home)
    if not path.exists():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            return {table: db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
                    for table in ("threads", "steps")}
    except sqlite3.Error:
        return None
