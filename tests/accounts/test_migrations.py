"""Migration 0002 (accounts, login_failures): applied twice it changes nothing, and a database made at revision 0001
with a chat in it is upgraded with the chat kept. SQLite here; the store suite (tests/store) runs every migration on
Postgres too."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from calbot.booking.session import SessionState
from calbot.store.sql import MIGRATIONS, SqlStore, chats


def _upgrade_to(revision: str):  # type: ignore[no-untyped-def]
    def run(connection: sa.engine.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return run


def _head() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


async def _tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_a_database_at_0001_with_a_chat_is_upgraded_and_keeps_the_chat(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    engine = create_async_engine(url)
    state = SessionState(owner="ana@example.com")
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_to("0001"))
        await conn.execute(sa.insert(chats).values(chat_id=state.chat_id, owner=state.owner, title="old chat",
                                                   version=1, last_activity=state.last_activity,
                                                   state=state.to_json()))
    await engine.dispose()
    assert "accounts" not in await _tables(url)
    store = await SqlStore.open(url)
    try:
        loaded = await store.load(state.chat_id)
    finally:
        await store.close()
    assert loaded is not None and loaded.chat_id == state.chat_id and loaded.owner == "ana@example.com"
    assert {"accounts", "login_failures", "chat_sessions", "proposal_claims"} <= await _tables(url)


async def test_migrations_applied_twice_change_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'twice.db'}"
    for _ in range(2):
        store = await SqlStore.open(url)
        await store.close()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO accounts (email, password_hash, created_at, disabled) "
                                       "VALUES ('a@example.com', 'x', '2026-12-01 09:00:00', 0)"))
    finally:
        await engine.dispose()
    store = await SqlStore.open(url)
    await store.close()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.scalar(sa.text("SELECT count(*) FROM accounts"))) == 1
            assert list((await conn.scalars(sa.text("SELECT version_num FROM alembic_version"))).all()) == [_head()]
    finally:
        await engine.dispose()
