"""Run the sandbox calendar as a server: python -m calbot.sandbox --port 5555 [--db PATH] [--reset] [--api-key KEY]

It serves Cal.com's v2 paths at http://127.0.0.1:PORT/v2 (point CAL_API_BASE_URL there and set CAL_API_KEY to the
key it accepts) and /health. --test-hooks adds /_sandbox/state, /_sandbox/reset, /_sandbox/faults and
/_sandbox/requests for test suites; never use it for anything else.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace

from calbot.sandbox import DEFAULT_DB_PATH, SANDBOX_API_KEY, Sandbox
from calbot.sandbox.config import SandboxConfig, SandboxHost, WeeklySchedule
from calbot.timezones import UnknownTimeZoneError, get_zone


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m calbot.sandbox",
                                     description="calbot's sandbox calendar: a local Cal.com API v2 emulator.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5555, help="port to listen on (default 5555)")
    parser.add_argument("--db", default=str(DEFAULT_DB_PATH),
                        help=f"SQLite file holding the bookings (default {DEFAULT_DB_PATH}; ':memory:' keeps none)")
    parser.add_argument("--reset", action="store_true", help="delete every booking in --db before starting")
    parser.add_argument("--api-key", default=SANDBOX_API_KEY,
                        help=f"the API key it accepts (default {SANDBOX_API_KEY}); must start with cal_")
    parser.add_argument("--timezone", default="Europe/London", help="the host's IANA time zone (default Europe/London)")
    parser.add_argument("--days", default="mon-fri", help="the host's working days (default mon-fri)")
    parser.add_argument("--hours", default="09:00-17:00", help="the host's working hours (default 09:00-17:00)")
    parser.add_argument("--rate-limit", type=int, default=120,
                        help="requests per minute per key, as Cal.com (default 120; 0 turns it off)")
    parser.add_argument("--test-hooks", action="store_true",
                        help="serve /_sandbox/* (state, reset, faults, requests) for test suites")
    return parser


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The SandboxConfig the arguments describe; raises ValueError with a sentence saying what is wrong."""
    try:
        zone = get_zone(args.timezone).key
    except UnknownTimeZoneError as exc:
        raise ValueError(f"--timezone: {exc}") from None
    try:
        schedule = WeeklySchedule.parse(args.days, args.hours)
    except ValueError as exc:
        raise ValueError(f"--days/--hours: {exc}") from None
    if not args.api_key.startswith("cal_"):
        raise ValueError("--api-key must start with cal_, like every Cal.com API key")
    if args.rate_limit < 0:
        raise ValueError("--rate-limit must be 0 (off) or more")
    return replace(SandboxConfig(), api_key=args.api_key, host=SandboxHost(time_zone=zone), schedule=schedule,
                   rate_limit=args.rate_limit, test_hooks=args.test_hooks)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sandbox = Sandbox.open(args.db, config=config, reset=args.reset)
    print(f"calbot sandbox calendar: http://{args.host}:{args.port}/v2 (bookings in {args.db}; "
          f"API key {'set by --api-key' if args.api_key != SANDBOX_API_KEY else SANDBOX_API_KEY})", flush=True)
    try:
        uvicorn.run(sandbox.app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
