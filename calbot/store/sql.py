"""The SQL SessionStore (SQLAlchemy 2 async): SQLite through aiosqlite by default (`.calbot/calbot.db`, WAL mode,
a busy timeout), Postgres through asyncpg when CALBOT_DATABASE_URL is `postgresql+asyncpg://...`.

The schema comes from the Alembic migrations in ./migrations, applied by `SqlStore.open` under a lock (a file lock
beside a SQLite file, an advisory lock on Postgres), so processes that start together migrate once. Each write is
one statement: a save is an UPDATE that names the expected version (or an INSERT that does nothing if the chat
exists), and a claim is an INSERT into a table keyed by (chat_id, proposal_id) that does nothing if the row exists:
the database, not this process, decides who wins."""

from __future__ import annotations

import asyncio
import builtins
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from calbot.booking.session import SessionState
from calbot.config import DEFAULT_SESSION_TTL, Settings
from calbot.redact import quoted
from calbot.store.base import (ChatSummary, Clock, StaleSessionError, StoreUnavailableError, as_utc, saved,
                               title_of, utc_now)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///.calbot/calbot.db"
MIGRATIONS = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_S = 10  # how long a SQLite writer waits for another one before giving up
MIGRATION_LOCK_KEY = 0x63616C626F74  # "calbot": the Postgres advisory lock held while migrating
_BATCH = 500

metadata = sa.MetaData()
chats = sa.Table(  # as created by migrations/versions/0001_sessions.py (the migrations own the schema)
    "chat_sessions", metadata,
    sa.Column("chat_id", sa.String(100), primary_key=True),
    sa.Column("owner", sa.String(320)),
    sa.Column("title", sa.String(200)),
    sa.Column("version", sa.Integer),
    sa.Column("last_activity", sa.DateTime(timezone=True)),
    sa.Column("state", sa.Text),
)
claims = sa.Table(
    "proposal_claims", metadata,
    sa.Column("chat_id", sa.String(100), primary_key=True),
    sa.Column("proposal_id", sa.String(100), primary_key=True),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
)


def database_url(settings: Settings) -> str:
    """CALBOT_DATABASE_URL, else SQLite in .calbot/ (never DATABASE_URL: Chainlit's own data layer reads that)."""
    return settings.database_url_value or DEFAULT_DATABASE_URL


def _unavailable(url: str, exc: BaseException) -> StoreUnavailableError:
    return StoreUnavailableError(f"The chat database at {quoted(url)} cannot be used ({type(exc).__name__}): check "
                                 "CALBOT_DATABASE_URL and that the database server is running.")


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _lock_file(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # blocks this worker thread, never the event loop
    return fd


class SqlStore:
    """Open with `await SqlStore.open(url)`; `await store.close()` when done."""

    def __init__(self, engine: AsyncEngine, *, ttl: float, owner_ttl: float | None, clock: Clock,
                 url: str = "") -> None:
        self.engine = engine
        self._url = url  # for sentences (quoted: a password is never shown)
        self.ttl = timedelta(seconds=ttl)
        self.owner_ttl = None if owner_ttl is None else timedelta(seconds=owner_ttl)
        self._clock = clock
        name = engine.dialect.name
        self._insert: Any = postgresql.insert if name == "postgresql" else sqlite.insert

    @classmethod
    async def open(cls, url: str = DEFAULT_DATABASE_URL, *, ttl: float = DEFAULT_SESSION_TTL,
                   owner_ttl: float | None = None, clock: Clock = utc_now) -> SqlStore:
        """Connect and bring the schema up to date (under the migration lock)."""
        try:
            parsed = make_url(url)
            sqlite_file = (parsed.database if parsed.get_backend_name() == "sqlite"
                           and parsed.database not in (None, "", ":memory:") else None)
            if sqlite_file:
                Path(sqlite_file).parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(parsed, **({"connect_args": {"timeout": BUSY_TIMEOUT_S}}
                                                    if sqlite_file else {}))
        except (ArgumentError, ValueError, OSError, ImportError) as exc:
            raise _unavailable(url, exc) from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        store = cls(engine, ttl=ttl, owner_ttl=owner_ttl, clock=clock, url=url)
        try:
            await store._migrate(sqlite_file)
        except (SQLAlchemyError, OSError) as exc:
            await engine.dispose()
            raise _unavailable(url, exc) from exc
        return store

    async def _migrate(self, sqlite_file: str | None) -> None:
        if self.engine.dialect.name == "postgresql":
            async with self.engine.begin() as conn:  # the lock ends with this transaction; Postgres DDL is in it
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                await conn.run_sync(_upgrade)
            return
        fd = await asyncio.to_thread(_lock_file, Path(f"{sqlite_file}.migrate-lock")) if sqlite_file else None
        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(_upgrade)
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock

    async def close(self) -> None:
        await self.engine.dispose()

    @asynccontextmanager
    async def _db(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """A connection (in a transaction that commits at the end when `write`); a database that fails is a
        StoreUnavailableError naming CALBOT_DATABASE_URL, never a driver's error."""
        try:
            async with (self.engine.begin() if write else self.engine.connect()) as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            raise _unavailable(self._url, exc) from exc

    # -- the contract ----------------------------------------------------------------------------------------------
    async def load(self, chat_id: str) -> SessionState | None:
        async with self._db(write=False) as conn:
            text = await conn.scalar(sa.select(chats.c.state).where(chats.c.chat_id == chat_id))
        return None if text is None else SessionState.from_json(text)

    async def save(self, state: SessionState, expected_version: int) -> SessionState:
        stored = saved(state, expected_version + 1, self._clock())
        values = {"owner": stored.owner, "title": title_of(stored)[:200], "version": stored.version,
                  "last_activity": as_utc(stored.last_activity), "state": stored.to_json()}
        if expected_version == 0:
            statement = self._insert(chats).values(chat_id=stored.chat_id, **values).on_conflict_do_nothing()
        else:
            statement = (sa.update(chats).values(**values)
                         .where(chats.c.chat_id == stored.chat_id, chats.c.version == expected_version))
        async with self._db(write=True) as conn:
            result = await conn.execute(statement)
        if result.rowcount != 1:
            raise StaleSessionError(state.chat_id, expected_version)
        return stored

    async def claim_proposal(self, chat_id: str, proposal_id: str) -> bool:
        statement = self._insert(claims).values(chat_id=chat_id, proposal_id=proposal_id,
                                                claimed_at=as_utc(self._clock())).on_conflict_do_nothing()
        async with self._db(write=True) as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    async def list(self, owner: str) -> builtins.list[ChatSummary]:
        query = (sa.select(chats.c.chat_id, chats.c.owner, chats.c.title, chats.c.last_activity, chats.c.version)
                 .where(chats.c.owner == owner)
                 .order_by(chats.c.last_activity.desc(), chats.c.chat_id.desc()))
        async with self._db(write=False) as conn:
            rows = (await conn.execute(query)).all()
        return [ChatSummary(chat_id=row.chat_id, owner=row.owner, title=row.title,
                            last_activity=as_utc(row.last_activity), version=row.version) for row in rows]

    async def delete(self, chat_id: str) -> None:
        async with self._db(write=True) as conn:
            await conn.execute(sa.delete(chats).where(chats.c.chat_id == chat_id))
            await conn.execute(sa.delete(claims).where(claims.c.chat_id == chat_id))

    async def sweep(self, now: datetime) -> int:
        expired = sa.and_(chats.c.owner.is_(None), chats.c.last_activity < as_utc(now) - self.ttl)
        if self.owner_ttl is not None:
            expired = sa.or_(expired, sa.and_(chats.c.owner.is_not(None),
                                              chats.c.last_activity < as_utc(now) - self.owner_ttl))
        deleted = 0
        async with self._db(write=True) as conn:
            ids = (await conn.scalars(sa.select(chats.c.chat_id).where(expired))).all()
            for start in range(0, len(ids), _BATCH):
                batch = ids[start:start + _BATCH]
                # The condition again: a chat saved since the select above is fresh and stays.
                result = await conn.execute(sa.delete(chats).where(chats.c.chat_id.in_(batch), expired))
                deleted += result.rowcount
                gone = ~sa.exists().where(chats.c.chat_id == claims.c.chat_id)
                await conn.execute(sa.delete(claims).where(claims.c.chat_id.in_(batch), gone))
        return deleted


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.close()
