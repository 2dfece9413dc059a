"""The sandbox's HTTP face: Cal.com v2 paths, headers, envelopes and status codes, as an ASGI app (Starlette).

Per request, in Cal.com's order: test faults (only with test hooks), the body (at most 100 KB, as body-parser), route
and `cal-api-version` (NestJS's 404), rate limit, auth, validation, the calendar rule; validation and the rule run in
a worker thread, so one request's SQLite and slot work never holds the event loop (bounds: calbot.sandbox.limits).
Every answer carries `X-Request-Id` and the `X-RateLimit-*-Default` headers.
Success is `{"status":"success","data":…}` (plus `pagination` for lists); every refusal is Cal.com's error
envelope. Test hooks under /_sandbox/ exist only when the config says `test_hooks=True`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from calbot.sandbox import inputs
from calbot.sandbox.faults import DroppedAnswer, Fault, FaultSpec
from calbot.sandbox.limits import CatchAll, error_envelope, internal_error, parse_json, read_body
from calbot.sandbox.service import ApiError, NewBooking, SandboxCalendar, iso

log = logging.getLogger(__name__)

# cal-api-version values Cal.com accepts; anything else (or nothing) silently becomes the legacy 2024-04-15.
KNOWN_VERSIONS = ("2024-04-15", "2024-06-11", "2024-06-14", "2024-08-13", "2024-09-04")
LEGACY_VERSION = "2024-04-15"
NO_AUTH_MESSAGE = ("No authentication method provided. Either pass an API key as 'Bearer' header or OAuth client "
                   "credentials as 'x-cal-secret-key' and 'x-cal-client-id' headers")
BAD_KEY_MESSAGE = "Your api key is not valid"
BAD_TOKEN_MESSAGE = "Invalid Access Token."
THROTTLED_MESSAGE = "CustomThrottlerGuard - Too many requests. Please try again later."
RATE_WINDOW_SECONDS = 60.0
RATE_BLOCK_SECONDS = 60.0


class Throttled(ApiError):
    """Cal.com's 429, carrying the rate-limit headers that say when to come back."""

    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__(429, THROTTLED_MESSAGE)
        self.headers = headers


@dataclass
class RateBucket:
    window_start: float
    count: int = 0
    blocked_until: float = 0.0


# (request, path params, raw body) -> (status, data, extra envelope fields); runs in a worker thread.
Handler = Callable[[Request, dict[str, str], bytes], tuple[int, Any, dict[str, Any]]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    pattern: re.Pattern[str]
    version: str | None  # None: any version (as /v2/me)
    auth: str  # "required", "optional" (a key that is sent must be valid) or "none"
    handler: Handler


class SandboxServer:
    """The ASGI app around one SandboxCalendar. Use `.app` with uvicorn or httpx.ASGITransport."""

    def __init__(self, calendar: SandboxCalendar) -> None:
        self.calendar = calendar
        self.config = calendar.config
        self.faults: list[Fault] = []
        self._fault_ids = 0
        self.requests: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._buckets: dict[str, RateBucket] = {}
        self._lock = threading.Lock()
        self.endpoints = [
            Endpoint("GET", re.compile(r"^/v2/me$"), None, "required", self._me),
            Endpoint("GET", re.compile(r"^/v2/event-types$"), "2024-06-14", "optional", self._event_types),
            Endpoint("GET", re.compile(r"^/v2/slots$"), "2024-09-04", "none", self._slots),
            Endpoint("GET", re.compile(r"^/v2/bookings$"), "2024-08-13", "required", self._list),
            Endpoint("POST", re.compile(r"^/v2/bookings$"), "2024-08-13", "optional", self._create),
            Endpoint("GET", re.compile(r"^/v2/bookings/(?P<uid>[^/]+)$"), "2024-08-13", "optional", self._get),
            Endpoint("POST", re.compile(r"^/v2/bookings/(?P<uid>[^/]+)/cancel$"), "2024-08-13", "optional",
                     self._cancel),
            Endpoint("POST", re.compile(r"^/v2/bookings/(?P<uid>[^/]+)/reschedule$"), "2024-08-13", "optional",
                     self._reschedule),
        ]
        routes = [
            Route("/health", self._health, methods=["GET"]),
            Route("/v2/{rest:path}", self._dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
        if self.config.test_hooks:
            routes += [
                Route("/_sandbox/state", self._hook_state, methods=["GET"]),
                Route("/_sandbox/reset", self._hook_reset, methods=["POST"]),
                Route("/_sandbox/faults", self._hook_faults, methods=["GET", "POST", "DELETE"]),
                Route("/_sandbox/requests", self._hook_requests, methods=["GET", "DELETE"]),
            ]
        self.app = Starlette(routes=routes, middleware=[Middleware(CatchAll, clock=self.calendar.now)],
                             exception_handlers={404: self._not_routed, 405: self._not_routed})

    # -- envelopes -------------------------------------------------------------------------------------------------
    def _error_body(self, request: Request, error: ApiError) -> dict[str, Any]:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return error_envelope(error, path, self.calendar.now())

    # -- the pipeline ----------------------------------------------------------------------------------------------
    async def _dispatch(self, request: Request) -> Response:
        request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
        method, path = request.method, request.url.path
        fault = self._take_fault(method, path)
        headers = {"X-Request-Id": request_id}
        if fault and not fault.spec.after:
            misbehaved = await self._misbehave(request, fault, headers)
            if misbehaved is not None:
                return misbehaved
        try:
            raw = await read_body(request)  # Cal.com's body-parser middleware runs before routing
            endpoint, params = self._route(request)
            self._check_version(endpoint, request)
            # Cal.com's throttler is a guard: it counts only requests that reached a route, before auth.
            headers.update(self._rate_limit(request))
            self._check_auth(endpoint, request)
            # asyncio's executor, not anyio's threads: idle anyio workers outlived their loop and blocked exit
            response: Response = await asyncio.to_thread(self._answer, endpoint, request, params, raw, headers)
        except ApiError as error:
            if isinstance(error, Throttled):
                headers.update(error.headers)
            response = JSONResponse(self._error_body(request, error), status_code=error.status, headers=headers)
        except Exception:  # an emulator bug: answer like Cal.com's catch-all filter, log the details here
            log.exception("sandbox: unexpected error on %s %s", method, path)
            response = JSONResponse(self._error_body(request, internal_error()), status_code=500, headers=headers)
        if fault and fault.spec.after:
            misbehaved = await self._misbehave(request, fault, headers, answered=response.status_code)
            if misbehaved is not None:
                return misbehaved
        self._record(request, response.status_code)
        return response

    @staticmethod
    def _answer(endpoint: Endpoint, request: Request, params: dict[str, str], raw: bytes,
                headers: dict[str, str]) -> Response:
        status, data, extra = endpoint.handler(request, params, raw)
        return JSONResponse({"status": "success", "data": data, **extra}, status_code=status, headers=headers)

    async def _misbehave(self, request: Request, fault: Fault, headers: dict[str, str], *,
                         answered: int | None = None) -> Response | None:
        """Apply a fault: its delay, then its drop or its status. None: carry on as usual after the delay.
        `answered` is the real answer's status when the request has already taken effect (an `after` fault)."""
        if fault.spec.delay:
            await asyncio.sleep(fault.spec.delay)
        if fault.spec.drop:
            self._record(request, answered or 0)
            took_effect = " after the request took effect" if answered is not None else ""
            return DroppedAnswer(f"the sandbox dropped the connection{took_effect} (test fault)", answered or 200)
        if fault.spec.status is not None:
            return self._fault_response(request, fault, headers)
        return None

    def _fault_response(self, request: Request, fault: Fault, headers: dict[str, str]) -> Response:
        status = fault.spec.status or 500
        if status == 500 and not fault.spec.message:
            error = internal_error()
        elif status == 429:
            error = ApiError(429, fault.spec.message or THROTTLED_MESSAGE)
            headers = {**headers, "X-RateLimit-Limit-Default": str(self.config.rate_limit or 120),
                       "X-RateLimit-Remaining-Default": "0", "X-RateLimit-Reset-Default": "60"}
        else:
            error = ApiError(status, fault.spec.message or f"Sandbox test fault: HTTP {status}")
        self._record(request, status)
        return JSONResponse(self._error_body(request, error), status_code=status, headers=headers)

    def _record(self, request: Request, status: int) -> None:
        self.requests.append({"method": request.method, "path": request.url.path, "query": request.url.query,
                              "version": request.headers.get("cal-api-version"), "status": status})

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _identity(self, request: Request) -> str:
        token = self._bearer(request)
        if token:
            return "key:" + token
        return "ip:" + (request.client.host if request.client else "unknown")

    def _rate_limit(self, request: Request) -> dict[str, str]:
        limit = self.config.rate_limit
        if limit <= 0:
            return {}
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(self._identity(request), RateBucket(now))
            if bucket.blocked_until > now:
                reset = math.ceil(bucket.blocked_until - now)
                blocked = True
            else:
                if now - bucket.window_start >= RATE_WINDOW_SECONDS:
                    bucket.window_start, bucket.count = now, 0
                bucket.count += 1
                blocked = bucket.count > limit
                if blocked:
                    bucket.blocked_until = now + RATE_BLOCK_SECONDS
                    reset = math.ceil(RATE_BLOCK_SECONDS)
                else:
                    reset = max(1, math.ceil(bucket.window_start + RATE_WINDOW_SECONDS - now))
            remaining = 0 if blocked else max(0, limit - bucket.count)
        headers = {"X-RateLimit-Limit-Default": str(limit), "X-RateLimit-Remaining-Default": str(remaining),
                   "X-RateLimit-Reset-Default": str(reset)}
        if blocked:
            raise Throttled(headers)
        return headers

    @staticmethod
    def _no_route(request: Request) -> ApiError:
        """NestJS's 404 for a route it does not have; its text holds the URL with the query string."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return ApiError(404, f"Cannot {request.method} {target}")

    async def _not_routed(self, request: Request, exc: Exception) -> Response:
        """What Starlette's router cannot place (a path outside /v2, a newline in it, another method): NestJS's 404."""
        return JSONResponse(self._error_body(request, self._no_route(request)), status_code=404,
                            headers={"X-Request-Id": request.headers.get("x-request-id") or str(uuid.uuid4())})

    def _route(self, request: Request) -> tuple[Endpoint, dict[str, str]]:
        for endpoint in self.endpoints:
            match = endpoint.pattern.match(request.url.path)
            if match and endpoint.method == request.method:
                return endpoint, match.groupdict()
        raise self._no_route(request)

    def _check_version(self, endpoint: Endpoint, request: Request) -> None:
        if endpoint.version is None:
            return
        sent = request.headers.get("cal-api-version")
        effective = sent if sent in KNOWN_VERSIONS else LEGACY_VERSION
        if effective != endpoint.version:
            # Cal.com routes other versions to older controllers, which the sandbox does not emulate; for
            # /v2/slots (whose old controller only has /available, /reserve, ...) this 404 is exactly Cal.com's.
            raise self._no_route(request)

    @staticmethod
    def _bearer(request: Request) -> str | None:
        header = request.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _check_auth(self, endpoint: Endpoint, request: Request) -> None:
        if endpoint.auth == "none":
            return
        token = self._bearer(request)
        if token is None:
            if endpoint.auth == "required":
                raise ApiError(401, NO_AUTH_MESSAGE)
            return
        if token == self.config.api_key:
            return
        raise ApiError(401, BAD_KEY_MESSAGE if token.startswith("cal_") else BAD_TOKEN_MESSAGE)

    # -- Cal.com endpoints -----------------------------------------------------------------------------------------
    def _me(self, request: Request, params: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, Any]]:
        return 200, self.calendar.me(), {}

    def _event_types(self, request: Request, params: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, Any]]:
        q = request.query_params
        if self._bearer(request) is None and q.get("username") != self.config.host.username:
            return 200, [], {}  # without a key Cal.com only shows the event types of the users you name
        types = self.calendar.event_types()
        if q.get("eventSlug"):
            types = [t for t in types if t["slug"] == q["eventSlug"]]
        return 200, types, {}

    def _resolve_event_type(self, event_type_id: int | None, slug: str | None, username: str | None,
                            team_slug: str | None) -> int:
        if event_type_id:
            return self.calendar.event_type(event_type_id).id
        if slug and username:
            found = next((et for et in self.config.event_types if et.slug == slug), None)
            if found is None or username != self.config.host.username:
                raise ApiError(404, f"Event type with slug {slug} belonging to user {username} not found.")
            return found.id
        if slug and team_slug:
            raise ApiError(404, f"Event type with slug {slug} belonging to team {team_slug} not found.")
        raise ApiError(400, "Either eventTypeId or eventTypeSlug + username or eventTypeSlug + teamSlug must be "
                       "provided")

    def _slots(self, request: Request, params: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, Any]]:
        q = inputs.slots_query(request.query_params)
        event_type_id = self._resolve_event_type(q["eventTypeId"], q["eventTypeSlug"], q["username"], None)
        data = self.calendar.slots(event_type_id, q["start"], q["end"], time_zone=q["timeZone"],
                                   duration=q["duration"], reschedule_uid=q["bookingUidToReschedule"],
                                   range_format=q["range"])
        return 200, data, {}

    def _list(self, request: Request, params: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, Any]]:
        items, pagination = self.calendar.list(inputs.list_query(request.query_params))
        return 200, items, {"pagination": pagination}

    def _create(self, request: Request, params: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, Any]]:
        body = inputs.create_booking(parse_json(raw))
        event_type_id = self._resolve_event_type(body["eventTypeId"], body["eventTypeSlug"], body["username"],
                                                 body["teamSlug"])
        attendee = body["attendee"]
        booking = self.calendar.create(NewBooking(
            start=body["start"], event_type_id=event_type_id, attendee_name=attendee["name"],
            attendee_email=attendee["email"], attendee_time_zone=attendee["timeZone"],
            attendee_language=attendee["language"], attendee_phone=attendee["phoneNumber"],
            guests=body["guests"], length=body["lengthInMinutes"], responses=body["bookingFieldsResponses"],
            metadata=body["metadata"], recurrence_count=body["recurrenceCount"]))
        return 201, booking, {}

    def _get(self, request: Request, params: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, Any]]:
        return 200, self.calendar.get(params["uid"]), {}

    def _cancel(self, request: Request, params: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, Any]]:
        body = inputs.cancel_booking(parse_json(raw))
        cancelled_by = self.config.host.email if self._bearer(request) else None
        return 200, self.calendar.cancel(params["uid"], body["cancellationReason"], cancelled_by, body["seatUid"]), {}

    def _reschedule(self, request: Request, params: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, Any]]:
        body = inputs.reschedule_booking(parse_json(raw))
        self.calendar.get(params["uid"])  # 404 before anything else, as Cal.com
        booking = self.calendar.reschedule(params["uid"], body["start"], rescheduled_by=body["rescheduledBy"],
                                           reason=body["reschedulingReason"], seat_uid=body["seatUid"])
        return 201, booking, {}

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "calendar": "sandbox"})

    # -- test hooks ------------------------------------------------------------------------------------------------
    async def _hook_state(self, request: Request) -> Response:
        return JSONResponse({"now": iso(self.calendar.now()), "me": self.calendar.me(),
                             "eventTypes": self.calendar.event_types(), "bookings": self.calendar.store.all()})

    async def _hook_reset(self, request: Request) -> Response:
        self.calendar.store.reset()
        with self._lock:
            self.faults.clear()
            self._buckets.clear()
        self.requests.clear()
        return JSONResponse({"status": "ok"})

    async def _hook_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            with self._lock:
                self.faults.clear()
            return JSONResponse({"faults": []})
        if request.method == "POST":
            try:
                raw = json.loads(await read_body(request) or b"{}")
                specs = [FaultSpec.model_validate(item) for item in (raw if isinstance(raw, list) else [raw])]
            except ApiError as error:  # over the body limit
                return JSONResponse(self._error_body(request, error), status_code=error.status)
            except (ValueError, RecursionError, ValidationError, re.error) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            added = [self.add_fault(spec) for spec in specs]
            return JSONResponse({"faults": [self._fault_json(f) for f in added]}, status_code=201)
        with self._lock:
            return JSONResponse({"faults": [self._fault_json(f) for f in self.faults]})

    async def _hook_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.requests.clear()
        return JSONResponse({"requests": list(self.requests)})

    def add_fault(self, spec: FaultSpec) -> Fault:
        with self._lock:
            self._fault_ids += 1
            fault = Fault(self._fault_ids, spec, spec.count, re.compile(spec.path))
            self.faults.append(fault)
        return fault

    @staticmethod
    def _fault_json(fault: Fault) -> dict[str, Any]:
        return {"id": fault.id, "remaining": fault.remaining, **fault.spec.model_dump()}


