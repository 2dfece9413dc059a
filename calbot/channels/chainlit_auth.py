"""Sign-in on the Chainlit page, and the saved chats that come with it (calbot/channels/chainlit_app.py calls
`start` when the server starts and `person` in every hook).

Sign-in is on when, at start, calbot's database holds an active account (`python -m calbot users add`), an OAuth
provider is configured (Chainlit's OAUTH_<PROVIDER>_CLIENT_ID and _SECRET) or CALBOT_TRUSTED_EMAIL_HEADER is set.
Then:
- Chainlit's auth callbacks decide who someone is: a password checked against calbot's accounts (throttled per
  account and per client address; the same refusal whatever was wrong), an OAuth provider's verified email, or the
  trusted proxy's header. The signed-in email is the person the booking rules use (calbot.sessions.Person).
- Chainlit's SQLAlchemy data layer keeps the page's messages in the same database (tables made by calbot's
  migrations), so a person's chats are listed in the sidebar and reopen; deleting one there deletes calbot's chat.
- CHAINLIT_AUTH_SECRET, when unset, is generated once into .calbot/auth-secret (mode 0600) and reused.
With none of them: single-user mode, as before (no sign-in, no data layer).

A database that cannot be read at start leaves sign-in on (fail closed): calbot cannot tell whether accounts exist.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import chainlit as cl
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

from calbot.accounts import (
    AccountError,
    LoginThrottled,
    ensure_auth_secret,
    header_email,
    verified_oauth_email,
)
from calbot.chat import ChatService
from calbot.errors import CalbotError
from calbot.explain import ACCOUNT_DISABLED, SIGN_IN_AGAIN, SIGN_IN_UNAVAILABLE, WRONG_EMAIL_OR_PASSWORD
from calbot.sessions import Person
from calbot.store.sql import database_url
from calbot.wiring import account_store

log = logging.getLogger("calbot.sign_in")

PERSON_CACHE_SECONDS = 5.0  # how long a process trusts what it read of an account (disabled, name, zone)
SECRET_DIRECTORY = ".calbot"


@dataclass(frozen=True)
class SignIn:
    passwords: bool = False
    oauth: tuple[str, ...] = ()
    header: str | None = None

    @property
    def on(self) -> bool:
        return self.passwords or bool(self.oauth) or bool(self.header)


MODE = SignIn()  # single-user until start() decides
_people: dict[str, tuple[float, Person | None]] = {}


class SignedOut(CalbotError):
    """The signed-in account was disabled or removed since the sign-in: the person must sign in again."""


class LoginAnswers:
    """ASGI middleware around sign-in requests. It gives the password callback the client's address (Chainlit passes
    only the email and the password; behind a proxy this is the proxy's address) and makes the answer to a refused
    POST /login say it in words: 401 "Wrong email or password." whatever was wrong, 429 with the wait once the
    throttle holds, 503 when the accounts could not be read (Chainlit turns any exception in the callback into the same 401 "credentialssignin")."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        attempt = _Attempt(str(client[0]) if client else "unknown")
        token = _attempt.set(attempt)
        try:
            if scope.get("method") == "POST" and scope.get("path", "").endswith("/login"):
                await self.app(scope, receive, _refusal_in_words(send, attempt))
            else:
                await self.app(scope, receive, send)
        finally:
            _attempt.reset(token)


@dataclass
class _Attempt:
    client: str
    throttled: str | None = None  # the throttle's sentence, when it refused the attempt
    unavailable: bool = False  # the accounts could not be read (the database): 503, not "wrong password"


_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar("calbot_sign_in_attempt", default=None)


def _refusal_in_words(send: Any, attempt: _Attempt) -> Any:
    held: dict[str, Any] = {}

    async def send_in_words(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] == 401:
            held["start"] = message
            return
        if message["type"] == "http.response.body" and "start" in held:
            if message.get("more_body"):
                return
            status, detail = ((429, attempt.throttled) if attempt.throttled else
                              (503, SIGN_IN_UNAVAILABLE) if attempt.unavailable else (401, WRONG_EMAIL_OR_PASSWORD))
            body = json.dumps({"detail": detail}).encode()
            headers = [(k, v) for k, v in held["start"].get("headers", []) if k.lower() != b"content-length"]
            await send({**held["start"], "status": status,
                        "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return send_in_words


class CalbotDataLayer(SQLAlchemyDataLayer):
    """Chainlit's SQLAlchemy data layer on calbot's database. Deleting a thread (Chainlit has checked it is the
    person's) also deletes calbot's chat of the same id."""

    def __init__(self, conninfo: str, service: ChatService) -> None:
        # On SQLite, wait for the session store's writes as it waits for Chainlit's (a busy file, not an error).
        super().__init__(conninfo=conninfo, connect_args={"timeout": 10} if conninfo.startswith("sqlite") else None)
        self._service = service

    async def delete_thread(self, thread_id: str) -> None:
        author = await self.get_thread_author(thread_id)
        if author:  # calbot's chat first: a chat whose page is gone must not live on
            await self._service.delete_chat(thread_id, person=Person(email=author))
        await super().delete_thread(thread_id)


async def decide(service: ChatService) -> SignIn:
    from chainlit.oauth_providers import get_configured_oauth_providers

    try:
        passwords = await (await account_store(service)).count_active() > 0
    except Exception as exc:  # fail closed: with accounts that cannot be read, the page must not open to everyone
        log.error("could not read calbot's accounts at start (%s): password sign-in stays on; check "
                  "CALBOT_DATABASE_URL", type(exc).__name__)
        passwords = True
    return SignIn(passwords, tuple(get_configured_oauth_providers()), service.settings.calbot_trusted_email_header)


async def start(service: ChatService) -> SignIn:
    """Decide the mode and, with sign-in, register Chainlit's callbacks and data layer (before any request)."""
    global MODE
    MODE = await decide(service)
    if not MODE.on:
        log.info("no accounts: single-user mode (the page opens without sign-in)")
        return MODE
    ensure_auth_secret(SECRET_DIRECTORY)
    _register(service)
    log.info("sign-in on (%s)", ", ".join(filter(None, [
        "passwords" if MODE.passwords else "", *MODE.oauth, f"header {MODE.header}" if MODE.header else ""])))
    return MODE


def install_login_answers() -> None:
    """At import, before the server starts (Starlette takes no middleware later); cheap in single-user mode."""
    from chainlit.server import app

    if not any(middleware.cls is LoginAnswers for middleware in app.user_middleware):
        app.add_middleware(LoginAnswers)


def _register(service: ChatService) -> None:
    import chainlit.data as chainlit_data

    url = database_url(service.settings)

    @cl.data_layer
    def data_layer() -> CalbotDataLayer:
        return CalbotDataLayer(url, service)

    if getattr(chainlit_data, "_data_layer_initialized", False) and chainlit_data._data_layer is None:
        chainlit_data._data_layer_initialized = False  # asked before start: ask again now that there is one

    if MODE.passwords:
        @cl.password_auth_callback
        async def password_login(username: str, password: str) -> cl.User | None:
            accounts = await account_store(service)
            attempt = _attempt.get() or _Attempt("unknown")
            try:
                account = await accounts.authenticate(username, password, attempt.client)
            except LoginThrottled as exc:
                attempt.throttled = str(exc)
                log.info("a sign-in was refused: too many failures")
                return None
            except Exception as exc:  # the database: said as such, never as a wrong password
                attempt.unavailable = True
                log.warning("a sign-in could not be checked (%s)", type(exc).__name__)
                return None
            if account is None:
                log.info("a sign-in was refused")
                return None
            _people.pop(account.email, None)
            return cl.User(identifier=account.email, display_name=account.name, metadata={"provider": "password"})

    if MODE.oauth:
        @cl.oauth_callback
        async def oauth_login(provider_id: str, token: str, raw_user_data: dict[str, Any], default_user: cl.User,
                              id_token: str | None = None) -> cl.User | None:
            try:
                email = verified_oauth_email(provider_id, raw_user_data, default_user.identifier)
            except AccountError as exc:
                log.info("an OAuth sign-in was refused: %s", exc)
                return None
            return cl.User(identifier=email, display_name=default_user.display_name,
                           metadata={"provider": provider_id})

    if MODE.header:
        header = MODE.header

        @cl.header_auth_callback
        async def header_login(headers: Mapping[str, str]) -> cl.User | None:
            email = header_email(headers, header)
            return None if email is None else cl.User(identifier=email, metadata={"provider": "header"})


def _metadata(user: Any) -> dict[str, Any]:
    metadata = getattr(user, "metadata", None)
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    return metadata if isinstance(metadata, dict) else {}


async def person(service: ChatService) -> Person | None:
    """Who is chatting in this Chainlit context: None in single-user mode; else the signed-in person, with their
    account's name and saved zone. Raises SignedOut when their password account was disabled or removed."""
    if not MODE.on:
        return None
    user = cl.context.session.user
    email = getattr(user, "identifier", None)
    if not isinstance(email, str) or not email:
        raise SignedOut(SIGN_IN_AGAIN)
    cached = _people.get(email)
    if cached is not None and time.monotonic() - cached[0] < PERSON_CACHE_SECONDS:
        found = cached[1]
    else:
        account = await (await account_store(service)).get(email)
        password_account = _metadata(user).get("provider") == "password"
        if (account is not None and account.disabled) or (password_account and account is None):
            found = None  # (a disabled account is refused however it signed in)
        else:
            found = Person(email=email, name=(account.name if account else None) or getattr(user, "display_name", None),
                           time_zone=account.time_zone if account else None)
        _people[email] = (time.monotonic(), found)
    if found is None:
        raise SignedOut(ACCOUNT_DISABLED)
    return found
