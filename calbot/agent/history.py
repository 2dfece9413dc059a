"""What of a long chat the model sees: a bounded window, so a turn costs about the same at turn 50 as at turn 5.

A turn is a user message and everything after it up to the next user message (the assistant's calls, the tool
results, its answer, the notes Confirm and Discard add). The model gets:

- the last `PROMPT_TURNS` turns; older ones are left out (the session still holds every booking uid the chat has
  seen, so an old uid stays usable, and the system prompt states the user, the zone and what is pending);
- the last `FULL_RESULT_TURNS` turn as it happened (tool calls and their full results);
- older turns in short form: the user's words, then one assistant message that records each tool call in a line
  (its name and arguments, and what a later reference needs from its result: the status, the sentence, per meeting
  its uid, local start and status; never what other people wrote into it), then the assistant's own words (long ones shortened). The
  `tool_calls` / `tool` message pairs of those turns are not sent: their JSON envelopes cost more than the facts.

`state.history` itself keeps up to `STORED_TURNS` turns: enough for "did the user type this email?" checks and for a
front door that shows the conversation again, while a chat that runs for days does not grow without end.
"""

from __future__ import annotations

import json
from typing import Any

PROMPT_TURNS = 10
FULL_RESULT_TURNS = 1
STORED_TURNS = 60
OLD_TEXT_CHARS = 400
OLD_USER_CHARS = 600
MAX_ITEMS = 10
SHORT_FORM_NOTE = "(Earlier tool calls of this turn, in short: "
PROPOSED_PREFIX = "Proposed, waiting for the user's Confirm or Discard: "
BUTTON_PREFIX = "[The user pressed "


def split_turns(history: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The history cut at user messages (anything before the first user message is its own leading group)."""
    turns: list[list[dict[str, Any]]] = []
    for message in history:
        if message.get("role") == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


def _shorten(value: Any, limit: int) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _meeting(item: Any) -> str:
    """A meeting of a tool result in a line of the short form, which is assistant text: its uid, start and status
    only. What other people wrote into it (its "untrusted" part: title, names, notes) is never copied there; a later
    turn that needs it lists the meetings again."""
    if not isinstance(item, dict):
        return "?"
    parts = [str(item.get("uid", "?")), str(item.get("start_local", ""))]
    if item.get("status") and item.get("status") != "booked":
        parts.append(str(item["status"]))
    return " ".join(p for p in parts if p)


def summarise_result(content: Any) -> str:
    """A tool result (JSON text) as one short line keeping what a later turn may refer to."""
    try:
        data = json.loads(content) if isinstance(content, str) else content
    except ValueError:
        return _shorten(content, 200)
    if not isinstance(data, dict):
        return _shorten(content, 200)
    status = data.get("status") or ("ok" if data.get("ok") else "failed")
    parts: list[str] = []
    if status == "awaiting_confirmation":  # the turn's "Proposed, ..." note or the button's outcome says the rest
        parts.append(f"proposed {data.get('proposal_id', '')}")
    elif "meetings" in data:
        meetings = data.get("meetings") or []
        parts.append(f"{data.get('count', len(meetings))} meeting(s)" +
                     (f" for {data['looked_for']}" if data.get("looked_for") else ""))
        parts += [_meeting(m) for m in meetings[:MAX_ITEMS]]
        if len(meetings) > MAX_ITEMS:
            parts.append(f"+{len(meetings) - MAX_ITEMS} more")
        if not meetings and data.get("nearest"):
            parts.append("nearest: " + ", ".join(_meeting(m) for m in data["nearest"][:3]))
    elif "days" in data:
        days = data.get("days") or []
        parts += [f"{d.get('date')} free {', '.join(d.get('free_local', [])[:6])}" for d in days[:7]
                  if isinstance(d, dict)] or ["no free time"]
    elif isinstance(data.get("booking"), dict):
        parts.append(f"{status}: {_meeting(data['booking'])}")
        if data.get("old_uid"):
            parts.append(f"old uid {data['old_uid']}")
    elif "time_zone" in data and data.get("ok") and len(data) <= 6:
        parts.append(f"time zone now {data['time_zone']}")
    else:
        parts.append(str(status))
        if data.get("missing"):
            parts.append("missing " + ", ".join(map(str, data["missing"])))
    sentence = data.get("error") or (data.get("message") if "booking" not in data else None)
    if sentence:
        parts.append(_shorten(sentence, 160))
    if data.get("alternatives"):
        parts.append("free instead: " + ", ".join(str(a.get("start", "")) for a in data["alternatives"][:5]
                                                  if isinstance(a, dict)))
    return "; ".join(parts)


def _call_line(call: dict[str, Any], result: Any) -> str:
    function = call.get("function") or {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
        shown = ", ".join(f"{k}={_shorten(v, 60)}" for k, v in arguments.items()) if isinstance(arguments, dict) \
            else _shorten(arguments, 80)
    except ValueError:
        shown = _shorten(function.get("arguments"), 80)
    outcome = summarise_result(result) if result is not None else "no result"
    return f"{function.get('name', '?')}({shown}) -> {outcome}"


def _short_form(turn: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An older turn: the user's words, then one assistant message with a line per tool call and the replies."""
    results = {m.get("tool_call_id"): m.get("content") for m in turn if m.get("role") == "tool"}
    confirmed = any(str(m.get("content") or "").startswith(BUTTON_PREFIX + "Confirm]") for m in turn)
    out: list[dict[str, Any]] = []
    lines: list[str] = []
    texts: list[str] = []
    for message in turn:
        role, content = message.get("role"), message.get("content")
        if role == "user":
            out.append({**message, "content": _shorten(content, OLD_USER_CHARS)}
                       if isinstance(content, str) and len(content) > OLD_USER_CHARS else message)
        elif role == "assistant":
            for call in message.get("tool_calls") or []:
                lines.append(_call_line(call, results.get(call.get("id"))))
            if not isinstance(content, str) or not content.strip():
                continue
            if content.startswith(PROPOSED_PREFIX) and confirmed:
                continue  # the Confirm note after it says what was done
            texts.append(_shorten(content, OLD_TEXT_CHARS) if len(content) > OLD_TEXT_CHARS else content)
        elif role != "tool":
            out.append(message)
    parts = [SHORT_FORM_NOTE + " | ".join(lines) + ")"] if lines else []
    if parts or texts:
        out.append({"role": "assistant", "content": "\n".join(parts + texts)})
    return out


def prompt_history(history: list[dict[str, Any]], *, turns: int = PROMPT_TURNS,
                   full_turns: int = FULL_RESULT_TURNS) -> list[dict[str, Any]]:
    """The part of `history` sent to the model (never starting inside a turn, so tool results keep their call)."""
    kept = split_turns(history)[-turns:] if turns > 0 else []
    cut = len(kept) - full_turns
    messages: list[dict[str, Any]] = []
    for index, turn in enumerate(kept):
        messages.extend(_short_form(turn) if index < cut else turn)
    return messages


def trim_stored(history: list[dict[str, Any]], *, turns: int = STORED_TURNS) -> None:
    """Drop whole turns from the front of the stored history beyond `turns`, in place."""
    groups = split_turns(history)
    if len(groups) > turns:
        drop = sum(len(group) for group in groups[:-turns])
        del history[:drop]


# -- the writers: every change to a chat's stored history goes through these --------------------------------------
def append(history: list[dict[str, Any]], *messages: dict[str, Any], bound: bool = True) -> None:
    """Add messages at the end of the stored history (a finished turn, a button's note), keeping it bounded."""
    history.extend(messages)
    if bound:
        trim_stored(history)


def button_note(button: str, outcome: dict[str, Any]) -> dict[str, Any]:
    """What the history learns when the person pressed Confirm or Discard, so the model can refer to it ("move it
    to 4pm"): the outcome's sentence and the booking's uid."""
    text = f"{BUTTON_PREFIX}{button}] {outcome.get('message', '')}"
    booking = outcome.get("booking") or {}
    if booking.get("uid"):
        text += f" (uid {booking['uid']})"
    return {"role": "assistant", "content": text}

