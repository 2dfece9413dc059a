"""Tokens for the REST API (calbot/api), in calbot's own SQL database (table `api_tokens`, migration 0004), and
`python -m calbot tokens create|list|revoke`.

A token is `calbot_` and 32 random bytes (secrets.token_urlsafe: 256 bits). It is printed once, when it is made;
the database keeps only its SHA-256. A fast hash is enough here, unlike for passwords: a password is chosen by a
person and can be guessed from a list, so it needs a slow, salted hash (argon2, calbot/accounts/store.py); a token
of 256 random bits cannot be guessed, so whoever reads the table still cannot find one from its hash, and checking
a request costs one hash and one indexed lookup instead of argon2's deliberate tenth of a second.

Who may hold a token (checked when it is made and again on every request): an active account of calbot's database
(`python -m calbot users add`), or, while the database holds no account (single-user mode), CAL_USER_EMAIL. The
token's email is then the verified identity of every API request made with it."""

from __future__ import annotations

import argparse
import asyncio
import builtins
import hashlib
import secrets
import sys
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel

from calbot.accounts.store import AccountError, AccountStore, account_email
from calbot.errors import CalbotError
from calbot.store.base import Clock, as_utc, utc_now
from calbot.store.sql import SqlStore

TOKEN_PREFIX = "calbot_"
MAX_TOKEN_CHARS = 200  # longer Authorization values are refused without hashing

_metadata = sa.MetaData()
api_tokens = sa.Table(  # as created by migrations/versions/0004_api_tokens.py
    "api_tokens", _metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("email", sa.String(320)),
    sa.Column("name", sa.String(200)),
    sa.Column("token_hash", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)


class TokenError(CalbotError, ValueError):
    """A token that cannot be made or revoked as asked, with a sentence for the person."""


class ApiToken(BaseModel):
    id: str
    email: str
    name: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _token(row: sa.Row) -> ApiToken:  # type: ignore[type-arg]
    return ApiToken(id=row.id, email=row.email, name=row.name, created_at=as_utc(row.created_at),
                    last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
                    revoked_at=as_utc(row.revoked_at) if row.revoked_at else None)


async def may_hold_token(accounts: AccountStore, email: str, single_user_email: str | None) -> bool:
    """The rule for who a token may stand for (see the module's docstring)."""
    account = await accounts.get(email)
    if account is not None:
        return not account.disabled
    if await accounts.count_active() > 0 or not single_user_email:
        return False
    return email.lower() == single_user_email.strip().lower()


class TokenStore:
    """Over the session store's SqlStore (one connection pool): `TokenStore(sql)`, or `await TokenStore.open(url)`
    (migrations applied) and `close()`."""

    def __init__(self, sql: SqlStore, *, clock: Clock = utc_now) -> None:
        self._sql = sql
        self.engine = sql.engine
        self._clock = clock
        self.accounts = AccountStore(sql, clock=clock)

    @classmethod
    async def open(cls, url: str, *, clock: Clock = utc_now) -> TokenStore:
        return cls(await SqlStore.open(url), clock=clock)

    async def close(self) -> None:
        await self._sql.close()

    async def create(self, email: str, *, name: str | None = None,
                     single_user_email: str | None = None) -> tuple[ApiToken, str]:
        """A new token for `email`: (its record, the token itself, which is never stored)."""
        try:
            address = account_email(email)
        except AccountError as exc:
            raise TokenError(str(exc)) from None
        if not await may_hold_token(self.accounts, address, single_user_email):
            raise TokenError(f"{address} may not hold a token: it must be an active calbot account (python -m "
                             "calbot users add), or CAL_USER_EMAIL while calbot has no accounts.")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        label = (name.strip()[:200] or None) if name is not None else None
        record = ApiToken(id=secrets.token_hex(6), email=address, name=label, created_at=as_utc(self._clock()),
                          last_used_at=None, revoked_at=None)
        async with self._sql._db(write=True) as conn:
            await conn.execute(sa.insert(api_tokens).values(
                id=record.id, email=address, name=label, token_hash=token_hash(secret), created_at=record.created_at))
        return record, secret

    async def list(self) -> builtins.list[ApiToken]:
        async with self._sql._db(write=False) as conn:
            rows = (await conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id))).all()
        return [_token(row) for row in rows]

    async def revoke(self, token_id: str) -> ApiToken:
        async with self._sql._db(write=True) as conn:
            result = await conn.execute(sa.update(api_tokens)
                                        .where(api_tokens.c.id == token_id.strip(), api_tokens.c.revoked_at.is_(None))
                                        .values(revoked_at=as_utc(self._clock())))
            row = (await conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id.strip()))).first()
        if row is None:
            raise TokenError(f"There is no token with the id {token_id.strip()[:40]!r} (python -m calbot tokens "
                             "list shows them).")
        if result.rowcount != 1:
            raise TokenError(f"The token {row.id} was already revoked.")
        return _token(row)

    async def verify(self, secret: str) -> ApiToken | None:
        """The token's record when `secret` is a token that is not revoked, else None."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN_CHARS:
            return None
        async with self._sql._db(write=False) as conn:
            row = (await conn.execute(sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash(secret))
                                      )).first()
        if row is None or row.revoked_at is not None:
            return None
        return _token(row)

    async def touch(self, token_id: str) -> None:
        """Note that the token was used now (shown by `tokens list`)."""
        async with self._sql._db(write=True) as conn:
            await conn.execute(sa.update(api_tokens).where(api_tokens.c.id == token_id)
                               .values(last_used_at=as_utc(self._clock())))


# -- python -m calbot tokens ---------------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m calbot tokens", description="Manage the REST API's tokens.")
    commands = top.add_subparsers(dest="action", required=True)
    create = commands.add_parser("create", help="make a token for an account (printed once, stored hashed)")
    create.add_argument("email")
    create.add_argument("--name", help="a label, such as the script that will use it")
    commands.add_parser("list", help="list the tokens (never the tokens themselves)")
    commands.add_parser("revoke", help="refuse a token from now on").add_argument("id")
    return top


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}Z" if moment else "-"


async def _run(args: argparse.Namespace, url: str, single_user_email: str | None) -> str:
    store = await TokenStore.open(url)
    try:
        if args.action == "create":
            record, secret = await store.create(args.email, name=args.name, single_user_email=single_user_email)
            return (f"{secret}\n"
                    f"token {record.id} for {record.email}: shown only now; calbot keeps only its hash. Send it as "
                    f"'Authorization: Bearer <token>'.")
        if args.action == "list":
            rows = [f"{t.id}\t{t.email}\t{t.name or '-'}\t{_when(t.created_at)}\t{_when(t.last_used_at)}\t"
                    f"{'revoked ' + _when(t.revoked_at) if t.revoked_at else 'active'}" for t in await store.list()]
            return "\n".join(["id\temail\tname\tcreated\tlast used\tstatus", *rows]) if rows else "no tokens"
        record = await store.revoke(args.id)
        return f"revoked {record.id} ({record.email})"
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from calbot.config import load_settings
    from calbot.store.sql import database_url
    settings = load_settings()
    try:
        print(asyncio.run(_run(args, database_url(settings), settings.cal_user_email)))
    except CalbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: cancelled", file=sys.stderr)
        return 1
    return 0
