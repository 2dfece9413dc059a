"""The account store on SQLite (a fresh file per test) and Postgres (a fresh database per test in the store suite's
throwaway cluster; skipped with the reason where no cluster can start). Argon2 runs with small costs here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from calbot.accounts import AccountStore
from tests.store.conftest import FakeClock, _fresh_database
from tests.store.postgres import PostgresUnavailable, postgres_cluster

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(scope="session")
def accounts_postgres() -> Iterator[str | PostgresUnavailable]:
    try:
        with postgres_cluster() as url:
            yield url
    except PostgresUnavailable as exc:
        yield exc


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgres"])
async def accounts_url(request: pytest.FixtureRequest, tmp_path: Path,
                       accounts_postgres: str | PostgresUnavailable) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/calbot.db"
    if isinstance(accounts_postgres, PostgresUnavailable):
        pytest.skip(f"Postgres account tests skipped: {accounts_postgres}")
    return await _fresh_database(accounts_postgres)


@pytest.fixture
async def store(accounts_url: str, clock: FakeClock) -> AsyncIterator[AccountStore]:
    opened = await AccountStore.open(accounts_url, clock=clock, hasher=FAST)
    yield opened
    await opened.close()
