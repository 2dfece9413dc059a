"""`python -m calbot check`: is this setup ready to chat? Each part is tried for real and gets a ✓, or a ✗ with the
sentence that says what to fix: the settings, the chat database, the calendar (Cal.com or the sandbox: the account,
its event types, free times in the next 7 days, a read-only list of bookings) and the model server (the key, the
model, one tool-calling request). Nothing is written to the calendar. Exit status 0 only when every part passes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai

from calbot.booking.account import AccountError
from calbot.calcom import CalcomError
from calbot.config import Settings, load_settings
from calbot.explain import explain, explain_model_error
from calbot.runtime import Calendar
from calbot.store.base import StoreError
from calbot.store.sql import SqlStore, database_url

PING_TOOL = {"type": "function", "function": {
    "name": "ping", "description": "Answer the setup check.",
    "parameters": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}}}
PING_PROMPT = "This is a setup check. Call the ping tool with ok=true and write nothing else."
MODEL_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str  # what was found, or (when not ok) the sentence that says what to fix


async def check_settings(settings: Settings) -> Check:
    if settings.problems:
        return Check("settings", False, " ".join(settings.problems))
    calendar = "the sandbox calendar" if settings.cal_api_key_value is None else "Cal.com"
    return Check("settings", True, f"no problems; calendar: {calendar}")


async def check_database(settings: Settings) -> Check:
    try:
        store = await SqlStore.open(database_url(settings), ttl=settings.calbot_session_ttl)
    except StoreError as exc:
        return Check("database", False, str(exc))
    try:
        await store.load("setup-check")  # a read through the schema the migrations made
    except StoreError as exc:
        return Check("database", False, str(exc))
    finally:
        await store.close()
    kind = "Postgres" if settings.database_url_value and "postgresql" in settings.database_url_value else "SQLite"
    return Check("database", True, f"{kind} reachable, schema up to date")


async def check_calendar(settings: Settings, **connect: Any) -> list[Check]:
    try:
        calendar = await Calendar.connect(settings, **connect)
    except AccountError as exc:
        return [Check("calendar", False, str(exc))]
    checks: list[Check] = []
    try:
        account = calendar.account
        who = "sandbox calendar" if calendar.is_sandbox else "Cal.com account"
        checks.append(Check("calendar", True, f"{who} of {account.me.email} (zone {account.me.time_zone or '?'})"))
        kinds = "; ".join(f"{et.id} {et.slug or et.title} ({'/'.join(map(str, et.allowed_lengths))} min)"
                          + (" hidden" if et.hidden else "") for et in account.event_types) or "none"
        checks.append(Check("event types", bool(account.event_types), kinds if account.event_types else
                            "the account has no event types: create one in Cal.com (Event Types > New)"))
        now = datetime.now(UTC)
        event_type = account.event_type
        try:
            slots = await calendar.client.slots(event_type.id, now, now + timedelta(days=7),
                                                time_zone=account.me.time_zone or "UTC")
            checks.append(Check("free times", True, f"{len(slots)} free start times in the next 7 days for "
                                                    f"event type {event_type.id}"))
        except CalcomError as exc:
            checks.append(Check("free times", False, explain(exc)))
        try:
            bookings = await calendar.client.list_bookings(after_start=now, page_size=10)
            checks.append(Check("bookings", True, f"read {len(bookings)} upcoming bookings (nothing written)"))
        except CalcomError as exc:
            checks.append(Check("bookings", False, explain(exc)))
    finally:
        await calendar.aclose()
    return checks


async def check_model(settings: Settings, client: openai.AsyncOpenAI | None = None) -> list[Check]:
    model, base_url = settings.openai_model, settings.openai_base_url
    if client is None:
        if not settings.openai_api_key_value:
            return [Check("model", False, "OPENAI_API_KEY is not set: set it to a key your model server accepts "
                                          "(and OPENAI_BASE_URL for a server other than api.openai.com).")]
        from calbot.chat import new_model_client
        client = new_model_client(settings.openai_api_key_value, base_url, timeout=MODEL_TIMEOUT, max_retries=0)
    checks: list[Check] = []
    try:
        try:
            offered = [m.id async for m in client.models.list()]
        except openai.NotFoundError:
            offered = []  # a server without /models: the request below tells
        if offered and model not in offered:
            shown = ", ".join(sorted(offered)[:10])
            return [Check("model", False, f"The model server does not offer OPENAI_MODEL={model}; it offers: "
                                          f"{shown}. Set OPENAI_MODEL to one of them.")]
        checks.append(Check("model", True, f"{model} at {base_url or 'api.openai.com'}"))
        answer = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PING_PROMPT}], tools=[PING_TOOL])
        calls = answer.choices[0].message.tool_calls if answer.choices else None
        if calls and calls[0].function.name == "ping":
            checks.append(Check("tool calling", True, "the model called a tool when asked"))
        else:
            checks.append(Check("tool calling", False, f"{model} answered without calling the tool it was asked to "
                                                       "call: calbot needs a model with tool (function) calling."))
    except (openai.OpenAIError, httpx.HTTPError) as exc:
        step = "tool calling" if checks else "model"  # the model was listed: the request itself failed
        checks.append(Check(step, False, explain_model_error(exc, model=model, base_url=base_url)))
    finally:
        await client.close()
    return checks


async def run_checks(settings: Settings, *, model_client: openai.AsyncOpenAI | None = None,
                     **connect: Any) -> list[Check]:
    """Every check, in order; `connect` goes to Calendar.connect (tests pass a transport or a sandbox)."""
    return [await check_settings(settings), await check_database(settings),
            *await check_calendar(settings, **connect), *await check_model(settings, model_client)]


def render(checks: Sequence[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'✓' if c.ok else '✗'} {c.name.ljust(width)}  {c.detail}" for c in checks]
    failed = sum(not c.ok for c in checks)
    lines.append("all checks passed" if not failed else f"{failed} check(s) failed: fix what the ✗ lines say")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calbot check", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    checks = asyncio.run(run_checks(load_settings()))
    if args.json:
        print(json.dumps({"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}, indent=1,
                         ensure_ascii=False))
    else:
        print(render(checks))
    return 0 if all(c.ok for c in checks) else 1


if __name__ == "__main__":  # python -m calbot.setup_check (python -m calbot check is the same)
    sys.exit(main())
