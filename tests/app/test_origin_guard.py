"""Chainlit's app as `chainlit run app.py` serves it (app.py imported, so its web guard installed), over HTTP in
process (httpx.ASGITransport) and with a WebSocket scope: a request from another origin that could act or read with
the page's credentials is refused before Chainlit sees it, CORS never answers a foreign origin, and no other site may
frame the page (issue 15, finding 1). The guard's rules one by one: tests/unit/test_web_guard.py.

calbot listens on 127.0.0.1 here (the app's own origin is http://127.0.0.1:8000); the attacker's page is another
port of the same host, as in tests/e2e/test_origin.py.
"""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from chainlit.config import config as chainlit_config
from chainlit.server import app as chainlit_server

import app  # noqa: F401 - app.py (calbot/channels/chainlit_app.py) installs the guard in front of chainlit.server.app

ROOT = Path(__file__).resolve().parents[2]
OWN = "http://127.0.0.1:8000"
FOREIGN = "http://127.0.0.1:8001"
POLLING = "/ws/socket.io/?EIO=4&transport=polling"
COOKIE = {"Cookie": "X-Chainlit-Session-id=0b0e4b2e-5d0a-4d8e-9a55-4cb1f1d6c0de"}


def _client(base_url: str = OWN) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=chainlit_server), base_url=base_url, timeout=10)


async def _websocket(headers: dict[str, str], host: str = "127.0.0.1:8000") -> list[dict[str, Any]]:
    """Offer a socket.io WebSocket upgrade to the app; returns what the app sent back (a `websocket.close` before any
    `websocket.accept` is the server's 403)."""
    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "http_version": "1.1",
             "path": "/ws/socket.io/", "raw_path": b"/ws/socket.io/", "root_path": "",
             "query_string": b"EIO=4&transport=websocket", "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8000), "subprotocols": [], "state": {},
             "headers": [(b"host", host.encode()), (b"connection", b"Upgrade"), (b"upgrade", b"websocket"),
                         (b"sec-websocket-version", b"13"), (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
                         *((k.lower().encode(), v.encode()) for k, v in headers.items())]}
    sent: list[dict[str, Any]] = []
    connected = False

    async def receive() -> dict[str, Any]:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await asyncio.sleep(0.2)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await asyncio.wait_for(chainlit_server(scope, receive, send), 5)
    except TimeoutError:
        pass
    return sent


async def test_a_foreign_page_cannot_open_the_socket_over_websocket():
    sent = await _websocket({"Origin": FOREIGN, **COOKIE})
    assert sent and sent[0]["type"] == "websocket.close", sent
    assert not any(message["type"] == "websocket.accept" for message in sent)


async def test_a_null_origin_cannot_open_the_socket_either():
    sent = await _websocket({"Origin": "null"})
    assert sent and sent[0]["type"] == "websocket.close", sent


@pytest.mark.parametrize("headers", [
    {"Origin": FOREIGN, **COOKIE},
    {"Origin": FOREIGN},
    {"Origin": "https://127.0.0.1:8000"},  # another scheme is another origin
    {"Sec-Fetch-Site": "cross-site", **COOKIE},  # no Origin (a <script src>), but the browser says who sent it
    {"Sec-Fetch-Site": "same-site", **COOKIE},  # another port of the same host is "same-site"
], ids=["foreign", "foreign-no-cookie", "other-scheme", "no-origin-cross-site", "no-origin-same-site"])
async def test_a_foreign_page_cannot_read_the_socket_over_polling(headers):
    async with _client() as client:
        response = await client.get(POLLING, headers=headers)
    assert response.status_code == 403
    assert "CALBOT_ALLOWED_ORIGINS" in response.text and not response.text.startswith("0{")
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_a_foreign_page_cannot_change_anything(method):
    async with _client() as client:
        response = await client.request(method, "/set-session-cookie", json={"session_id": "x"},
                                        headers={"Origin": FOREIGN})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_a_foreign_page_cannot_press_confirm():
    action = {"name": "confirm", "payload": {"proposal_id": "p"}, "label": "Confirm", "id": "a", "forId": "m"}
    async with _client() as client:
        response = await client.post("/project/action", json={"sessionId": "s", "action": action},
                                     headers={"Origin": FOREIGN, **COOKIE})
    assert response.status_code == 403


async def test_calbots_own_page_still_works():
    async with _client() as client:
        cookie = await client.post("/set-session-cookie", json={"session_id": "x"}, headers={"Origin": OWN})
        page = await client.get("/", headers={"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"})
        plain = await client.post("/set-session-cookie", json={"session_id": "y"})  # curl, python clients
    assert cookie.status_code == 200 and "x-chainlit-session-id" in cookie.headers["set-cookie"].lower()
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert plain.status_code == 200


async def test_following_a_link_from_another_site_opens_the_page():
    async with _client() as client:
        page = await client.get("/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                                              **COOKIE})
    assert page.status_code == 200


async def test_cors_never_answers_a_foreign_origin():
    async with _client() as client:
        preflight = await client.options("/project/action", headers={
            "Origin": FOREIGN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        read = await client.get("/project/translations", headers={"Origin": FOREIGN})
    for response in (preflight, read):
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers


def test_chainlit_config_allows_no_other_origin():
    configured = tomllib.loads((ROOT / ".chainlit" / "config.toml").read_text())["project"]["allow_origins"]
    assert "*" not in configured
    assert "*" not in chainlit_config.project.allow_origins


async def test_no_other_site_may_frame_the_page():
    async with _client() as client:
        page = await client.get("/")
    assert "frame-ancestors 'self'" in page.headers.get("content-security-policy", "")


async def test_the_page_loads_images_only_from_calbot_itself():
    """Behind calbot.safe_text: even an image that reached the page could not fetch another host's URL."""
    async with _client() as client:
        page = await client.get("/")
    policy = page.headers.get("content-security-policy", "")
    assert "img-src 'self' data: blob:" in policy and "media-src 'self' data: blob:" in policy


async def test_a_rebound_host_name_is_refused():
    """DNS rebinding: evil.example resolves to 127.0.0.1, so its page is "same-origin" with what it reaches."""
    async with _client() as client:
        response = await client.get(POLLING, headers={"Host": "evil.example:8000", "Origin": "http://evil.example:8000"})
    assert response.status_code == 403
    sent = await _websocket({"Origin": "http://evil.example:8000"}, host="evil.example:8000")
    assert sent and sent[0]["type"] == "websocket.close", sent
