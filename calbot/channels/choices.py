"""Buttons that ask for something in code, without the model (calbot.chat.Choice): the free times of an
availability answer or of a time that was not free, and Cancel and Move for each listed meeting. Each button's
payload is a Choice; its label is calbot's own words and times (never a title or name someone else wrote)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import chainlit as cl

from calbot.chat import Choice
from calbot.timezones import get_zone, parse_instant, to_utc_iso

MAX_TIMES_PER_DAY = 6
MAX_TIMES = 12
MAX_MEETING_ROWS = 5  # meetings offered Cancel and Move (the first ones listed)
CHOOSE = "choose"  # the action callback's name
_FINISHED = ("cancelled", "declined by the host")  # (results.py's words for a booking that can no longer change)


def _utc(text: str) -> datetime | None:
    try:
        return parse_instant(str(text))
    except ValueError:
        return None


def _label(moment: datetime, zone: str) -> str:
    return _wall_label(moment.astimezone(get_zone(zone)), True)


def _action(choice: Choice, icon: str) -> cl.Action:
    return cl.Action(name=CHOOSE, payload=choice.model_dump(exclude_none=True), label=choice.label, icon=icon,
                     id=f"calbot-choice-{uuid4()}")  # (styled as outlined buttons by public/calbot.css)


def time_actions(result: dict[str, Any]) -> list[cl.Action]:
    """Free times to press: a slot_unavailable result's alternatives, or check_availability's free windows (starts
    on its grid, each ending inside its window), labelled in the chat's zone."""
    event_type = result.get("event_type_id") if isinstance(result.get("event_type_id"), int) else None
    found: list[tuple[datetime, datetime]] = []  # (UTC, local wall)
    if result.get("status") == "slot_unavailable":
        for alternative in result.get("alternatives") or []:
            if not isinstance(alternative, dict):
                continue
            moment, local = _utc(alternative.get("start_utc", "")), _wall(alternative.get("start", ""))
            if moment and local:
                found.append((moment, local))
    elif result.get("ok") and isinstance(result.get("days"), list) and result.get("time_zone"):
        zone = get_zone(str(result["time_zone"]))
        step = timedelta(minutes=int(result.get("starts_every_minutes") or 30))
        length = timedelta(minutes=int(result.get("duration_minutes") or 30))
        for day in result["days"]:
            count = 0
            for window in day.get("free_utc") or []:
                first, _, last = str(window).partition("/")
                begin, end = _utc(first), _utc(last)
                while begin and end and begin + length <= end and count < MAX_TIMES_PER_DAY:
                    found.append((begin, begin.astimezone(zone).replace(tzinfo=None)))
                    begin += step
                    count += 1
    found = found[:MAX_TIMES]
    several_days = len({local.date() for _, local in found}) > 1
    return [_action(Choice(kind="book_at", start=to_utc_iso(moment),
                           event_type_id=event_type, label=_wall_label(local, several_days)), "clock")
            for moment, local in found]


def _wall(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)).replace(tzinfo=None)
    except ValueError:
        return None


def _wall_label(local: datetime, with_day: bool) -> str:
    return f"{local:%a} {local.day} {local:%b} {local:%H:%M}" if with_day else f"{local:%H:%M}"


def meeting_actions(result: dict[str, Any], zone: str, now: datetime) -> list[cl.Action]:
    """Cancel and Move for the first listed meetings that can still change (not begun by `now`)."""
    actions: list[cl.Action] = []
    for view in (result.get("meetings") or [])[:MAX_MEETING_ROWS]:
        start = _utc(view.get("start_utc", "")) if isinstance(view, dict) else None
        uid = view.get("uid") if isinstance(view, dict) else None
        if start is None or not isinstance(uid, str) or start <= now or view.get("status") in _FINISHED:
            continue
        when = _label(start, zone)
        actions.append(_action(Choice(kind="cancel", booking_uid=uid, label=f"Cancel {when}"), "x"))
        actions.append(_action(Choice(kind="move", booking_uid=uid, label=f"Move {when}"), "calendar-clock"))
    return actions
