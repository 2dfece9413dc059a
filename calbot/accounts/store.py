"""The accounts people sign in with, in calbot's own SQL database (the session store's: the same URL, the same
migrations, table `accounts`), and the failed logins that throttle guessing (table `login_failures`, counted in the
database so the limit holds across processes).

Passwords are hashed with argon2-cffi's PasswordHasher (argon2id), never by hand; a hash made with older parameters
is replaced on the next good login. Nothing about a password or a hash is ever logged."""

from __future__ import annotations

import asyncio
import builtins
import logging
import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from calbot.errors import CalbotError
from calbot.store.base import Clock, as_utc, utc_now
from calbot.store.sql import SqlStore
from calbot.timezones import get_zone, zone_name
from calbot.validation import InvalidEmailError, normalise_email

MIN_PASSWORD_LENGTH = 8
MAX_FAILURES = 5  # failed logins for one email or one client address ...
FAILURE_WINDOW = timedelta(minutes=15)  # ... within this window, then a wait

# aiosqlite logs every statement with its parameters at DEBUG, which would put password hashes in a debug log:
# its logger stays at INFO whatever the root level is.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

_metadata = sa.MetaData()
accounts = sa.Table(  # as created by migrations/versions/0002_accounts.py
    "accounts", _metadata,
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("time_zone", sa.String(100)),
    sa.Column("password_hash", sa.String(500)),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("disabled", sa.Boolean),
)
failures = sa.Table(
    "login_failures", _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(400)),
    sa.Column("failed_at", sa.DateTime(timezone=True)),
)


class AccountError(CalbotError, ValueError):
    """An account that cannot be added or changed as asked, with a sentence for the person (bad email, duplicate,
    unknown zone, short password, unknown account)."""


class LoginThrottled(CalbotError):
    """Too many failed logins for that account or that client address; try again after `wait_seconds`."""

    def __init__(self, wait_seconds: int) -> None:
        self.wait_seconds = wait_seconds
        super().__init__(f"Too many failed sign-ins; try again in {wait_seconds} seconds.")


class Account(BaseModel):
    email: str
    name: str | None
    time_zone: str | None
    created_at: datetime
    disabled: bool


def account_email(value: str) -> str:
    """The address lower-cased after calbot's email validation, or AccountError."""
    try:
        return normalise_email(value).lower()
    except InvalidEmailError as exc:
        raise AccountError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None


def _zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return zone_name(get_zone(value))
    except ValueError as exc:
        raise AccountError(str(exc)) from None


def _check_password(password: str) -> str:
    if not isinstance(password, str) or not password:
        raise AccountError("The password is empty.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters.")
    return password


def _account(row: sa.Row) -> Account:  # type: ignore[type-arg]
    return Account(email=row.email, name=row.name, time_zone=row.time_zone, created_at=as_utc(row.created_at),
                   disabled=bool(row.disabled))


class AccountStore:
    """Open with `await AccountStore.open(url)` (the session store's URL; migrations applied); `close()` when done."""

    def __init__(self, sql: SqlStore, *, clock: Clock = utc_now, hasher: PasswordHasher | None = None) -> None:
        self._sql = sql
        self.engine = sql.engine
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = self._hasher.hash("calbot: no such account")  # verified against for unknown emails

    @classmethod
    async def open(cls, url: str, *, clock: Clock = utc_now, hasher: PasswordHasher | None = None) -> AccountStore:
        sql = await SqlStore.open(url)  # the engine setup and the migrations, under the migration lock
        return cls(sql, clock=clock, hasher=hasher)

    async def close(self) -> None:
        await self._sql.close()

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def add(self, email: str, password: str, *, name: str | None = None,
                  time_zone: str | None = None) -> Account:
        address = account_email(email)
        zone = _zone(time_zone)
        digest = await self._hash(_check_password(password))
        clean_name = name.strip()[:200] or None if name is not None else None
        created = as_utc(self._clock())
        try:
            async with self._sql._db(write=True) as conn:
                await conn.execute(sa.insert(accounts).values(email=address, name=clean_name, time_zone=zone,
                                                              password_hash=digest, created_at=created,
                                                              disabled=False))
        except Exception as exc:  # a duplicate surfaces as IntegrityError inside StoreUnavailableError
            if isinstance(exc, IntegrityError) or isinstance(exc.__cause__, IntegrityError):
                raise AccountError(f"An account for {address} already exists.") from None
            raise
        return Account(email=address, name=clean_name, time_zone=zone, created_at=created, disabled=False)

    async def get(self, email: str) -> Account | None:
        try:
            address = account_email(email)
        except AccountError:
            return None
        async with self._sql._db(write=False) as conn:
            row = (await conn.execute(sa.select(accounts).where(accounts.c.email == address))).first()
        return None if row is None else _account(row)

    async def list(self) -> builtins.list[Account]:
        async with self._sql._db(write=False) as conn:
            rows = (await conn.execute(sa.select(accounts).order_by(accounts.c.email))).all()
        return [_account(row) for row in rows]

    async def _update(self, email: str, **values: object) -> None:
        address = account_email(email)
        async with self._sql._db(write=True) as conn:
            result = await conn.execute(sa.update(accounts).where(accounts.c.email == address).values(**values))
        if result.rowcount != 1:
            raise AccountError(f"There is no account for {address}.")

    async def set_password(self, email: str, password: str) -> None:
        await self._update(email, password_hash=await self._hash(_check_password(password)))

    async def set_time_zone(self, email: str, time_zone: str) -> None:
        await self._update(email, time_zone=_zone(time_zone))

    async def disable(self, email: str) -> None:
        await self._update(email, disabled=True)

    async def remove(self, email: str) -> None:
        address = account_email(email)
        async with self._sql._db(write=True) as conn:
            result = await conn.execute(sa.delete(accounts).where(accounts.c.email == address))
        if result.rowcount != 1:
            raise AccountError(f"There is no account for {address}.")

    async def count_active(self) -> int:
        async with self._sql._db(write=False) as conn:
            count = await conn.scalar(sa.select(sa.func.count()).select_from(accounts)
                                      .where(accounts.c.disabled.is_(False)))
        return int(count or 0)

    async def _throttle(self, keys: builtins.list[str], now: datetime) -> None:
        since = now - FAILURE_WINDOW
        async with self._sql._db(write=False) as conn:
            for key in keys:
                rows = (await conn.scalars(sa.select(failures.c.failed_at)
                                           .where(failures.c.key == key, failures.c.failed_at > since)
                                           .order_by(failures.c.failed_at.desc()).limit(MAX_FAILURES))).all()
                if len(rows) >= MAX_FAILURES:
                    oldest = as_utc(rows[-1])
                    wait = (oldest + FAILURE_WINDOW - now).total_seconds()
                    raise LoginThrottled(max(1, math.ceil(wait)))

    async def authenticate(self, email: str, password: str, client: str) -> Account | None:
        """The account when the email and password are right and it is not disabled, else None (the same None
        whatever was wrong); LoginThrottled after MAX_FAILURES failures within FAILURE_WINDOW for that email or
        that client address."""
        now = as_utc(self._clock())
        try:
            address: str | None = account_email(email)
        except AccountError:
            address = None
        keys = [f"client:{client}"] + ([f"email:{address}"] if address else [])
        await self._throttle(keys, now)
        row = None
        if address is not None:
            async with self._sql._db(write=False) as conn:
                row = (await conn.execute(sa.select(accounts).where(accounts.c.email == address))).first()
        digest = row.password_hash if row is not None else self._dummy_hash
        ok = await asyncio.to_thread(self._verify, digest, password if isinstance(password, str) else "")
        if row is None or not ok or row.disabled:
            async with self._sql._db(write=True) as conn:
                await conn.execute(sa.insert(failures), [{"key": key, "failed_at": now} for key in keys])
            return None
        async with self._sql._db(write=True) as conn:
            await conn.execute(sa.delete(failures).where(failures.c.key == f"email:{address}"))
            if self._hasher.check_needs_rehash(digest):
                await conn.execute(sa.update(accounts).where(accounts.c.email == address)
                                   .values(password_hash=await self._hash(password)))
        return _account(row)

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self._hasher.verify(digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
