"""The tools' JSON schemas, exactly as the model has been sent them: names, descriptions, parameters, required.

tool_schemas.json was written from calbot's tool schemas before the executor was split into calbot/booking (issue
16), so moving code cannot change what the model sees; issue 18 added `event_type_id` to check_availability and
book_meeting on purpose. A deliberate change to a tool rewrites the file:
    .venv/bin/python -c "import json; from calbot.booking.tools import tool_schemas; \
print(json.dumps(tool_schemas(), indent=1))" > tests/unit/tool_schemas.json
"""

from __future__ import annotations

import json
from pathlib import Path

from calbot.booking.tools import tool_schemas

PINNED = Path(__file__).with_name("tool_schemas.json")


def test_tool_schemas_are_exactly_the_pinned_ones() -> None:
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    assert tool_schemas() == pinned
    assert [t["function"]["name"] for t in pinned] == ["check_availability", "book_meeting", "list_meetings",
                                                       "cancel_meeting", "reschedule_meeting", "set_time_zone"]


def test_the_pinned_file_is_written_as_the_command_above_writes_it() -> None:
    assert PINNED.read_text(encoding="utf-8") == json.dumps(tool_schemas(), indent=1) + "\n"
