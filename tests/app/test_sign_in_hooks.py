"""Sign-in on the Chainlit page (calbot/channels/chainlit_app.py, chainlit_auth.py), driven through the hooks with the
mocked Chainlit context of conftest.py: password accounts in the chat database (AccountStore over the service's own
SqlStore), `cl.context.session.user` as Chainlit sets it after a sign-in, chainlit_auth.MODE set to passwords.

Covered: a signed-in person's message makes a chat of theirs; reopening it offers an open proposal again while its
time is ahead and closes it (nothing written) once passed; someone else's chat is not shown; a disabled account is
refused without the model; how decide() chooses the mode (fail closed); the password callback and its throttle (429 in words through LoginAnswers); the
data layer deleting calbot's chat with its thread, only for the thread's author.

Chainlit's callbacks and data layer are module state: each test that registers them restores them (monkeypatch), so
the other app tests keep running in single-user mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import chainlit as cl
import chainlit.data as chainlit_data
import httpx
import pytest
from chainlit.chat_context import chat_contexts
from chainlit.config import config
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.user_session import user_sessions
from starlette.responses import JSONResponse

from calbot.accounts import AccountStore
from calbot.channels import chainlit_app as app
from calbot.channels import chainlit_auth
from calbot.channels.chainlit_auth import CalbotDataLayer, SignIn
from calbot.chat import ChatService
from calbot.config import load_settings
from calbot.explain import (ACCOUNT_DISABLED, RESUMED_CHAT_GONE, RESUMED_PROPOSAL_EXPIRED, RESUMED_PROPOSAL_OPEN,
                            SIGN_IN_AGAIN, SIGN_IN_UNAVAILABLE, WRONG_EMAIL_OR_PASSWORD)
from calbot.sessions import Person
from calbot.store.base import SessionStore, StoreUnavailableError
from calbot.store.sql import SqlStore
from calbot.wiring import account_store
from tests.app.conftest import NOW, Page, action_of
from testing.openai_fake import call

BOOK_TEXT = "Book me 30 minutes tomorrow at 3pm about the budget review"
BOOK_CALL = call("book_meeting", start="2026-11-24T15:00", reason="Budget review")  # 14:00 UTC on the 24th
BEA, CAI = "bea@example.com", "cai@example.com"
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def chat(settings, model, sandbox, tmp_path: Path, clock: Clock,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ChatService]:
    """app.service over a SQLite chat database (sign-in needs the SQL store; the accounts live beside the chats),
    its booking clock movable."""
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/chats/calbot.db")
    service = ChatService(settings, model_client=model.client(), sandbox=sandbox, clock=clock, store=store)
    monkeypatch.setattr(app, "service", service)
    yield service
    await service.aclose()
    await store.close()


@pytest.fixture
async def accounts(chat: ChatService) -> AccountStore:
    store = await account_store(chat)
    await store.add(BEA, PASSWORD, name="Bea Brown")
    await store.add(CAI, PASSWORD, name="Cai Chen")
    return store


@pytest.fixture
def passwords_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainlit_auth, "MODE", SignIn(passwords=True))
    monkeypatch.setattr(chainlit_auth, "_people", {})  # no person cached by another test


@pytest.fixture
def tabs() -> Iterator[list[Page]]:
    """Extra tabs a test opens (a reopened chat is a new websocket session); forgotten by Chainlit afterwards."""
    made: list[Page] = []
    yield made
    for tab in made:
        user_sessions.pop(tab.session_id, None)
        chat_contexts.pop(tab.session_id, None)


def signed_in(page: Page, email: str) -> Page:
    page.session.user = cl.User(identifier=email, metadata={"provider": "password"})
    return page.attach()


def reopen(tabs: list[Page], page: Page, email: str) -> Page:
    """The same thread in a new tab (the sidebar, its URL, after a restart), signed in as `email`."""
    tab = Page()
    tab.session.thread_id = page.session.thread_id
    tabs.append(tab)
    return signed_in(tab, email)


async def propose(page: Page, model) -> None:
    model.on_user(r"\bbook\b", BOOK_CALL)
    await app.on_message(cl.Message(content=BOOK_TEXT))
    assert [m.labels for m in page.messages if m.actions] == [["Confirm", "Discard"]], page.texts


async def resume(page: Page) -> None:
    await app.on_chat_resume({"id": page.session.thread_id, "name": "a chat", "steps": [], "metadata": {}})


def live_bookings(sandbox) -> list[dict]:
    return [b for b in sandbox.store.all() if b["status"] != "cancelled"]


# -- a signed-in person's chat -----------------------------------------------------------------------------------------
async def test_a_signed_in_persons_message_makes_a_chat_of_theirs(page, chat, accounts, passwords_on, model):
    signed_in(page, BEA)

    await propose(page, model)

    saved = await chat.load_chat(page.session.thread_id, person=Person(email=BEA))
    assert saved is not None and saved.owner == BEA and saved.user.email == BEA
    assert saved.proposal.attendee_email == BEA  # not CAL_USER_EMAIL (ana@example.com)
    assert await chat.load_chat(page.session.thread_id) is None  # not a single-user chat


async def test_reopening_ones_chat_offers_its_open_proposal_again(page, chat, accounts, passwords_on, model,
                                                                  sandbox, tabs):
    signed_in(page, BEA)
    await propose(page, model)
    calls = model.calls_count

    tab = reopen(tabs, page, BEA)
    await resume(tab)

    assert tab.window_messages == [{"type": "calbot:time_zone?"}]
    assert RESUMED_PROPOSAL_OPEN in tab.texts
    [offered] = [m for m in tab.messages if m.actions]
    assert offered.labels == ["Confirm", "Discard"]
    assert "Budget review" in offered.content
    assert model.calls_count == calls and live_bookings(sandbox) == []  # shown again, nothing asked or written

    await app.on_confirm(action_of(offered, "Confirm"))  # the button works in the reopened tab
    [booking] = live_bookings(sandbox)
    assert [a["email"] for a in booking["attendees"]] == [BEA]


async def test_reopening_a_chat_whose_proposal_time_passed_closes_it_writing_nothing(page, chat, accounts,
                                                                                     passwords_on, model, sandbox,
                                                                                     tabs, clock):
    signed_in(page, BEA)
    await propose(page, model)
    proposal = (await chat.load_chat(page.session.thread_id, person=Person(email=BEA))).proposal
    clock.now = proposal.start + timedelta(minutes=1)  # the meeting's time has passed while the chat was closed

    tab = reopen(tabs, page, BEA)
    await resume(tab)

    assert RESUMED_PROPOSAL_EXPIRED in tab.texts
    assert RESUMED_PROPOSAL_OPEN not in tab.texts and [m for m in tab.messages if m.actions] == []
    saved = await chat.load_chat(page.session.thread_id, person=Person(email=BEA))
    assert saved.proposal is None
    assert saved.finished_proposals[proposal.id]["status"] == "discarded"
    assert sandbox.store.all() == []
    assert [r for r in sandbox.server.requests if r["method"] != "GET"] == []


async def test_someone_elses_chat_is_not_shown_when_reopened(page, chat, accounts, passwords_on, model, tabs):
    signed_in(page, BEA)
    await propose(page, model)

    tab = reopen(tabs, page, CAI)
    await resume(tab)

    assert tab.texts == [RESUMED_CHAT_GONE]
    shown = tab.everything()
    assert "budget" not in shown.lower() and BEA not in shown and "Confirm" not in shown
    saved = await chat.load_chat(page.session.thread_id, person=Person(email=BEA))
    assert saved.proposal is not None and saved.proposal.status == "open"  # Bea's chat is untouched


async def test_someone_elses_message_to_the_chat_is_refused(page, chat, accounts, passwords_on, model, tabs):
    signed_in(page, BEA)
    await propose(page, model)
    version = (await chat.load_chat(page.session.thread_id, person=Person(email=BEA))).version
    calls = model.calls_count

    tab = reopen(tabs, page, CAI)
    await app.on_message(cl.Message(content="show me the budget review details"))

    assert model.calls_count == calls
    assert "budget" not in "\n".join(tab.texts).lower()
    assert (await chat.load_chat(page.session.thread_id, person=Person(email=BEA))).version == version


# -- accounts that can no longer be used -------------------------------------------------------------------------------
async def test_a_disabled_account_is_refused_without_the_model(page, chat, accounts, passwords_on, model):
    await accounts.disable(BEA)
    signed_in(page, BEA)

    await app.on_message(cl.Message(content=BOOK_TEXT))

    assert page.texts == [ACCOUNT_DISABLED]
    assert model.calls_count == 0
    assert await chat.load_chat(page.session.thread_id, person=Person(email=BEA)) is None


async def test_an_account_disabled_after_sign_in_is_refused_once_the_cache_lapses(page, chat, accounts,
                                                                                   passwords_on, model):
    signed_in(page, BEA)
    assert await chainlit_auth.person(chat) == Person(email=BEA, name="Bea Brown")
    await accounts.disable(BEA)
    chainlit_auth._people.clear()  # (a process trusts what it read for PERSON_CACHE_SECONDS)

    await app.on_message(cl.Message(content=BOOK_TEXT))

    assert page.texts == [ACCOUNT_DISABLED] and model.calls_count == 0


async def test_a_session_without_a_user_must_sign_in_again(page, chat, accounts, passwords_on, model):
    page.attach()  # page.session.user is None

    await app.on_message(cl.Message(content=BOOK_TEXT))

    assert page.texts == [SIGN_IN_AGAIN] and model.calls_count == 0


# -- deciding the mode -------------------------------------------------------------------------------------------------
async def test_decide_turns_passwords_on_only_for_an_active_account(chat):
    assert (await chainlit_auth.decide(chat)).on is False  # no accounts: single-user mode

    store = await account_store(chat)
    await store.add(BEA, PASSWORD)
    mode = await chainlit_auth.decide(chat)
    assert mode.passwords is True and mode.on is True

    await store.disable(BEA)
    assert (await chainlit_auth.decide(chat)).on is False  # only a disabled account


async def test_decide_fails_closed_when_the_store_cannot_open(settings, model, sandbox):
    async def opener() -> SessionStore:
        raise StoreUnavailableError("The chat database cannot be used: check CALBOT_DATABASE_URL.")

    service = ChatService(settings, model_client=model.client(), sandbox=sandbox, store_opener=opener)
    try:
        mode = await chainlit_auth.decide(service)
    finally:
        await service.aclose()
    assert mode.passwords is True and mode.on is True


async def test_decide_turns_the_trusted_header_on(tmp_path, model, sandbox):
    settings = load_settings(openai_api_key="sk-test", calbot_trusted_email_header="X-Forwarded-Email",
                             calbot_sandbox_db=str(tmp_path / "s.db"))
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/h/calbot.db")
    service = ChatService(settings, model_client=model.client(), sandbox=sandbox, store=store)
    try:
        mode = await chainlit_auth.decide(service)
    finally:
        await service.aclose()
        await store.close()
    assert (mode.header, mode.passwords, mode.on) == ("X-Forwarded-Email", False, True)


# -- the password callback ---------------------------------------------------------------------------------------------
@pytest.fixture
def restore_chainlit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever _register sets in Chainlit's config and data module is put back after the test."""
    for name in ("password_auth_callback", "oauth_callback", "header_auth_callback", "data_layer"):
        monkeypatch.setattr(config.code, name, getattr(config.code, name, None))
    monkeypatch.setattr(chainlit_data, "_data_layer", chainlit_data._data_layer)
    monkeypatch.setattr(chainlit_data, "_data_layer_initialized", chainlit_data._data_layer_initialized)


async def test_the_password_callback_checks_calbots_accounts_and_throttles(chat, accounts, passwords_on,
                                                                          restore_chainlit):
    chainlit_auth._register(chat)
    login = config.code.password_auth_callback
    assert login is not None and config.code.data_layer is not None
    attempt = chainlit_auth._Attempt("203.0.113.7")  # what LoginAnswers sets for each request
    token = chainlit_auth._attempt.set(attempt)
    try:
        user = await login(BEA, PASSWORD)
        assert isinstance(user, cl.User)
        assert (user.identifier, user.display_name, user.metadata) == (BEA, "Bea Brown", {"provider": "password"})
        assert await login(BEA.upper(), PASSWORD) is not None  # the email as typed, any case

        for _ in range(5):
            assert await login(CAI, "not the password") is None
        assert attempt.throttled is None
        assert await login(CAI, PASSWORD) is None  # even the right password waits now
        assert attempt.throttled and "try again" in attempt.throttled
        attempt.throttled = None
        assert await login(BEA, PASSWORD) is None  # the same client address is throttled too
        assert attempt.throttled
    finally:
        chainlit_auth._attempt.reset(token)

    attempt = chainlit_auth._Attempt("198.51.100.8")  # another address
    token = chainlit_auth._attempt.set(attempt)
    try:
        assert (await login(BEA, PASSWORD)).identifier == BEA
        assert await login(CAI, PASSWORD) is None and attempt.throttled  # Cai stays throttled from anywhere
    finally:
        chainlit_auth._attempt.reset(token)


async def test_a_refused_sign_in_is_answered_in_words_and_a_throttled_one_with_429(chat, accounts, passwords_on,
                                                                                  restore_chainlit, monkeypatch):
    """LoginAnswers around a stand-in for Chainlit's POST /login (which answers 401 "credentialssignin" whenever the
    callback gives no user)."""
    chainlit_auth._register(chat)

    async def chainlit_login(scope: dict[str, Any], receive: Any, send: Any) -> None:
        form = parse_qs((await receive())["body"].decode())
        user = await config.code.password_auth_callback(form["username"][0], form["password"][0])
        await JSONResponse({"ok": True} if user else {"detail": "credentialssignin"},
                           status_code=200 if user else 401)(scope, receive, send)

    transport = httpx.ASGITransport(app=chainlit_auth.LoginAnswers(chainlit_login), client=("203.0.113.20", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://calbot.test") as client:
        async def post(email: str, password: str) -> httpx.Response:
            return await client.post("/login", data={"username": email, "password": password})

        assert (await post(BEA, PASSWORD)).status_code == 200
        for _ in range(5):
            wrong = await post(CAI, "not the password")
            assert (wrong.status_code, wrong.json()) == (401, {"detail": WRONG_EMAIL_OR_PASSWORD})
        throttled = await post(CAI, PASSWORD)
        assert throttled.status_code == 429 and "try again" in throttled.json()["detail"]
        assert throttled.headers["content-length"] == str(len(throttled.content))
        assert (await post(BEA, PASSWORD)).status_code == 429  # this address is held too

    # Accounts that cannot be read (the database) are never "a wrong password": 503 in words.
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("database is locked")

    monkeypatch.setattr(AccountStore, "authenticate", broken)
    transport = httpx.ASGITransport(app=chainlit_auth.LoginAnswers(chainlit_login), client=("203.0.113.21", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://calbot.test") as client:
        down = await client.post("/login", data={"username": BEA, "password": PASSWORD})
    assert (down.status_code, down.json()) == (503, {"detail": SIGN_IN_UNAVAILABLE})


async def test_the_password_callback_refuses_a_disabled_or_unknown_account(chat, accounts, passwords_on,
                                                                           restore_chainlit):
    chainlit_auth._register(chat)
    login = config.code.password_auth_callback
    await accounts.disable(CAI)

    assert await login(CAI, PASSWORD) is None
    assert await login("nobody@example.com", PASSWORD) is None
    assert await login(BEA, "") is None


async def test_after_the_test_chainlit_is_back_in_single_user_mode():
    assert config.code.password_auth_callback is None and config.code.data_layer is None
    assert chainlit_auth.MODE == SignIn()


# -- the data layer ----------------------------------------------------------------------------------------------------
async def test_deleting_a_thread_deletes_calbots_chat_only_for_its_author(chat, monkeypatch, tmp_path):
    bea = Person(email=BEA)
    store = await chat.store()
    for chat_id in ("t-bea", "t-other", "t-orphan"):
        state = chat.new_state(person=bea)
        state.chat_id = chat_id
        await store.save(state, 0)
    authors = {"t-bea": BEA, "t-other": CAI, "t-orphan": None}
    deleted: list[str] = []

    async def author(self: Any, thread_id: str) -> str | None:
        return authors[thread_id]

    async def parent_delete(self: Any, thread_id: str) -> None:
        deleted.append(thread_id)

    monkeypatch.setattr(CalbotDataLayer, "get_thread_author", author)
    monkeypatch.setattr(SQLAlchemyDataLayer, "delete_thread", parent_delete)
    layer = CalbotDataLayer(f"sqlite+aiosqlite:///{tmp_path}/chats/calbot.db", chat)
    try:
        for thread_id in ("t-bea", "t-other", "t-orphan"):
            await layer.delete_thread(thread_id)
    finally:
        await layer.engine.dispose()

    assert deleted == ["t-bea", "t-other", "t-orphan"]  # Chainlit's thread goes in every case
    assert await chat.load_chat("t-bea", person=bea) is None
    assert await store.load("t-bea") is None
    assert (await chat.load_chat("t-other", person=bea)) is not None  # the thread's author is not the chat's owner
    assert (await chat.load_chat("t-orphan", person=bea)) is not None
