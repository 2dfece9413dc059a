"""`python -m calbot COMMAND ...`: users (sign-in accounts: calbot.accounts.cli), tokens (the REST API's tokens:
calbot.accounts.tokens), check (the setup check: calbot.setup_check), sandbox (the sandbox calendar as a server:
calbot.sandbox), eval (the evaluation harness: calbot.eval). `python -m calbot.sandbox`, `python -m
calbot.setup_check` and `python -m calbot.eval` work as well."""

from __future__ import annotations

import sys

USAGE = """usage: python -m calbot COMMAND [ARGS...]

commands:
  users {add,list,passwd,disable,remove} ...   manage sign-in accounts
  tokens {create,list,revoke} ...              manage the REST API's tokens
  check [--json]                               try each part of the setup and say what to fix
  sandbox [--port N ...]                       serve the sandbox calendar (a local Cal.com v2 emulator)
  eval [--scripted | --base-url URL --model M] score a model on scheduling dialogues (pass^k)"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command, rest = (args[0], args[1:]) if args else ("", [])
    if command == "users":
        from calbot.accounts.cli import main as users
        return users(rest)
    if command == "tokens":
        from calbot.accounts.tokens import main as tokens
        return tokens(rest)
    if command == "check":
        from calbot.setup_check import main as check
        return check(rest)
    if command == "sandbox":
        from calbot.sandbox.__main__ import main as sandbox
        return sandbox(rest)
    if command == "eval":
        from calbot.eval.__main__ import main as evaluate
        return evaluate(rest)
    print(USAGE, file=sys.stderr)
    return 0 if command in ("-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main())
