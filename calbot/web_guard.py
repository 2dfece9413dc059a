"""Who may drive calbot from a browser: an ASGI guard in front of Chainlit's app (app.py installs it).

Chainlit 2.12 checks no Origin itself: its socket.io server is made with `cors_allowed_origins=[]` (no check at all),
and `POST /project/action` runs the action of whichever session id the caller names. Any page a person had open in
the same browser could open the socket, chat, read every event and press Confirm (issue 15, finding 1).

What the guard does, before Chainlit sees anything:
- **Guarded requests**: every WebSocket upgrade; every HTTP request to socket.io's path (the polling transport's GETs
  read the chat and carry the cookie; its POSTs send to it); every request that may change state (any method but
  GET, HEAD, OPTIONS); every request that carries credentials (a Cookie or Authorization header), except a top-level
  navigation (following a link to calbot from elsewhere must open the page; the page it gets cannot be read by the
  site that linked it).
- A guarded request is **refused with 403** when
  - its `Origin` is neither calbot's own origin (the scheme, host and port the request was addressed to: the Origin
    must equal the Host it came to) nor one listed in CALBOT_ALLOWED_ORIGINS (`"null"` is never accepted); or
  - it has no Origin but `Sec-Fetch-Site` says another site sent it (`cross-site`, or `same-site`: a page on
    another port of the same host is same-site); or
  - it arrived on a loopback address and its `Host` is neither a loopback name (localhost, 127.x.x.x, [::1]) nor the
    host of an allowed origin: DNS rebinding, a foreign name that resolves to 127.0.0.1, would otherwise make a
    foreign page "same-origin".
  Requests with no Origin and no Sec-Fetch-Site (curl, python clients, the tests' httpx) go through.
- **No foreign reads through CORS**: an answer to a request whose Origin is neither own nor allowed loses every
  `Access-Control-Allow-*` header, whatever `.chainlit/config.toml` says.
- **No framing**: every HTTP answer carries `Content-Security-Policy: frame-ancestors 'self'` (and the allowed
  origins), so no other site can put calbot in a frame and trick a click on Confirm; the same header lets the page
  load images and media only from calbot itself (`img-src 'self' data: blob:`), so no image can carry data away.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from calbot.errors import CalbotError
from calbot.explain import CROSS_ORIGIN_REFUSED

log = logging.getLogger("calbot.web_guard")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SOCKET_IO_PATH = "/ws/socket.io"  # Chainlit's (chainlit.server.SOCKET_IO_PATH without --root-path)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WS_SCHEMES = {"ws": "http", "wss": "https"}
_FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})
_CORS_ANSWER_PREFIX = b"access-control-allow-"
_LOGGED_LIMIT = 100  # distinct refusals logged at warning level; later ones at debug (a flood stays small)


class OriginError(CalbotError, ValueError):
    """A value that is not a web origin (scheme://host[:port])."""


def normalise_origin(value: str) -> str:
    """`value` as a canonical origin: lower-case scheme and host, default port dropped, IPv6 in brackets.

    Accepts `http(s)://host[:port]` with at most a trailing `/`; anything else (a path, a query, user info, `*`,
    `null`, another scheme) raises OriginError."""
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise OriginError(f"{value!r} has an invalid port") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise OriginError(f"{value!r} is not an http:// or https:// origin")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise OriginError(f"{value!r} is not scheme://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "*" in text:
        raise OriginError(f"{value!r} has more than scheme://host[:port]")
    return _origin(scheme, parts.hostname, port)


def _origin(scheme: str, host: str, port: int | None) -> str:
    host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def _hostname(origin: str) -> str:
    return urlsplit(origin).hostname or ""


def _is_loopback_name(host: str) -> bool:
    host = host.lower().strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_loopback_address(server: Any) -> bool:
    if not isinstance(server, (tuple, list)) or not server or not isinstance(server[0], str):
        return False  # a unix socket, or no address at all
    try:
        return ipaddress.ip_address(server[0]).is_loopback
    except ValueError:
        return False


class OriginGuard:
    """ASGI middleware: see the module's docstring. `allowed_origins` must already be canonical
    (`normalise_origin`); `socket_path` is where socket.io is mounted."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str] = (), socket_path: str = SOCKET_IO_PATH) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins)
        self.allowed_hosts = frozenset(_hostname(origin) for origin in self.allowed)
        self.socket_path = socket_path.rstrip("/")
        self.frame_ancestors = " ".join(["'self'", *sorted(self.allowed)])
        # Defence in depth behind calbot.safe_text: the page loads images and media only from calbot itself, so
        # an image a model or a booking slips into the page can never carry data to another host.
        self.policy = (f"frame-ancestors {self.frame_ancestors}; img-src 'self' data: blob:; "
                       "media-src 'self' data: blob:").encode()
        self._logged: set[tuple[str, str, str]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        origin = headers.get("origin")
        trusted = origin is not None and self._trusted(origin, scope, headers)
        reason = self._refusal(scope, headers, origin, trusted) if self._guarded(scope, headers) else None
        if reason is not None:
            self._log(scope, origin, headers.get("host"), reason)
            await self._refuse(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._answer_headers(send, strip_cors=origin is not None and not trusted))

    # -- the decision ------------------------------------------------------------------------------------------------
    def _guarded(self, scope: Scope, headers: dict[str, str]) -> bool:
        if scope["type"] == "websocket":
            return True
        path = scope.get("path", "")
        if path == self.socket_path or path.startswith(self.socket_path + "/"):
            return True
        if scope.get("method", "GET").upper() not in SAFE_METHODS:
            return True
        credentials = "cookie" in headers or "authorization" in headers
        return credentials and headers.get("sec-fetch-mode") != "navigate"

    def _refusal(self, scope: Scope, headers: dict[str, str], origin: str | None, trusted: bool) -> str | None:
        if origin is not None and not trusted:
            return "foreign origin"
        if origin is None and headers.get("sec-fetch-site", "").lower() in _FOREIGN_FETCH_SITES:
            return f"no origin, sec-fetch-site {headers['sec-fetch-site']}"
        if _is_loopback_address(scope.get("server")) and not self._host_fits_loopback(headers.get("host")):
            return "foreign host name on a loopback address"
        return None

    def _trusted(self, origin: str, scope: Scope, headers: dict[str, str]) -> bool:
        try:
            canonical = normalise_origin(origin)
        except OriginError:
            return False  # "null" (sandboxed frames, file: pages) and anything malformed
        return canonical in self.allowed or canonical == _own_origin(scope, headers.get("host"))

    def _host_fits_loopback(self, host: str | None) -> bool:
        if not host:
            return True  # HTTP/1.0 without Host: not a browser (browsers always send Host)
        name = urlsplit(f"http://{host}").hostname or ""
        return _is_loopback_name(name) or name in self.allowed_hosts

    # -- the answers -------------------------------------------------------------------------------------------------
    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect; closing before accepting makes the server answer 403
            await send({"type": "websocket.close", "code": 1008})
            return
        body = CROSS_ORIGIN_REFUSED.encode()
        await send({"type": "http.response.start", "status": 403, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
            (b"content-security-policy", self.policy),
            (b"vary", b"Origin")]})
        await send({"type": "http.response.body", "body": body})

    def _answer_headers(self, send: Send, *, strip_cors: bool) -> Send:
        policy = (b"content-security-policy", self.policy)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", [])
                           if not (strip_cors and name.lower().startswith(_CORS_ANSWER_PREFIX))]
                message = {**message, "headers": [*headers, policy]}
            await send(message)

        return send_with_headers

    def _log(self, scope: Scope, origin: str | None, host: str | None, reason: str) -> None:
        key = (reason, origin or "", host or "")
        level = logging.DEBUG
        if key not in self._logged and len(self._logged) < _LOGGED_LIMIT:
            self._logged.add(key)
            level = logging.WARNING
        log.log(level, "refused %s %s %s (%s; Origin %r, Host %r); CALBOT_ALLOWED_ORIGINS lists the origins that may",
                scope["type"], scope.get("method", "GET"), scope.get("path", ""), reason, origin, host)


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (the first of repeated ones)."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _own_origin(scope: Scope, host: str | None) -> str | None:
    """The origin the request was addressed to: its scheme and its Host header (None without a usable Host)."""
    if not host:
        return None
    scheme = scope.get("scheme", "http")
    scheme = _WS_SCHEMES.get(scheme, scheme)
    if scheme not in _DEFAULT_PORTS:
        return None
    try:
        return normalise_origin(f"{scheme}://{host}")
    except OriginError:
        return None


def install(allowed_origins: Iterable[str] = ()) -> None:
    """Put the guard in front of Chainlit's app (outermost of its middleware; once per process) and let Chainlit's
    CORS answer the allowed origins. Call before the server starts (app.py does, at import)."""
    from chainlit.config import config
    from chainlit.server import SOCKET_IO_PATH as socket_path
    from chainlit.server import app

    allowed = list(dict.fromkeys(allowed_origins))
    if any(middleware.cls is OriginGuard for middleware in app.user_middleware):
        return
    # Chainlit's CORSMiddleware holds this very list (it is built at the first request): added in place.
    cors_origins = config.project.allow_origins
    cors_origins.extend(origin for origin in allowed if origin not in cors_origins)
    app.add_middleware(OriginGuard, allowed_origins=allowed, socket_path=socket_path)
