"""A chat turn's events (calbot/agent/loop.py) as the REST API gives them: collected into one answer (schemas.Turn),
and, for `Accept: text/event-stream`, each also as a server-sent event.

What reaches the answer: the model's text, the sentences calbot's code wrote (notices, guards, errors), the proposal
the turn opened, a typed yes/no's outcome, and the meetings or free times a tool found, converted to the chat's
zone. Never the model's instructions, a tool's JSON or its arguments."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from calbot.agent.loop import (
    CodeReply,
    Event,
    ProposalAnswered,
    ProposalReady,
    ProposalWithdrawn,
    TextDelta,
    TextDone,
    ToolFinished,
    ToolStarted,
)
from calbot.booking.results import UNTRUSTED
from calbot.booking.session import Proposal, SessionState
from calbot.explain import API_PROPOSED as PROPOSED
from calbot.explain import API_WITHDRAWN as WITHDRAWN
from calbot.timezones import get_zone, parse_instant


def local_iso(instant: datetime, zone: str) -> str:
    return instant.astimezone(get_zone(zone)).isoformat(timespec="seconds")


def proposal_view(proposal: Proposal, chat_expires: datetime | None = None) -> dict[str, Any]:
    zone = proposal.time_zone
    expires = proposal.start if chat_expires is None else min(proposal.start, chat_expires)
    view: dict[str, Any] = {"id": proposal.id, "action": proposal.action, "summary": proposal.summary,
                            "start": local_iso(proposal.start, zone), "end": local_iso(proposal.end, zone),
                            "time_zone": zone, "previous_start": None, "expires_at": local_iso(expires, zone)}
    if proposal.action == "reschedule" and proposal.old_start is not None:
        view["previous_start"] = local_iso(proposal.old_start, zone)
    return view


def meeting_view(booking: dict[str, Any], zone: str) -> dict[str, Any] | None:
    """A booking as a tool result or an outcome shows it (results.booking_view), in `zone`."""
    try:
        start = parse_instant(str(booking["start_utc"]))
        minutes = int(booking["duration_minutes"])
    except (KeyError, TypeError, ValueError):
        return None
    written = booking.get(UNTRUSTED) if isinstance(booking.get(UNTRUSTED), dict) else {}
    return {"uid": str(booking.get("uid", "")), "start": local_iso(start, zone),
            "end": local_iso(start + timedelta(minutes=minutes), zone), "duration_minutes": minutes,
            "status": str(booking.get("status", "")),
            "title": written.get("title") if isinstance(written.get("title"), str) else None,
            "with": [str(name) for name in written.get("with") or []],
            "link": written.get("link") if isinstance(written.get("link"), str) else None}


def free_times(result: dict[str, Any], zone: str) -> list[dict[str, str]]:
    times = []
    for day in result.get("days") or []:
        for window in day.get("free_utc") or []:
            first, _, last = str(window).partition("/")
            try:
                times.append({"start": local_iso(parse_instant(first), zone),
                              "end": local_iso(parse_instant(last), zone)})
            except ValueError:
                continue
    return times


def outcome_body(chat_id: str, proposal_id: str, outcome: dict[str, Any], zone: str) -> dict[str, Any]:
    booking = outcome.get("booking")
    return {"chat_id": chat_id, "proposal_id": proposal_id, "ok": bool(outcome.get("ok")),
            "status": str(outcome.get("status", "")), "message": str(outcome.get("message", "")),
            "booking": meeting_view(booking, zone) if isinstance(booking, dict) else None}


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


class TurnCollector:
    """Pass `emit` to ChatService.send; `answer(state)` afterwards. `stream` (optional) gets each event as SSE text."""

    def __init__(self, chat_id: str, zone: str, stream: Any = None) -> None:
        self.chat_id = chat_id
        self.zone = zone  # the chat's zone before the turn (a tool result names the zone it used)
        self.parts: list[str] = []
        self.errors: list[str] = []
        self.meetings: list[dict[str, Any]] | None = None
        self.free_times: list[dict[str, str]] | None = None
        self.answered: dict[str, Any] | None = None
        self.proposal: Proposal | None = None
        self._stream = stream

    async def _send(self, event: str, data: dict[str, Any]) -> None:
        if self._stream is not None:
            await self._stream(sse(event, data))

    async def emit(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            await self._send("text", {"text": event.text})
        elif isinstance(event, TextDone):
            self.parts.append(event.text)
        elif isinstance(event, ToolStarted):
            await self._send("tool_started", {"name": event.name})
        elif isinstance(event, ToolFinished):
            self._tool_result(event)
            await self._send("tool_finished", {"name": event.name, "ok": bool(event.result.get("ok")),
                                               "status": event.result.get("status")})
        elif isinstance(event, ProposalReady):
            self.proposal = event.proposal
            self.parts.extend([event.proposal.summary, PROPOSED])
            await self._send("proposal", proposal_view(event.proposal))
        elif isinstance(event, ProposalWithdrawn):
            self.parts.append(WITHDRAWN)
            await self._send("withdrawn", {"proposal_id": event.proposal.id})
        elif isinstance(event, ProposalAnswered):
            body = outcome_body(self.chat_id, event.proposal_id, event.outcome, self.zone)
            self.answered = {"proposal_id": event.proposal_id, "button": event.button, "ok": body["ok"],
                             "status": body["status"], "message": body["message"], "booking": body["booking"]}
            self.parts.append(body["message"])
            await self._send("answered", self.answered)
        elif isinstance(event, CodeReply):
            self.parts.append(event.text)
            if event.kind == "error":
                self.errors.append(event.text)
            await self._send("notice", {"text": event.text, "kind": event.kind})

    def _tool_result(self, event: ToolFinished) -> None:
        result = event.result
        zone = str(result.get("time_zone") or self.zone)
        if not result.get("ok"):
            return
        if event.shown_as == "meetings":
            views = [meeting_view(b, zone) for b in result.get("meetings") or [] if isinstance(b, dict)]
            self.meetings = [v for v in views if v is not None]
        elif isinstance(result.get("days"), list):  # free times (by the result's shape, never by a tool's name)
            self.free_times = free_times(result, zone)

    def answer(self, state: SessionState | None, chat_expires: datetime | None) -> dict[str, Any]:
        zone = state.user.time_zone if state is not None else self.zone
        proposal = state.proposal if state is not None else self.proposal
        body: dict[str, Any] = {
            "chat_id": self.chat_id, "reply": "\n\n".join(p.strip() for p in self.parts if p.strip()),
            "proposal": (proposal_view(proposal, chat_expires) if proposal is not None and proposal.status == "open"
                         else None),
            "time_zone": zone}
        if self.answered is not None:
            body["answered"] = self.answered
        if self.meetings is not None:
            body["meetings"] = self.meetings
        if self.free_times is not None:
            body["free_times"] = self.free_times
        return body
