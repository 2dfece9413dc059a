"""`python -m calbot users ...` (sign-in accounts: calbot.accounts.cli). `python -m calbot.sandbox` and
`python -m calbot.setup_check` are their own modules."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["users"]:
        from calbot.accounts.cli import main as users
        return users(args[1:])
    print("usage: python -m calbot users {add,list,passwd,disable,remove} ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
