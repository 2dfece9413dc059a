"""Migration 0003: the tables of Chainlit's SQLAlchemy data layer, on SQLite and Postgres. A real
SQLAlchemyDataLayer runs over the migrated database. Its execute_sql turns every SQL error into a warning of the
"chainlit" logger and returns None, so the tests read the data back and also require that no warning was logged.
A column missing from the migration makes them fail."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import chainlit as cl
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from chainlit.context import ChainlitContext, context_var
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.data.storage_clients.base import BaseStorageClient
from chainlit.session import HTTPSession
from chainlit.types import Feedback, Pagination, ThreadFilter
from sqlalchemy.ext.asyncio import create_async_engine

from calbot.booking.session import SessionState
from calbot.store.sql import MIGRATIONS, SqlStore, chats

SQL_ONLY = pytest.mark.backends("sqlite", "postgres")
CHAINLIT_TABLES = {"users", "threads", "steps", "elements", "feedbacks"}
CALBOT_TABLES = {"chat_sessions", "proposal_claims", "accounts", "login_failures", "api_tokens"}
_config = Config()
_config.set_main_option("script_location", str(MIGRATIONS))
HEAD = ScriptDirectory.from_config(_config).get_current_head()

accounts = sa.table("accounts", sa.column("email"), sa.column("password_hash"),
                    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("disabled", sa.Boolean))


class _Warnings(logging.Handler):
    """The warnings of the "chainlit" logger (where execute_sql reports the SQL errors it swallows)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _chainlit_warnings() -> Iterator[list[str]]:
    handler, chainlit_logger = _Warnings(), logging.getLogger("chainlit")
    chainlit_logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        chainlit_logger.removeHandler(handler)


class _Storage(BaseStorageClient):
    """A storage client in memory, so that create_element writes its row (without one it writes nothing)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    async def upload_file(self, object_key: str, data: bytes | str, mime: str = "application/octet-stream",
                          overwrite: bool = True, content_disposition: str | None = None) -> dict[str, Any]:
        self.files[object_key] = data if isinstance(data, bytes) else data.encode()
        return {"object_key": object_key, "url": f"memory://{object_key}"}

    async def delete_file(self, object_key: str) -> bool:
        return self.files.pop(object_key, None) is not None

    async def get_read_url(self, object_key: str) -> str:
        return f"memory://{object_key}"

    async def close(self) -> None:
        pass


def _in_chainlit_context(thread_id: str) -> None:
    """What a Chainlit HTTP request sets up: Step/Message take their thread from it, and the data layer's
    queue_until_user_message runs the call at once (it queues only for a websocket session)."""
    context_var.set(ChainlitContext(HTTPSession(id=str(uuid.uuid4()), client_type="webapp", thread_id=thread_id)))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # SQLite gives JSON back as a str


async def _migrate(url: str) -> None:
    store = await SqlStore.open(url)
    await store.close()


async def _schema(url: str) -> dict[str, set[str]]:
    """Every table with its columns."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            def read(sync: sa.Connection) -> dict[str, set[str]]:
                inspector = sa.inspect(sync)
                return {table: {column["name"] for column in inspector.get_columns(table)}
                        for table in inspector.get_table_names()}
            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def _scalars(url: str, query: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.scalars(sa.text(query))).all())
    finally:
        await engine.dispose()


@SQL_ONLY
async def test_chainlit_data_layer_round_trip(database_url: str) -> None:
    await _migrate(database_url)
    thread_id = str(uuid.uuid4())
    _in_chainlit_context(thread_id)
    storage = _Storage()
    layer = SQLAlchemyDataLayer(conninfo=database_url, storage_provider=storage)
    try:
        with _chainlit_warnings() as warnings:
            user = await layer.create_user(cl.User(identifier="ana@example.com", metadata={}))
            assert user is not None and user.identifier == "ana@example.com" and user.metadata == {}
            assert await layer.get_user("ana@example.com") == user
            await layer.update_thread(thread_id, name="Lunch with Bo", user_id=user.id,
                                      metadata={"chat_id": "c-1"})

            message = cl.Message(content="Book lunch with Bo tomorrow", author="ana", type="user_message",
                                 created_at="2026-12-01T09:00:00.000000Z")
            tool = cl.Step(name="find_free_times", type="tool", auto_collapse=True, default_open=True,
                           show_input="json")
            tool.input = {"day": "2026-12-02"}
            tool.output = "12:00, 12:30"
            tool.created_at = tool.start = "2026-12-01T09:00:01.000000Z"
            tool.end = "2026-12-01T09:00:02.000000Z"
            tool_dict = tool.to_dict()
            assert {"autoCollapse", "defaultOpen", "showInput", "generation"} <= tool_dict.keys()
            assert {"command", "modes", "waitForAnswer"} <= message.to_dict().keys()
            await layer.create_step(tool_dict)  # written first: the order comes from createdAt
            await layer.create_step(message.to_dict())
            audio = cl.Audio(name="note.mp3", content=b"ID3", mime="audio/mpeg", for_id=tool.id)
            assert "autoPlay" in audio.to_dict()
            await layer.create_element(audio)
            feedback_id = await layer.upsert_feedback(Feedback(forId=tool.id, value=1, threadId=thread_id,
                                                               comment="right times"))

            thread = await layer.get_thread(thread_id)
            assert thread is not None
            assert (thread["name"], thread["userId"], thread["userIdentifier"]) == ("Lunch with Bo", user.id,
                                                                                    "ana@example.com")
            assert _json(thread["metadata"]) == {"chat_id": "c-1"}
            steps = thread["steps"]
            assert [(s["id"], s["type"], s["output"]) for s in steps] == [
                (message.id, "user_message", "Book lunch with Bo tomorrow"),
                (tool.id, "tool", "12:00, 12:30")]
            assert json.loads(steps[1]["input"]) == {"day": "2026-12-02"} and steps[1]["showInput"] == "json"
            assert steps[1]["feedback"] is not None
            assert (steps[1]["feedback"]["id"], steps[1]["feedback"]["value"]) == (feedback_id, 1)
            assert [(e["id"], e["forId"], e["mime"]) for e in thread["elements"]] == [
                (audio.id, tool.id, "audio/mpeg")]
            flags = await layer.execute_sql('SELECT "autoCollapse", "defaultOpen" FROM steps WHERE "id" = :id',
                                            {"id": tool.id})
            assert isinstance(flags, list)
            assert [(bool(r["autoCollapse"]), bool(r["defaultOpen"])) for r in flags] == [(True, True)]

            listed = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user.id))
            assert [(t["id"], t["name"]) for t in listed.data] == [(thread_id, "Lunch with Bo")]
            assert await layer.get_thread_author(thread_id) == "ana@example.com"

            await layer.delete_thread(thread_id)
            assert await layer.get_thread(thread_id) is None
            assert storage.files == {}  # the element's file went with it
            for table in ("steps", "elements", "feedbacks"):
                left = await layer.execute_sql(f'SELECT count(*) AS n FROM {table} WHERE "threadId" = :id',
                                                {"id": thread_id})
                assert left == [{"n": 0}], table
            assert warnings == []
    finally:
        await layer.close()


@SQL_ONLY
async def test_every_key_chainlit_writes_has_its_column(database_url: str) -> None:
    """Chainlit builds its INSERTs from these dicts' keys: a key with no column loses the whole row."""
    await _migrate(database_url)
    _in_chainlit_context(str(uuid.uuid4()))
    schema = await _schema(database_url)
    step_keys = cl.Step(name="s", type="tool").to_dict().keys() | cl.Message(content="m").to_dict().keys()
    element_keys = (cl.Audio(name="a", content=b"x").to_dict().keys()
                    | cl.Video(name="v", content=b"x", player_config={"muted": True}).to_dict().keys()
                    | cl.CustomElement(name="c", props={"n": 1}).to_dict().keys())
    assert step_keys <= schema["steps"]
    assert element_keys <= schema["elements"]
    assert {"id", "createdAt", "name", "userId", "userIdentifier", "tags", "metadata"} <= schema["threads"]
    assert {"id", "identifier", "createdAt", "metadata"} <= schema["users"]
    assert Feedback(forId="f", value=1).__dataclass_fields__.keys() <= schema["feedbacks"]


@SQL_ONLY
async def test_migrations_applied_twice_change_nothing(database_url: str) -> None:
    await _migrate(database_url)
    first = await _schema(database_url)
    await _migrate(database_url)
    assert await _schema(database_url) == first
    assert set(first) == CALBOT_TABLES | CHAINLIT_TABLES | {"alembic_version"}  # no name shared, none lost
    assert HEAD == "0004"
    assert await _scalars(database_url, "SELECT version_num FROM alembic_version") == [HEAD]


def _upgrade_to(revision: str):  # type: ignore[no-untyped-def]
    def run(connection: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return run


@SQL_ONLY
async def test_a_database_at_0002_with_a_chat_and_an_account_is_upgraded_and_keeps_them(database_url: str) -> None:
    database = sa.make_url(database_url).database
    if database_url.startswith("sqlite") and database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(database_url)
    state = SessionState(owner="ana@example.com")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to("0002"))
            await conn.execute(sa.insert(chats).values(chat_id=state.chat_id, owner=state.owner, title="old chat",
                                                       version=1, last_activity=state.last_activity,
                                                       state=state.to_json()))
            await conn.execute(sa.insert(accounts).values(email="ana@example.com", password_hash="argon2-hash",
                                                          created_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
                                                          disabled=False))
    finally:
        await engine.dispose()
    assert not CHAINLIT_TABLES & set(await _schema(database_url))

    store = await SqlStore.open(database_url)
    try:
        loaded = await store.load(state.chat_id)
    finally:
        await store.close()
    assert loaded == state
    assert await _scalars(database_url, "SELECT email FROM accounts") == ["ana@example.com"]
    assert CHAINLIT_TABLES | CALBOT_TABLES <= set(await _schema(database_url))
    assert await _scalars(database_url, "SELECT version_num FROM alembic_version") == [HEAD]


def _downgrade_to(revision: str):  # type: ignore[no-untyped-def]
    def run(connection: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
    return run


@SQL_ONLY
async def test_downgrading_to_0002_drops_only_chainlit_tables(database_url: str) -> None:
    await _migrate(database_url)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_downgrade_to("0002"))
    finally:
        await engine.dispose()
    assert set(await _schema(database_url)) == CALBOT_TABLES - {"api_tokens"} | {"alembic_version"}  # (0004's)
    await _migrate(database_url)
    assert CHAINLIT_TABLES <= set(await _schema(database_url))


def _foreign_keys_on(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # SQLite enforces foreign keys only when asked, per connection
    cursor.close()


@SQL_ONLY
async def test_deleting_a_user_or_a_thread_cascades_where_foreign_keys_are_enforced(database_url: str) -> None:
    """Chainlit's delete_thread deletes the rows itself, so this matters only for deletes made outside it (a user,
    a thread); on SQLite only on a connection with PRAGMA foreign_keys=ON (Chainlit's own engine has it off)."""
    await _migrate(database_url)
    engine = create_async_engine(database_url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _foreign_keys_on)
    user, two = str(uuid.uuid4()), [str(uuid.uuid4()), str(uuid.uuid4())]
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO users (id, identifier, metadata) VALUES (:id, 'a@b.c', '{}')"),
                               {"id": user})
            for thread in two:
                await conn.execute(sa.text('INSERT INTO threads (id, "userId") VALUES (:id, :user)'),
                                   {"id": thread, "user": user})
                step = str(uuid.uuid4())
                await conn.execute(sa.text('INSERT INTO steps (id, name, type, "threadId", streaming) '
                                           "VALUES (:id, 'n', 'tool', :thread, false)"), {"id": step, "thread": thread})
                await conn.execute(sa.text('INSERT INTO elements (id, "threadId", name, "forId") '
                                           "VALUES (:id, :thread, 'e', :step)"),
                                   {"id": str(uuid.uuid4()), "thread": thread, "step": step})
                await conn.execute(sa.text('INSERT INTO feedbacks (id, "forId", "threadId", value) '
                                           "VALUES (:id, :step, :thread, 1)"),
                                   {"id": str(uuid.uuid4()), "thread": thread, "step": step})
        async with engine.begin() as conn:
            await conn.execute(sa.text("DELETE FROM threads WHERE id = :id"), {"id": two[0]})
            counts = [await conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
                      for table in ("threads", "steps", "elements", "feedbacks")]
            assert counts == [1, 1, 1, 1]
            await conn.execute(sa.text("DELETE FROM users WHERE id = :id"), {"id": user})
            counts = [await conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
                      for table in ("users", "threads", "steps", "elements", "feedbacks")]
            assert counts == [0, 0, 0, 0, 0]
    finally:
        await engine.dispose()
