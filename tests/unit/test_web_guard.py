"""calbot.web_guard.OriginGuard rule by rule, in front of a stub app that records what reached it (httpx in process,
and WebSocket scopes called directly). The same guard in front of Chainlit's real app: tests/app/test_origin_guard.py;
in a browser: tests/e2e/test_origin.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from calbot.explain import CROSS_ORIGIN_REFUSED
from calbot.web_guard import OriginError, OriginGuard, normalise_origin

OWN = "http://127.0.0.1:8000"
COOKIE = {"Cookie": "X-Chainlit-Session-id=abc"}


class Stub:
    """An ASGI app that records each request it sees and answers 200 with CORS headers, as Chainlit's CORS
    middleware does for an origin it allows (or for any origin with allow_origins = ["*"])."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    async def __call__(self, scope, receive, send) -> None:
        self.seen.append((scope["type"], scope.get("method", ""), scope["path"]))
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1000})
            return
        origin = dict(scope["headers"]).get(b"origin", b"*")
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/plain"), (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true")]})
        await send({"type": "http.response.body", "body": b"ok"})


def _guard(allowed: tuple[str, ...] = ()) -> tuple[OriginGuard, Stub]:
    stub = Stub()
    return OriginGuard(stub, allowed_origins=allowed), stub


async def _request(guard: OriginGuard, method: str, path: str, headers: dict[str, str] | None = None,
                   base_url: str = OWN) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url=base_url) as client:
        return await client.request(method, path, headers=headers or {})


async def _websocket(guard: OriginGuard, headers: dict[str, str], *, host: str = "127.0.0.1:8000",
                     scheme: str = "ws", server: tuple[str, int] | None = ("127.0.0.1", 8000)) -> list[dict[str, Any]]:
    scope = {"type": "websocket", "scheme": scheme, "path": "/ws/socket.io/", "query_string": b"EIO=4",
             "headers": [(b"host", host.encode()), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
             "server": server}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await guard(scope, receive, send)
    return sent


def _accepted(sent: list[dict[str, Any]]) -> bool:
    return bool(sent) and sent[0]["type"] == "websocket.accept"


# -- WebSocket upgrades ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("origin, accepted", [
    (OWN, True),
    ("http://127.0.0.1:8000/", True),
    ("HTTP://127.0.0.1:8000", True),  # origins compare in canonical form
    ("http://127.0.0.1:8001", False),  # another port
    ("https://127.0.0.1:8000", False),  # another scheme
    ("http://localhost:8000", False),  # another host name is another origin, even for the same server
    ("null", False),  # sandboxed frames, file: pages
    ("http://127.0.0.1:8000.evil.example", False),
    ("", False),
])
async def test_a_websocket_upgrade_is_accepted_only_from_the_own_origin(origin, accepted):
    guard, stub = _guard()
    sent = await _websocket(guard, {"Origin": origin})
    assert _accepted(sent) is accepted
    assert bool(stub.seen) is accepted
    if not accepted:
        assert sent == [{"type": "websocket.close", "code": 1008}]  # before accept: the server answers 403


async def test_a_websocket_without_origin_is_accepted():
    """Browsers always send Origin on a WebSocket; clients that send none (python-socketio) are not web pages."""
    guard, _ = _guard()
    assert _accepted(await _websocket(guard, {}))


async def test_the_own_origin_follows_the_host_the_request_came_to():
    guard, _ = _guard()
    assert _accepted(await _websocket(guard, {"Origin": "https://calbot.example.com"}, host="calbot.example.com",
                                      scheme="wss", server=("10.0.0.5", 443)))
    assert _accepted(await _websocket(guard, {"Origin": "http://calbot.example.com"}, host="calbot.example.com:80",
                                      scheme="ws", server=("10.0.0.5", 80)))
    assert _accepted(await _websocket(guard, {"Origin": "http://[::1]:8000"}, host="[::1]:8000", server=("::1", 8000)))
    assert not _accepted(await _websocket(guard, {"Origin": "http://calbot.example.com"}, host="calbot.example.com",
                                          scheme="wss", server=("10.0.0.5", 443)))


async def test_an_allowed_origin_may_open_the_socket():
    guard, _ = _guard(("https://calbot.example.com", "http://localhost:3000"))
    assert _accepted(await _websocket(guard, {"Origin": "http://localhost:3000"}))
    assert _accepted(await _websocket(guard, {"Origin": "https://calbot.example.com"}))
    assert not _accepted(await _websocket(guard, {"Origin": "http://localhost:3001"}))


# -- HTTP ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_a_request_that_changes_state_is_refused_from_a_foreign_origin(method):
    guard, stub = _guard()
    response = await _request(guard, method, "/project/action", {"Origin": "http://127.0.0.1:8001"})
    assert response.status_code == 403 and response.text == CROSS_ORIGIN_REFUSED
    assert stub.seen == []
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_a_request_that_changes_state_passes_from_the_own_origin_or_without_origin(method):
    guard, stub = _guard()
    own = await _request(guard, method, "/project/action", {"Origin": OWN})
    plain = await _request(guard, method, "/project/action")  # curl, python clients, the tests' httpx
    assert own.status_code == plain.status_code == 200
    assert len(stub.seen) == 2


@pytest.mark.parametrize("fetch_site, refused", [
    ("cross-site", True), ("same-site", True), ("same-origin", False), ("none", False)])
async def test_without_origin_sec_fetch_site_decides(fetch_site, refused):
    guard, _ = _guard()
    response = await _request(guard, "POST", "/project/action", {"Sec-Fetch-Site": fetch_site})
    assert (response.status_code == 403) is refused


@pytest.mark.parametrize("headers, refused", [
    ({"Origin": "http://127.0.0.1:8001"}, True),  # fetch() from another page, even without credentials
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}, True),  # <script src>, no Origin
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}, True),  # never a page to navigate to
    ({"Origin": OWN, **COOKIE}, False),
    ({"Sec-Fetch-Site": "same-origin", **COOKIE}, False),  # the page's own polling GET carries no Origin
    ({}, False),
])
async def test_socket_io_polling_reads_are_guarded(headers, refused):
    guard, stub = _guard()
    response = await _request(guard, "GET", "/ws/socket.io/?EIO=4&transport=polling", headers)
    assert (response.status_code == 403) is refused
    assert bool(stub.seen) is not refused


@pytest.mark.parametrize("headers, refused", [
    ({"Origin": "http://127.0.0.1:8001", **COOKIE}, True),  # fetch(..., {credentials: "include"})
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", **COOKIE}, True),  # <img>/<script> with cookie
    ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", **COOKIE}, False),  # a link to calbot
    ({"Authorization": "Bearer x", "Origin": "http://127.0.0.1:8001"}, True),
    ({"Sec-Fetch-Site": "same-origin", **COOKIE}, False),
])
async def test_a_read_with_credentials_is_guarded(headers, refused):
    guard, _ = _guard()
    response = await _request(guard, "GET", "/project/settings", headers)
    assert (response.status_code == 403) is refused


async def test_cors_headers_never_answer_a_foreign_origin():
    """A read without credentials goes through (the page's assets), but the browser must not let the foreign page
    see the answer: whatever CORS headers Chainlit adds are taken off."""
    guard, stub = _guard(("http://localhost:3000",))
    foreign = await _request(guard, "GET", "/project/translations", {"Origin": "http://127.0.0.1:8001"})
    preflight = await _request(guard, "OPTIONS", "/project/action", {
        "Origin": "http://127.0.0.1:8001", "Access-Control-Request-Method": "POST"})
    allowed = await _request(guard, "GET", "/project/translations", {"Origin": "http://localhost:3000"})
    own = await _request(guard, "GET", "/project/translations", {"Origin": OWN})
    for response in (foreign, preflight):
        assert response.status_code == 200
        assert not any(name.startswith("access-control-allow-") for name in response.headers)
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert own.headers["access-control-allow-origin"] == OWN
    assert len(stub.seen) == 4


async def test_every_answer_forbids_framing_by_other_sites():
    guard, _ = _guard(("https://calbot.example.com",))
    page = await _request(guard, "GET", "/")
    refused = await _request(guard, "POST", "/project/action", {"Origin": "http://127.0.0.1:8001"})
    for response in (page, refused):
        assert response.headers["content-security-policy"] == (
            "frame-ancestors 'self' https://calbot.example.com; img-src 'self' data: blob:; "
            "media-src 'self' data: blob:")


@pytest.mark.parametrize("host, refused", [
    ("evil.example:8000", True),  # DNS rebinding: a foreign name resolved to 127.0.0.1
    ("127.0.0.1:8000", False), ("localhost:8000", False), ("app.localhost:8000", False), ("[::1]:8000", False),
    ("calbot.example.com", False),  # listed in CALBOT_ALLOWED_ORIGINS (a proxy on this machine)
])
async def test_on_a_loopback_address_only_loopback_or_allowed_host_names(host, refused):
    guard, stub = _guard(("https://calbot.example.com",))
    origin = f"http://{host}"
    response = await _request(guard, "POST", "/project/action", {"Host": host, "Origin": origin})
    socket = await _websocket(guard, {"Origin": origin}, host=host)
    no_origin = await _request(guard, "GET", "/ws/socket.io/?EIO=4", {"Host": host})  # a same-origin polling GET
    assert (response.status_code == 403) is refused
    assert _accepted(socket) is not refused
    assert (no_origin.status_code == 403) is refused


async def test_on_another_address_the_host_name_is_not_restricted():
    guard, _ = _guard()
    response = await _request(guard, "POST", "/project/action",
                              {"Host": "calbot.example.com", "Origin": "http://calbot.example.com"},
                              base_url="http://10.0.0.5")
    assert response.status_code == 200


async def test_lifespan_and_other_scopes_pass_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    await OriginGuard(app)({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"]


# -- origins ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, canonical", [
    ("https://calbot.example.com", "https://calbot.example.com"),
    ("HTTPS://Calbot.Example.com:443/", "https://calbot.example.com"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("http://[::1]:8000", "http://[::1]:8000"),
    (" http://127.0.0.1:80 ", "http://127.0.0.1"),
])
def test_normalise_origin(value, canonical):
    assert normalise_origin(value) == canonical


@pytest.mark.parametrize("value", [
    "*", "null", "calbot.example.com", "ftp://calbot.example.com", "https://calbot.example.com/chat",
    "https://user:pass@calbot.example.com", "https://calbot.example.com?x=1", "https://*.example.com",
    "http://localhost:99999", "http://localhost:port", "https://", "",
])
def test_what_is_not_an_origin(value):
    with pytest.raises(OriginError):
        normalise_origin(value)
