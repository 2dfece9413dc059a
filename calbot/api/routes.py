"""The REST API's endpoints (a FastAPI app that calbot.api.install mounts at /api/v1 in front of Chainlit's page).

Every chat step goes through the chat service's by-id calls (calbot/sessions.py) with the token's Person, exactly
as the page's steps do: the model proposes, only a confirm writes, once, across processes."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from calbot.agent.history import BUTTON_PREFIX, PROPOSED_PREFIX
from calbot.agent.loop import TurnResult
from calbot.api import schemas
from calbot.api.auth import Authenticator, Caller, RateLimiter
from calbot.api.problems import (
    ALREADY_ANSWERED,
    BAD_CURSOR,
    BAD_FIELD,
    BAD_JSON,
    BAD_ZONE,
    BLANK_MESSAGE,
    IN_PROGRESS,
    METHOD_NOT_ALLOWED,
    NO_CHAT,
    NO_PROPOSAL,
    NOT_AN_OBJECT,
    NOT_FOUND,
    NOT_JSON,
    STORE_DOWN,
    TOO_LONG,
    Problem,
    answer,
    documented,
    problem_response,
)
from calbot.api.turns import TurnCollector, outcome_body, proposal_view, sse
from calbot.booking.account import AccountError
from calbot.booking.session import SessionState
from calbot.chat import MAX_MESSAGE_CHARS, ChatService
from calbot.explain import CHAT_CHANGED_ELSEWHERE, NOT_YOUR_CHAT, SOMETHING_WENT_WRONG
from calbot.sessions import MAX_CHAT_ID
from calbot.store.base import StoreError, as_utc, title_of, utc_now
from calbot.timezones import get_zone, zone_name
from calbot.validation import strip_control

log = logging.getLogger("calbot.api")

EVENT_STREAM = "text/event-stream"
MAX_LIMIT = 100
TURN_ERRORS = documented(400, 401, 404, 409, 413, 415, 422, 429, 503)


def _ttl_words(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour{'s' if seconds != 3600 else ''}"
    if seconds % 60 == 0:
        return f"{seconds // 60} minute{'s' if seconds != 60 else ''}"
    return f"{seconds} seconds"


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _turn_responses(created: bool) -> dict[int | str, dict[str, Any]]:
    ok = {"description": "The turn's answer (or, with Accept: text/event-stream, its events; the last one, done, "
                         "carries the answer)",
          "content": {EVENT_STREAM: {"schema": {"type": "string"}}}}
    return {201 if created else 200: ok, **TURN_ERRORS}


def _cursor(item: schemas.ChatItem) -> str:
    return base64.urlsafe_b64encode(json.dumps([item.last_activity, item.chat_id]).encode()).decode().rstrip("=")


def _after_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, chat_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return as_utc(datetime.fromisoformat(stamp)), str(chat_id)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Problem(400, BAD_CURSOR) from None


def _messages(state: SessionState) -> list[dict[str, str]]:
    """What the person and calbot said, as a person reads it: no tool calls or results, no notes for the model."""
    shown = []
    for message in state.history:
        content, role = message.get("content"), message.get("role")
        if not isinstance(content, str) or not content.strip() or message.get("tool_calls"):
            continue
        if role == "user":
            shown.append({"role": "user", "text": content})
        elif role == "assistant":
            if content.startswith(PROPOSED_PREFIX):
                content = "Proposed: " + content[len(PROPOSED_PREFIX):]
            elif content.startswith(BUTTON_PREFIX):
                button, _, said = content[len(BUTTON_PREFIX):].partition("] ")
                content = f"You answered {button}. {said}".strip()
            shown.append({"role": "assistant", "text": content})
    return shown


def create_api(service: ChatService, *, limiter: RateLimiter | None = None) -> FastAPI:
    api = FastAPI(title="calbot", version="1", docs_url="/docs", redoc_url=None, openapi_url="/openapi.json",
                  description="Book, list, cancel and reschedule Cal.com meetings by chatting with calbot. Send "
                              "'Authorization: Bearer <token>' (python -m calbot tokens create EMAIL).")
    auth = Authenticator(service, limiter or RateLimiter())
    bearer = HTTPBearer(auto_error=False, description="A token from python -m calbot tokens create EMAIL")
    ttl = service.settings.calbot_session_ttl
    no_chat = NO_CHAT.format(ttl=_ttl_words(ttl))
    session_clock: Callable[[], datetime] = getattr(service, "_session_clock", utc_now)
    running: set[asyncio.Task[Any]] = set()  # streamed turns whose client went away still finish and save

    async def caller(request: Request, _: Any = Depends(bearer)) -> Caller:
        return await auth.caller(request.headers.get("authorization"))

    @api.exception_handler(Problem)
    async def _problem(_: Request, problem: Problem) -> JSONResponse:
        return answer(problem)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = (exc.errors() or [{}])[0]
        field = str((first.get("loc") or ["?"])[-1])
        return problem_response(400, BAD_FIELD.format(field=field, problem=str(first.get("msg", "is not valid"))
                                                      .lower()))

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return problem_response(405, METHOD_NOT_ALLOWED.format(method=request.method),
                                    headers=dict(exc.headers or {}))
        return problem_response(exc.status_code, NOT_FOUND if exc.status_code == 404 else SOMETHING_WENT_WRONG)

    @api.middleware("http")
    async def _never_a_traceback(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            return await call_next(request)
        except Exception:
            log.exception("REST API request failed")
            return problem_response(500, SOMETHING_WENT_WRONG)

    async def body_of(request: Request, model: type[BaseModel]) -> Any:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json" and not (kind.startswith("application/") and kind.endswith("+json")):
            raise Problem(415, NOT_JSON)
        try:
            data = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise Problem(400, BAD_JSON.format(reason=str(exc).split(":")[0].lower())) from None
        if not isinstance(data, dict):
            raise Problem(400, NOT_AN_OBJECT)
        message = data.get("message")
        if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS:
            raise Problem(413, TOO_LONG.format(length=len(message), most=MAX_MESSAGE_CHARS))
        try:
            parsed = model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "body"
            if first["type"] == "string_too_short" and field == "message":
                raise Problem(422, BLANK_MESSAGE) from None
            raise Problem(400, BAD_FIELD.format(field=field, problem=first["msg"].lower())) from None
        if not strip_control(parsed.message).strip():
            raise Problem(422, BLANK_MESSAGE)
        return parsed

    def expires(state: SessionState) -> datetime:
        return as_utc(state.last_activity) + timedelta(seconds=ttl)

    async def my_chat(chat_id: str, who: Caller) -> SessionState:
        """The caller's chat, or 404 (none, someone else's, expired: the same answer)."""
        if not chat_id.strip() or len(chat_id) > MAX_CHAT_ID:
            raise Problem(404, no_chat)
        try:
            state = await service.load_chat(chat_id, person=who.person)
        except StoreError:
            raise Problem(503, STORE_DOWN) from None
        if state is None or expires(state) <= as_utc(session_clock()):
            raise Problem(404, no_chat)
        return state

    def turn_problem(result: TurnResult, collector: TurnCollector) -> Problem | None:
        if result.outcome == "model_error":
            return Problem(503, result.error or SOMETHING_WENT_WRONG, chat_id=collector.chat_id)
        if result.outcome == "refused" and result.error == NOT_YOUR_CHAT:
            return Problem(404, no_chat)
        if result.outcome != "failed":
            return None
        error = result.error or SOMETHING_WENT_WRONG
        if error == CHAT_CHANGED_ELSEWHERE:
            return Problem(409, error, chat_id=collector.chat_id)
        return Problem(500 if error == SOMETHING_WENT_WRONG else 503, error, chat_id=collector.chat_id)

    async def turn(request: Request, who: Caller, chat_id: str, text: str, zone: str, status: int,
                   time_zone: str | None = None) -> Response:
        async def run(collector: TurnCollector) -> dict[str, Any]:
            result = await service.send(chat_id, text, collector.emit, time_zone=time_zone, person=who.person)
            problem = turn_problem(result, collector)
            if problem is not None:
                raise problem
            state = await service.load_chat(chat_id, person=who.person)
            return collector.answer(state, expires(state) if state else None)

        if EVENT_STREAM not in request.headers.get("accept", ""):
            try:
                return JSONResponse(await run(TurnCollector(chat_id, zone)), status_code=status)
            except StoreError:
                raise Problem(503, STORE_DOWN) from None
        return StreamingResponse(stream(run, chat_id, zone), status_code=status, media_type=EVENT_STREAM,
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def stream(run: Callable[[TurnCollector], Awaitable[dict[str, Any]]], chat_id: str, zone: str) -> Any:
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        async def whole() -> None:
            try:
                final = await run(TurnCollector(chat_id, zone, stream=queue.put))
                await queue.put(sse("done", final))
            except Problem as problem:
                await queue.put(sse("error", json.loads(answer(problem).body)))
            except Exception:
                log.exception("streamed REST API turn failed")
                await queue.put(sse("error", json.loads(problem_response(500, SOMETHING_WENT_WRONG).body)))
            finally:
                await queue.put(None)

        task = asyncio.create_task(whole())
        running.add(task)
        task.add_done_callback(running.discard)
        while (item := await queue.get()) is not None:
            yield item

    # -- the endpoints -------------------------------------------------------------------------------------------
    @api.get("/health", response_model=schemas.Health, responses=documented(503), tags=["health"])
    async def health() -> Any:
        """Whether calbot can serve chats now: the chat database and the calendar (no token needed)."""
        calendar = service.settings.calendar
        down: list[str] = []
        try:
            await (await service.store()).load("health-check")
        except StoreError:
            down.append("store")
        try:
            await service.calendar()
        except AccountError:
            down.append("calendar")
        if down:
            return problem_response(503, f"Down: {' and '.join(down)}.", calendar=calendar,
                                    store="down" if "store" in down else "ok", down=down)
        return {"status": "ok", "calendar": calendar, "store": "ok"}

    @api.post("/chats", status_code=201, responses=_turn_responses(True), response_model=schemas.Turn,
              openapi_extra=_body_schema(schemas.NewChat), tags=["chats"])
    async def new_chat(request: Request, who: Caller = Depends(caller)) -> Any:
        """Start a chat with a first message; the answer is that message's turn."""
        body = await body_of(request, schemas.NewChat)
        zone = None
        if body.time_zone is not None:
            try:
                zone = zone_name(get_zone(body.time_zone))
            except ValueError:
                raise Problem(422, BAD_ZONE.format(zone=body.time_zone[:64])) from None
        chat_id = str(uuid.uuid4())
        start_zone = zone or who.person.time_zone or service.settings.calbot_timezone or "UTC"
        return await turn(request, who, chat_id, body.message, start_zone, 201, time_zone=zone)

    @api.post("/chats/{chat_id}/messages", responses=_turn_responses(False), response_model=schemas.Turn,
              openapi_extra=_body_schema(schemas.NewMessage), tags=["chats"])
    async def new_message(chat_id: str, request: Request, who: Caller = Depends(caller)) -> Any:
        """The next message of a chat. A plain yes or no while a proposal is open confirms or discards it."""
        body = await body_of(request, schemas.NewMessage)
        state = await my_chat(chat_id, who)
        return await turn(request, who, chat_id, body.message, state.user.time_zone, 200)

    async def press(chat_id: str, proposal_id: str, who: Caller, confirm: bool) -> dict[str, Any]:
        state = await my_chat(chat_id, who)
        try:
            call = service.press_confirm if confirm else service.press_discard
            outcome = await call(chat_id, proposal_id, person=who.person)
        except StoreError:
            raise Problem(503, STORE_DOWN) from None
        except AccountError as exc:
            raise Problem(503, str(exc)) from None
        status = str(outcome.get("status", ""))
        if outcome.get("repeated"):
            raise Problem(409, ALREADY_ANSWERED.format(status=status or "answered"))
        if status == "in_progress":
            raise Problem(409, IN_PROGRESS)
        if status == "no_proposal":
            raise Problem(404, NO_PROPOSAL)
        return outcome_body(chat_id, proposal_id, outcome, state.user.time_zone)

    @api.post("/chats/{chat_id}/proposals/{proposal_id}/confirm", response_model=schemas.Outcome,
              responses=documented(401, 404, 409, 429, 503), tags=["proposals"])
    async def confirm(chat_id: str, proposal_id: str, who: Caller = Depends(caller)) -> Any:
        """Carry out the proposal (book, cancel or move), once: a second confirm is 409 and writes nothing."""
        return await press(chat_id, proposal_id, who, True)

    @api.post("/chats/{chat_id}/proposals/{proposal_id}/discard", response_model=schemas.Outcome,
              responses=documented(401, 404, 409, 429, 503), tags=["proposals"])
    async def discard(chat_id: str, proposal_id: str, who: Caller = Depends(caller)) -> Any:
        """Drop the proposal; nothing is written."""
        return await press(chat_id, proposal_id, who, False)

    @api.get("/chats", response_model=schemas.ChatList, responses=documented(400, 401, 429, 503), tags=["chats"])
    async def list_chats(who: Caller = Depends(caller), limit: int = Query(20, ge=1, le=MAX_LIMIT),
                         cursor: str | None = Query(None, max_length=400)) -> Any:
        """Your chats, newest first."""
        try:
            summaries = await (await service.store()).list(who.person.email)
        except StoreError:
            raise Problem(503, STORE_DOWN) from None
        now = as_utc(session_clock())
        items = sorted((schemas.ChatItem(chat_id=s.chat_id, title=s.title,
                                         last_activity=as_utc(s.last_activity).isoformat())
                        for s in summaries if as_utc(s.last_activity) + timedelta(seconds=ttl) > now),
                       key=lambda i: (as_utc(datetime.fromisoformat(i.last_activity)), i.chat_id), reverse=True)
        if cursor:
            after = _after_cursor(cursor)
            items = [i for i in items if (as_utc(datetime.fromisoformat(i.last_activity)), i.chat_id) < after]
        page = items[:limit]
        return {"chats": page, "next_cursor": _cursor(page[-1]) if len(items) > limit else None}

    @api.get("/chats/{chat_id}", response_model=schemas.ChatView, responses=documented(401, 404, 429, 503),
             tags=["chats"])
    async def get_chat(chat_id: str, who: Caller = Depends(caller)) -> Any:
        """A chat's messages (the person's and calbot's words) and its open proposal."""
        state = await my_chat(chat_id, who)
        proposal = state.proposal
        return {"chat_id": chat_id, "title": title_of(state), "time_zone": state.user.time_zone,
                "last_activity": as_utc(state.last_activity).isoformat(), "messages": _messages(state),
                "proposal": proposal_view(proposal, expires(state))
                if proposal is not None and proposal.status == "open" else None}

    @api.delete("/chats/{chat_id}", status_code=204, responses=documented(401, 404, 429, 503), tags=["chats"])
    async def delete_chat(chat_id: str, who: Caller = Depends(caller)) -> Response:
        """Forget the chat (meetings it booked stay booked)."""
        await my_chat(chat_id, who)
        try:
            deleted = await service.delete_chat(chat_id, person=who.person)
        except StoreError:
            raise Problem(503, STORE_DOWN) from None
        if not deleted:
            raise Problem(404, no_chat)
        return Response(status_code=204)

    return api
