"""A pending call's wall times keep their instant when the user's zone changes.

The model passes times as wall times in the user's zone ("2026-11-24T10:00"). A detail-gathering call or a
withdrawn proposal keeps them in `state.pending_arguments`; if the zone then changes ("I'm in Berlin this week"), the
same text would mean another instant on the next call. So, at the switch, every pending wall time is rewritten to the
same instant in the new zone (10:00 New York becomes 16:00 Berlin), and the change is reported so the person is told.
A time given with an offset is absolute and stays as it is; days (`date`, `from_date`) are days in any zone.
"""

from __future__ import annotations

import re
from typing import Any

from calbot.booking.session import SessionState
from calbot.timezones import TimeInputError, format_when, get_zone, local_wall, parse_start

WALL_TIME_FIELDS = ("start", "new_start")  # the tool arguments that hold a wall time (args.START_PATTERN)
_HAS_OFFSET = re.compile(r"(Z|z|[+-]\d{2}:?\d{2})$")


def keep_pending_instants(state: SessionState, old_zone: str, new_zone: str) -> list[dict[str, Any]]:
    """Rewrite the pending call's wall times from `old_zone` to `new_zone` (same instant); one entry per field:
    {"field", "was", "now", "when_before", "when_now"}, or {"field", "was", "dropped": sentence} when the old text
    does not name one instant (it is then removed, so the model asks for it again)."""
    if old_zone == new_zone or not state.pending_function:
        return []
    changes: list[dict[str, Any]] = []
    for field in WALL_TIME_FIELDS:
        text = state.pending_arguments.get(field)
        if not isinstance(text, str) or _HAS_OFFSET.search(text.strip()):
            continue
        try:
            instant = parse_start(text, old_zone)
        except TimeInputError as exc:
            del state.pending_arguments[field]
            changes.append({"field": field, "was": text, "dropped": f"{exc} Ask the user for the time again."})
            continue
        now_text = local_wall(instant, new_zone)
        try:
            parse_start(now_text, new_zone)
        except TimeInputError:  # that wall time happens twice in the new zone (a fall-back night): name the offset
            now_text = instant.astimezone(get_zone(new_zone)).isoformat(timespec="minutes")
        state.pending_arguments[field] = now_text
        changes.append({"field": field, "was": text, "now": now_text, "when_before": format_when(instant, old_zone),
                        "when_now": format_when(instant, new_zone)})
    return changes


def describe(changes: list[dict[str, Any]]) -> str:
    """One sentence for the person (and the model) saying what became of the pending times."""
    parts = []
    for change in changes:
        if "dropped" in change:
            parts.append(f"The time you gave ({change['was']}) is not a clear time in your old zone, so I will ask "
                         "for it again.")
        else:
            parts.append(f"The time you gave keeps its moment: {change['when_before']} is {change['when_now']}.")
    return " ".join(parts)
