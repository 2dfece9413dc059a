"""The store contract suite runs on every SessionStore: memory, SQLite (a fresh file per test) and Postgres (a
fresh database per test in one throwaway cluster; skipped, with the reason, where no cluster can start)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from calbot.store.base import SessionStore
from calbot.store.memory import MemoryStore
from calbot.store.sql import SqlStore
from tests.store.postgres import PostgresUnavailable, postgres_cluster

_databases = itertools.count(1)


class FakeClock:
    """The time the stores stamp saves with; tests move it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | PostgresUnavailable]:
    try:
        with postgres_cluster() as url:
            yield url
    except PostgresUnavailable as exc:
        yield exc


async def _fresh_database(server_url: str) -> str:
    name = f"calbot_test_{next(_databases)}"
    conn = await asyncpg.connect(server_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                       postgres_server: str | PostgresUnavailable) -> str | None:
    """The URL of a fresh, empty database of the backend under test (None for memory)."""
    backend = request.param
    if backend == "memory":
        return None
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/store/calbot.db"
    if isinstance(postgres_server, PostgresUnavailable):
        pytest.skip(f"Postgres store tests skipped: {postgres_server}")
    return await _fresh_database(postgres_server)


OpenStore = Callable[..., Awaitable[SessionStore]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def open_store(database_url: str | None, clock: FakeClock) -> AsyncIterator[OpenStore]:
    """Opens stores over the one database of this test (each SQL store has its own engine, as a process would)."""
    opened: list[SessionStore] = []
    memory: MemoryStore | None = None

    async def open_(**options: object) -> SessionStore:
        nonlocal memory
        options.setdefault("clock", clock)
        if database_url is None:
            memory = memory or MemoryStore(**options)  # type: ignore[arg-type]
            return memory
        store = await SqlStore.open(database_url, **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run only on these stores (memory, sqlite, postgres)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        backends = marker.args if marker else ("memory", "sqlite", "postgres")
        metafunc.parametrize("database_url", backends, indirect=True)
