"""The SQL store's own duties: migrations (idempotent, once when processes start together), SQLite's settings, the
database URL (CALBOT_DATABASE_URL, never DATABASE_URL), and a database that cannot be used."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from calbot.booking.session import SessionState
from calbot.config import load_settings
from calbot.store import StoreUnavailableError
from calbot.store.sql import DEFAULT_DATABASE_URL, MIGRATIONS, SqlStore, database_url
from tests.store.conftest import OpenStore

SQL_ONLY = pytest.mark.backends("sqlite", "postgres")
ROOT = Path(__file__).resolve().parents[2]
_config = Config()
_config.set_main_option("script_location", str(MIGRATIONS))
HEAD = ScriptDirectory.from_config(_config).get_current_head()  # the newest migration


async def _versions(store: SqlStore) -> list[str]:
    async with store.engine.connect() as conn:
        return list((await conn.scalars(sa.text("SELECT version_num FROM alembic_version"))).all())


@SQL_ONLY
async def test_opening_again_migrates_nothing_and_keeps_the_chats(open_store: OpenStore) -> None:
    first = await open_store()
    state = await first.save(SessionState(owner="ana@example.com"), 0)
    again = await open_store()
    assert isinstance(again, SqlStore)
    assert await _versions(again) == [HEAD]
    assert await again.load(state.chat_id) == state


@SQL_ONLY
async def test_two_stores_starting_at_once_on_a_fresh_database_migrate_once(open_store: OpenStore) -> None:
    stores = await asyncio.wait_for(asyncio.gather(*(open_store() for _ in range(4))), timeout=30)
    assert all(isinstance(store, SqlStore) for store in stores)
    assert await _versions(stores[0]) == [HEAD]  # type: ignore[arg-type]
    state = await stores[1].save(SessionState(), 0)
    assert await stores[2].load(state.chat_id) == state


_OPEN_IN_A_PROCESS = """
import asyncio, sys, time
from calbot.store.sql import SqlStore
async def main():
    while time.time() < float(sys.argv[2]):  # start together
        await asyncio.sleep(0.005)
    store = await SqlStore.open(sys.argv[1])
    print(await store.claim_proposal("chat-1", "p-1"))
    await store.close()
asyncio.run(main())
"""


@SQL_ONLY
def test_two_processes_starting_at_once_on_a_fresh_database_both_work(database_url: str) -> None:
    import time
    start = str(time.time() + 1.5)
    processes = [subprocess.Popen([sys.executable, "-c", _OPEN_IN_A_PROCESS, database_url, start], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    assert sorted(out.strip() for out, _ in outputs) == ["False", "True"]  # and the claim was won once


@pytest.mark.backends("sqlite")
async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(open_store: OpenStore) -> None:
    store = await open_store()
    assert isinstance(store, SqlStore)
    async with store.engine.connect() as conn:
        assert (await conn.scalar(sa.text("PRAGMA journal_mode"))) == "wal"
        assert (await conn.scalar(sa.text("PRAGMA busy_timeout"))) == 10000


def test_the_default_database_is_sqlite_in_dot_calbot_and_database_url_is_never_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://chainlit@db/chainlit")  # Chainlit's data layer's variable
    assert database_url(load_settings()) == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///.calbot/calbot.db"
    monkeypatch.setenv("CALBOT_DATABASE_URL", "postgresql+asyncpg://calbot:pw@db.example.com/calbot")
    assert database_url(load_settings()) == "postgresql+asyncpg://calbot:pw@db.example.com/calbot"


async def test_a_database_that_cannot_be_reached_is_a_store_error_that_hides_the_password(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        await SqlStore.open("postgresql+asyncpg://calbot:s3cret-pw@127.0.0.1:1/calbot")
    assert "s3cret-pw" not in str(caught.value) and "CALBOT_DATABASE_URL" in str(caught.value)
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(StoreUnavailableError):
        await SqlStore.open(f"sqlite+aiosqlite:///{blocked}/calbot.db")  # a file where the folder should be


@SQL_ONLY
async def test_a_database_that_fails_after_opening_is_a_store_error_not_a_driver_error(open_store: OpenStore
                                                                                        ) -> None:
    store = await open_store()
    assert isinstance(store, SqlStore)
    async with store.engine.begin() as conn:  # the table gone, as when the database is replaced underneath
        await conn.execute(sa.text("DROP TABLE chat_sessions"))
    with pytest.raises(StoreUnavailableError) as caught:
        await store.load("chat-1")
    assert "CALBOT_DATABASE_URL" in str(caught.value)
    with pytest.raises(StoreUnavailableError):
        await store.save(SessionState(chat_id="chat-1"), 0)
