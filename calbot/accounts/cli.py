"""`python -m calbot users ...`: add, list, passwd, disable and remove sign-in accounts in calbot's database
(CALBOT_DATABASE_URL through calbot.config, else .calbot/calbot.db; the migrations are applied first, so it works
before the app ever started and while it runs). Passwords come from a prompt (a terminal) or one line of standard
input, never from the command line. Errors are one line on stderr and exit status 1; usage errors exit 2."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from calbot.accounts.store import MIN_PASSWORD_LENGTH, AccountError, AccountStore
from calbot.errors import CalbotError


def _password(confirm: bool) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password (at least {MIN_PASSWORD_LENGTH} characters): ")
        if confirm and getpass.getpass("Password again: ") != first:
            raise AccountError("The two passwords differ; nothing was changed.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m calbot users", description="Manage calbot's sign-in accounts.")
    commands = top.add_subparsers(dest="action", required=True)
    add = commands.add_parser("add", help="add an account (the password is read from a prompt or standard input)")
    add.add_argument("email")
    add.add_argument("--name")
    add.add_argument("--timezone", help="an IANA zone such as Europe/Berlin")
    commands.add_parser("list", help="list the accounts (no passwords)")
    for name, text in (("passwd", "set a new password (read from a prompt or standard input)"),
                       ("disable", "refuse sign-in to an account (its chats are kept)"),
                       ("remove", "delete an account")):
        commands.add_parser(name, help=text).add_argument("email")
    return top


async def _run(args: argparse.Namespace, url: str) -> str:
    store = await AccountStore.open(url)
    try:
        if args.action == "add":
            account = await store.add(args.email, _password(True), name=args.name, time_zone=args.timezone)
            return f"added {account.email}"
        if args.action == "list":
            rows = [f"{a.email}\t{a.name or '-'}\t{a.time_zone or '-'}\t{a.created_at:%Y-%m-%d %H:%M}Z\t"
                    f"{'disabled' if a.disabled else 'active'}" for a in await store.list()]
            return "\n".join(["email\tname\tzone\tcreated\tstatus", *rows]) if rows else "no accounts"
        if args.action == "passwd":
            if await store.get(args.email) is None:
                raise AccountError(f"There is no account for {args.email.strip().lower()}.")
            await store.set_password(args.email, _password(True))
            return f"password changed for {args.email.strip().lower()}"
        if args.action == "disable":
            await store.disable(args.email)
            return f"disabled {args.email.strip().lower()}"
        await store.remove(args.email)
        return f"removed {args.email.strip().lower()}"
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from calbot.config import load_settings
    from calbot.store.sql import database_url
    try:
        print(asyncio.run(_run(args, database_url(load_settings()))))
    except CalbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print("error: cancelled; nothing was changed", file=sys.stderr)
        return 1
    return 0
