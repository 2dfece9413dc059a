"""Check httpx traffic against Cal.com's OpenAPI document (tests/spec/calcom/openapi-v2-subset.json, vendored).

    from tests.openapi_spec import validate_request, validate_response

    validate_request(request)             # httpx.Request  -> None, or AssertionError listing every problem
    validate_response(request, response)  # httpx.Response -> None, or AssertionError

Requests may go to any host (https://api.cal.com/v2, a sandbox on http://127.0.0.1:PORT/v2 ...): the host is
replaced by the spec's server https://api.cal.com and the path is kept, so /v2/... must match a documented path.

Deliberate differences from a plain openapi-core validation (each one is about a flaw of the generated spec or a
check openapi-core cannot make; see API-NOTES.md):

* every `oneOf` is read as `anyOf`. Cal.com's generator emits oneOf over variants that overlap (no discriminator,
  no additionalProperties:false): a plain booking body is valid for both CreateBookingInput and
  CreateRecurringBookingInput, a recurring booking output is also a valid BookingOutput, a seated one valid for
  two seated schemas, and the event type's bookingFields/locations variants differ only by a free `type` string.
  With oneOf, correct payloads would fail with "is valid under each of"; anyOf still requires one variant to fit.
* GET /v2/bookings `status` is read as a comma list (style form, explode false): the spec's own example is
  `?status=upcoming,past` and API-NOTES §4 says "comma list". A single value (status=upcoming) passes either way.
* `{"nullable": true, "allOf": [X]}` without a `type` (EventTypeOutput.recurrence) accepts null: OpenAPI 3.0
  validators ignore `nullable` there, but Cal.com returns `"recurrence": null` for every non-recurring type.
* `cal-api-version` must be present and equal to the version the operation documents ("Must be set to ..."):
  openapi-core would silently fall back to the schema default, which is exactly the server behaviour (routing to
  legacy controllers) we need to catch. Operations that declare no version (/v2/me) accept any valid version.
* `Authorization`, when sent, must be `Bearer <token>`.
* GET /v2/slots 200 is checked against the documented shape instead of its (wrong) schema, see `_check_slots`.
* EventTypeOutput_2024_06_14.bookingWindow is read as one window object (or the documented array of them):
  Cal.com's output service returns the object (`{"type": "calendarDays", "value": 30, "rolling": false}`, from
  getResponseEventTypeFutureBookingLimits); the generator wrapped the variants in an array.
* Non-2xx responses are checked against the error envelope of API-NOTES §2 (the spec documents no errors).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date, datetime
from functools import cache
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

__all__ = [
    "HttpxOpenAPIRequest",
    "HttpxOpenAPIResponse",
    "SPEC_SERVER",
    "VALID_API_VERSIONS",
    "is_success_envelope",
    "load_openapi",
    "spec_path",
    "validate_request",
    "validate_response",
]

SPEC_SERVER = "https://api.cal.com"
# Vendored in the repository with a note of its source and date (tests/spec/calcom/SOURCE.md): a plain clone needs
# nothing beside it.
SPEC_FILE = Path(__file__).resolve().parent / "spec" / "calcom" / "openapi-v2-subset.json"
# API-NOTES §1: the only values Cal.com's version extractor accepts; anything else falls back to 2024-04-15.
VALID_API_VERSIONS = frozenset({"2024-04-15", "2024-06-11", "2024-06-14", "2024-08-13", "2024-09-04"})

_MAX_LINES = 80
_MAX_MESSAGE = 300
_ISO_WITH_OFFSET = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$")
_DATE_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BEARER = re.compile(r"^bearer [^\s]+$", re.IGNORECASE)


# -- loading -------------------------------------------------------------------------------------------------------
def spec_path() -> Path:
    """The vendored copy, tests/spec/calcom/openapi-v2-subset.json."""
    return SPEC_FILE


def _one_of_as_any_of(node: Any) -> Any:
    if isinstance(node, dict):
        return {("anyOf" if key == "oneOf" else key): _one_of_as_any_of(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_one_of_as_any_of(item) for item in node]
    return node


def _nullable_compositions(node: Any) -> Any:
    """`{"nullable": true, "allOf": [X]}` (no type) -> anyOf [X, null]: OpenAPI 3.0 ignores nullable without a type."""
    if isinstance(node, list):
        return [_nullable_compositions(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_compositions(value) for key, value in node.items()}
    if node.get("nullable") is True and "type" not in node and "allOf" in node:
        rest = {key: value for key, value in node.items() if key not in ("nullable", "allOf")}
        return {**rest, "anyOf": [{"allOf": node["allOf"]}, {"type": "object", "nullable": True, "enum": [None]}]}
    return node


def _patched(raw: dict[str, Any]) -> dict[str, Any]:
    spec = _nullable_compositions(_one_of_as_any_of(copy.deepcopy(raw)))
    for parameter in spec["paths"]["/v2/bookings"]["get"].get("parameters", []):
        if parameter.get("in") == "query" and parameter.get("name") == "status":
            parameter["style"] = "form"
            parameter["explode"] = False
    event_type = spec["components"]["schemas"]["EventTypeOutput_2024_06_14"]["properties"]
    window = event_type["bookingWindow"]
    event_type["bookingWindow"] = {"description": window.get("description", ""),
                                   "anyOf": [window, copy.deepcopy(window["items"])]}
    return spec


@cache
def load_openapi() -> OpenAPI:
    """The OpenAPI object (loaded and patched once per process)."""
    path = spec_path()
    if not path.is_file():
        raise FileNotFoundError(f"Cal.com OpenAPI document not found at {path} (vendored in the repository)")
    raw = json.loads(path.read_text(encoding="utf-8"))
    return OpenAPI.from_dict(_patched(raw), base_uri=path.as_uri())


@cache
def _raw_spec() -> dict[str, Any]:
    return json.loads(spec_path().read_text(encoding="utf-8"))


# -- adapters (openapi_core.protocols.Request / Response) ----------------------------------------------------------
def _body_bytes(message: httpx.Request | httpx.Response) -> bytes:
    try:
        return message.content
    except (httpx.RequestNotRead, httpx.ResponseNotRead):
        return message.read()


class HttpxOpenAPIRequest:
    """An httpx.Request seen by openapi-core, with its host replaced by the spec's server."""

    def __init__(self, request: httpx.Request):
        if not isinstance(request, httpx.Request):
            raise TypeError(f"expected httpx.Request, got {type(request).__name__}")
        self.request = request
        url = urlsplit(str(request.url))
        self._path = url.path or "/"
        cookies: dict[str, str] = {}
        for header in request.headers.get_list("cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            cookies.update({name: morsel.value for name, morsel in jar.items()})
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(url.query, keep_blank_values=True)),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(cookies),
        )
        raw = _body_bytes(request)
        self._body = raw if raw else None

    @property
    def host_url(self) -> str:
        return SPEC_SERVER

    @property
    def path(self) -> str:
        return self._path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self._body

    @property
    def content_type(self) -> str:
        return self.request.headers.get("content-type", "").lower()


class HttpxOpenAPIResponse:
    def __init__(self, response: httpx.Response):
        if not isinstance(response, httpx.Response):
            raise TypeError(f"expected httpx.Response, got {type(response).__name__}")
        self.response = response
        self._data = _body_bytes(response)

    @property
    def status_code(self) -> int:
        return int(self.response.status_code)

    @property
    def content_type(self) -> str:
        return self.response.headers.get("content-type", "").lower()

    @property
    def headers(self) -> Headers:
        return Headers(list(self.response.headers.multi_items()))

    @property
    def data(self) -> bytes | None:
        return self._data


# -- error rendering -----------------------------------------------------------------------------------------------
def _short(text: str, limit: int = _MAX_MESSAGE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _branch_name(schema: Any, keyword: str, index: int) -> str:
    try:
        branch = schema[keyword][index]
    except (KeyError, IndexError, TypeError):
        return f"#{index}"
    if isinstance(branch, dict) and "$ref" in branch:
        return f"#{index} {branch['$ref'].rsplit('/', 1)[-1]}"
    if isinstance(branch, dict) and branch.get("type") == "array":
        items = branch.get("items", {})
        ref = items.get("$ref", "") if isinstance(items, dict) else ""
        return f"#{index} array of {ref.rsplit('/', 1)[-1] or 'items'}"
    return f"#{index}"


def _schema_error_lines(error: Any, depth: int) -> list[str]:
    pad = "  " * depth
    message = getattr(error, "message", str(error))
    if getattr(error, "validator", None) in ("anyOf", "oneOf"):
        message = f"matches none of the {len(getattr(error, 'validator_value', []) or [])} documented variants"
    lines = [f"{pad}- at {_json_path(getattr(error, 'absolute_path', ()))}: {_short(message)}"]
    context = list(getattr(error, "context", None) or [])
    if context:
        keyword = getattr(error, "validator", "")
        by_branch: dict[int, list[Any]] = {}
        for sub in context:
            rel = list(getattr(sub, "relative_schema_path", []) or [])
            index = rel[0] if rel and isinstance(rel[0], int) else -1
            by_branch.setdefault(index, []).append(sub)
        for index, subs in sorted(by_branch.items()):
            lines.append(f"{pad}    variant {_branch_name(getattr(error, 'schema', {}), keyword, index)}:")
            for sub in subs:
                lines.extend(_schema_error_lines(sub, depth + 3))
    return lines


def _describe(error: BaseException) -> list[str]:
    cause = error.__cause__
    head = type(error).__name__
    if cause is not None and getattr(cause, "schema_errors", None):
        lines = [f"{head}: {_short(_headline(error), 200)}"]
        for schema_error in cause.schema_errors:
            lines.extend(_schema_error_lines(schema_error, 1))
        return lines
    lines = [f"{head}: {_short(str(error))}"]
    while cause is not None:
        lines.append(f"  caused by {type(cause).__name__}: {_short(str(cause))}")
        cause = cause.__cause__
    return lines


def _headline(error: BaseException) -> str:
    """The error's own words without the long cause openapi-core appends."""
    name = getattr(error, "name", None)
    location = getattr(error, "location", None)
    if name and location:
        return f"invalid {location} parameter {name!r}"
    kind = type(error).__name__
    if "RequestBody" in kind:
        return "the request body does not match its schema"
    if kind in ("InvalidData", "DataValidationError") or "Data" in kind:
        return "the response body does not match its schema"
    if "Header" in kind:
        return "a response header does not match its schema"
    return str(error).split(": Value ", 1)[0]


def _fail(what: str, request: httpx.Request, problems: list[str]) -> None:
    lines = [f"{what} {request.method} {request.url} does not match the Cal.com v2 OpenAPI document:"]
    lines.extend(problems)
    if len(lines) > _MAX_LINES:
        lines = lines[:_MAX_LINES] + [f"... ({len(lines) - _MAX_LINES} more lines)"]
    raise AssertionError("\n".join(lines))


# -- requests ------------------------------------------------------------------------------------------------------
def _operation(method: str, path: str) -> dict[str, Any] | None:
    """The raw spec operation for this method and concrete path, or None."""
    for template, operations in _raw_spec()["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    return None


def _header_problems(request: httpx.Request) -> list[str]:
    problems: list[str] = []
    path = urlsplit(str(request.url)).path
    operation = _operation(request.method, path)
    if operation is None:
        return problems  # openapi-core reports the unknown path or method
    sent = request.headers.get_list("cal-api-version")
    declared = next((p for p in operation.get("parameters", [])
                     if p.get("in") == "header" and p.get("name", "").lower() == "cal-api-version"), None)
    if declared is not None:
        wanted = declared.get("schema", {}).get("default")
        if not sent:
            problems.append(f"MissingCalApiVersion: header cal-api-version is required ({wanted!r}); without it "
                            "Cal.com silently routes to the 2024-04-15 controllers")
        elif sent != [wanted]:
            problems.append(f"WrongCalApiVersion: cal-api-version is {', '.join(sent)!r}, the operation documents "
                            f"{wanted!r}")
    elif sent and any(value not in VALID_API_VERSIONS for value in sent):
        problems.append(f"UnknownCalApiVersion: cal-api-version {', '.join(sent)!r} is not one of "
                        f"{sorted(VALID_API_VERSIONS)}")
    for value in request.headers.get_list("authorization"):
        if not _BEARER.match(value):
            problems.append("InvalidAuthorization: Authorization must be 'Bearer <token>' (value not shown)")
    if request.method.upper() == "GET" and _body_bytes(request):
        problems.append("UnexpectedBody: a GET request carries a body")
    return problems


def validate_request(request: httpx.Request) -> None:
    """Raise AssertionError (listing every problem, nested schema errors included) unless the request fits."""
    problems: list[str] = []
    for error in load_openapi().iter_request_errors(HttpxOpenAPIRequest(request)):
        problems.extend(_describe(error))
    problems.extend(_header_problems(request))
    if problems:
        _fail("Request", request, problems)


# -- responses -----------------------------------------------------------------------------------------------------
def is_success_envelope(response: httpx.Response) -> bool:
    """A 2xx JSON body of the form {"status": "success", ...}."""
    if not response.is_success:
        return False
    try:
        payload = json.loads(_body_bytes(response) or b"null")
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("status") == "success"


def _instant_problem(value: Any, where: str) -> str | None:
    if not isinstance(value, str) or not _ISO_WITH_OFFSET.match(value):
        return f"{where}: {value!r} is not an ISO 8601 date-time with Z or an offset"
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return f"{where}: {value!r} is not a real date-time"
    return None


def _check_slots(request: httpx.Request, payload: Any) -> list[str]:
    """The documented 2024-09-04 shape: {"status":"success","data":{"YYYY-MM-DD":[{"start":..., "end"?:...}]}}."""
    problems: list[str] = []
    if not isinstance(payload, dict):
        return [f"$: the body is {type(payload).__name__}, not the {{status, data}} envelope"]
    if payload.get("status") != "success":
        problems.append(f"$.status: {payload.get('status')!r} is not 'success'")
    data = payload.get("data")
    if not isinstance(data, dict):
        return problems + [f"$.data: {type(data).__name__} is not an object keyed by date"]
    query = dict(parse_qsl(urlsplit(str(request.url)).query))
    is_range = query.get("format") == "range"
    for day, slots in data.items():
        if not isinstance(day, str) or not _DATE_KEY.match(day):
            problems.append(f"$.data: key {day!r} is not a YYYY-MM-DD date")
            continue
        try:
            date.fromisoformat(day)
        except ValueError:
            problems.append(f"$.data: key {day!r} is not a real date")
        if not isinstance(slots, list):
            problems.append(f"$.data.{day}: {type(slots).__name__} is not an array")
            continue
        for index, slot in enumerate(slots):
            where = f"$.data.{day}[{index}]"
            if not isinstance(slot, dict):
                problems.append(f"{where}: {slot!r} is not an object with 'start' (the spec's string form is "
                                "not what Cal.com returns)")
                continue
            if "start" not in slot:
                problems.append(f"{where}: 'start' is required")
            else:
                problem = _instant_problem(slot["start"], f"{where}.start")
                if problem:
                    problems.append(problem)
                elif slot["start"][:10] != day:
                    problems.append(f"{where}.start: {slot['start']!r} is not on the day {day} it is listed under")
            if "end" in slot:
                problem = _instant_problem(slot["end"], f"{where}.end")
                if problem:
                    problems.append(problem)
            elif is_range:
                problems.append(f"{where}: 'end' is required with format=range")
            for key in ("seatsBooked", "seatsRemaining", "seatsTotal"):
                if key in slot and (isinstance(slot[key], bool) or not isinstance(slot[key], int)):
                    problems.append(f"{where}.{key}: {slot[key]!r} is not an integer")
            if "bookingUid" in slot and not isinstance(slot["bookingUid"], str):
                problems.append(f"{where}.bookingUid: {slot['bookingUid']!r} is not a string")
    return problems


def _check_error_envelope(payload: Any) -> list[str]:
    """API-NOTES §2: {"status":"error","timestamp":...,"path":...,"error":{"code","message","details"?}}."""
    if not isinstance(payload, dict):
        return [f"$: the error body is {type(payload).__name__}, not Cal.com's error envelope"]
    problems = []
    if payload.get("status") != "error":
        problems.append(f"$.status: {payload.get('status')!r} is not 'error'")
    for key in ("timestamp", "path"):
        if not isinstance(payload.get(key), str):
            problems.append(f"$.{key}: a string is required")
    if isinstance(payload.get("timestamp"), str):
        problem = _instant_problem(payload["timestamp"], "$.timestamp")
        if problem:
            problems.append(problem)
    error = payload.get("error")
    if not isinstance(error, dict):
        problems.append("$.error: an object {code, message, details?} is required")
    else:
        for key in ("code", "message"):
            if not isinstance(error.get(key), str) or not error.get(key):
                problems.append(f"$.error.{key}: a non-empty string is required")
    if "message" in payload and not isinstance(payload["message"], str):
        problems.append("$.message: must be a string when present")
    return problems


def _is_slots(request: httpx.Request) -> bool:
    return request.method.upper() == "GET" and urlsplit(str(request.url)).path.rstrip("/") == "/v2/slots"


def validate_response(request: httpx.Request, response: httpx.Response) -> None:
    """Raise AssertionError unless `response` is what the spec (or API-NOTES for slots/errors) documents."""
    problems: list[str] = []
    try:
        payload = json.loads(_body_bytes(response) or b"null")
        is_json = True
    except ValueError:
        payload, is_json = None, False
    if not response.is_success:
        if not is_json:
            problems.append(f"HTTP {response.status_code}: the body is not JSON, so not Cal.com's error envelope")
        else:
            problems.extend(_check_error_envelope(payload))
    elif _is_slots(request) and response.status_code == 200:
        content_type = response.headers.get("content-type", "")
        if not content_type.lower().startswith("application/json"):
            problems.append(f"Content-Type {content_type!r} is not application/json")
        problems.extend(_check_slots(request, payload) if is_json else ["$: the body is not JSON"])
    else:
        openapi_request = HttpxOpenAPIRequest(request)
        for error in load_openapi().iter_response_errors(openapi_request, HttpxOpenAPIResponse(response)):
            problems.extend(_describe(error))
        if is_json and isinstance(payload, dict) and payload.get("status") != "success":
            problems.append(f"$.status: {payload.get('status')!r} on HTTP {response.status_code} (expected "
                            "'success')")
    if problems:
        _fail(f"Response HTTP {response.status_code} to", request, problems)
