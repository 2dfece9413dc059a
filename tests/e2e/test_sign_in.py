"""Sign-in and saved chats in the browser (issue 17): the real app with two password accounts made by
`python -m calbot users add`, its own chat database and sandbox calendar, and the scripted model.

- a wrong password is refused with one generic sentence; the right one opens the chat;
- Ana books a meeting; after a reload her chat is in the sidebar and reopens with its history; the app process is
  stopped and started again, the chat reopens from its URL and continues: her meetings are listed and one is
  cancelled with Confirm (exactly one cancel reaches the calendar);
- a page on another port of the same host (same site: the cookie goes along) can neither read nor act as the
  signed-in person; the same script from calbot's own origin can (the control);
- Ben, signed in in another browser, does not see Ana's chat in his sidebar, gets nothing of it at its URL, his
  meetings do not include hers, and he cannot delete it; Ana deletes it and calbot's chat goes with it; Ben signs out
  and is back at the sign-in form.
The booking day is weekday(2) in this app's own sandbox file (no other test books there).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, ZONE_WATCH
from tests.e2e.helpers import NEW_YORK, bookings, local_day, send, shown, weekday
from tests.e2e.test_origin import CHAT_JS, _attacker_page, _chat
from testing.openai_fake import call, say
from testing.processes import ROOT, chainlit_process

ANA, BEN = "ana@example.com", "ben@example.com"
PASSWORDS = {ANA: "ana-long-password", BEN: "ben-long-password"}
SECRET = "e2e-sign-in-secret-0123456789abcdef0123456789abcdef"


@dataclass
class SignInApp:
    home: Path
    settings: dict[str, str]
    stack: ExitStack = field(default_factory=ExitStack)
    url: str = ""
    log: Path | None = None

    def start(self, name: str) -> None:
        self.log = self.home / f"{name}.log"
        self.url, _ = self.stack.enter_context(chainlit_process(self.settings, self.log))

    def restart(self) -> None:
        self.stack.close()
        self.stack = ExitStack()
        self.start("app-restarted")


def _add_account(settings: dict[str, str], email: str, name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALBOT_", "CAL_", "OPENAI_"))}
    env.update(settings)
    added = subprocess.run([sys.executable, "-m", "calbot", "users", "add", email, "--name", name], check=False,
                           cwd=ROOT, env=env, input=PASSWORDS[email] + "\n", capture_output=True, text=True,
                           timeout=60)
    assert added.returncode == 0, added.stderr


@pytest.fixture(scope="module")
def sign_in_app(scripted_model, tmp_path_factory) -> Iterator[SignInApp]:
    model, server = scripted_model
    home = tmp_path_factory.mktemp("sign-in")
    settings = {"OPENAI_API_KEY": "sk-e2e", "OPENAI_BASE_URL": server.base_url, "OPENAI_MODEL": "scripted",
                "CALBOT_DATABASE_URL": f"sqlite+aiosqlite:///{home}/calbot.db",
                "CALBOT_SANDBOX_DB": str(home / "sandbox.db"), "CHAINLIT_AUTH_SECRET": SECRET,
                "CHAINLIT_ENV_FILE": str(home / "no.env")}
    _add_account(settings, ANA, "Ana Diaz")
    _add_account(settings, BEN, "Ben Okafor")
    app = SignInApp(home, settings)
    app.start("app")
    try:
        yield app
    finally:
        app.stack.close()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium):
    contexts = []

    def open_page():
        context = chromium.new_context(timezone_id=NEW_YORK, viewport={"width": 1280, "height": 900})
        context.add_init_script(ZONE_WATCH)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page, url: str, email: str, password: str) -> None:
    page.goto(url)
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("button[type=submit]").click()


def signed_in(page) -> None:
    page.locator("#starter-book-a-meeting").wait_for()
    page.wait_for_function("window.__calbotZoneSent !== undefined")


def sidebar_links(page):
    links = page.locator("#thread-history a")
    return links


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(sign_in_app, new_page):
    page = new_page()
    sign_in(page, sign_in_app.url, ANA, "not-the-password")
    shown(page, "Wrong email or password")
    assert page.locator("#chat-input").count() == 0
    sign_in(page, sign_in_app.url, ANA, PASSWORDS[ANA])
    signed_in(page)


def test_an_account_added_while_the_app_runs_can_sign_in_at_once(sign_in_app, new_page):
    PASSWORDS["cy@example.com"] = "cy-long-password"
    _add_account(sign_in_app.settings, "cy@example.com", "Cy Park")  # the users command, beside the running app
    page = new_page()
    sign_in(page, sign_in_app.url, "cy@example.com", PASSWORDS["cy@example.com"])
    signed_in(page)


def test_a_saved_chat_reopens_after_a_reload_and_a_restart_and_stays_private(sign_in_app, scripted_model,
                                                                            new_page):
    model, _ = scripted_model
    model.reset()
    app = sign_in_app
    day = weekday(2)
    model.on_user(r"budget", call("book_meeting", start=f"{day.isoformat()}T10:00", reason="Budget review"))
    model.on_tool_result("book_meeting", say("Here is the meeting; press Confirm to book it."))

    ana = new_page()
    sign_in(ana, app.url, ANA, PASSWORDS[ANA])
    signed_in(ana)
    send(ana, f"Book me 30 minutes on {local_day(day)} at 10am about the budget")
    ana.get_by_role("button", name="Confirm").click()
    shown(ana, "Booked:")
    (uid,) = [row.uid for row in bookings(app.home / "sandbox.db").values() if row.status == "accepted"]
    assert bookings(app.home / "sandbox.db")[uid].attendee == ANA  # the signed-in email is the attendee

    # Reload: a new chat opens; the saved one is in the sidebar and reopens with its history.
    ana.goto(app.url)
    signed_in(ana)
    link = sidebar_links(ana).filter(has_text="Book me 30 minutes")
    link.wait_for()
    thread_url = link.get_attribute("href")
    assert thread_url and re.fullmatch(r"/thread/[0-9a-f-]{36}", thread_url)
    link.click()
    shown(ana, "Booked:")
    assert "Book me 30 minutes" in ana.locator("body").inner_text()

    # Restart the app: the chat reopens from its URL and continues.
    app.restart()
    model.on_user(r"show my meetings", call("list_meetings"))
    model.on_tool_result("list_meetings", say("Those are your meetings."))
    model.on_user(r"cancel it", call("cancel_meeting", booking_uid=uid))
    model.on_tool_result("cancel_meeting", say("Press Confirm to cancel it."))
    ana.goto(app.url + thread_url)
    shown(ana, "Booked:")
    send(ana, "show my meetings")
    shown(ana, "Those are your meetings.")
    assert "Budget review" in ana.locator("body").inner_text()
    send(ana, "cancel it")
    ana.get_by_role("button", name="Confirm").last.click()
    shown(ana, "Cancelled:")
    rows = bookings(app.home / "sandbox.db")
    assert rows[uid].status == "cancelled"
    assert [row.status for row in rows.values()].count("cancelled") == 1

    # Ben sees nothing of Ana's chat or meetings.
    model.reset()
    model.on_user(r"my meetings please", call("list_meetings"))
    model.on_tool_result("list_meetings", say("Here is what you have."))
    ben = new_page()
    sign_in(ben, app.url, BEN, PASSWORDS[BEN])
    signed_in(ben)
    assert sidebar_links(ben).filter(has_text="Book me 30 minutes").count() == 0
    ben.goto(app.url + thread_url)
    ben.wait_for_timeout(1500)
    text = ben.locator("body").inner_text()
    assert "Budget review" not in text and "Booked:" not in text and "Book me 30 minutes" not in text
    ben.goto(app.url)
    signed_in(ben)
    send(ben, "my meetings please")
    shown(ben, "Here is what you have.")
    assert "Budget review" not in ben.locator("body").inner_text()

    # Deleting a chat: Ben cannot delete Ana's; Ana can, and calbot's chat of that id goes with it.
    thread_id = thread_url.rsplit("/", 1)[1]
    assert ben.evaluate(DELETE_THREAD, thread_id)["status"] in (401, 403, 404)
    assert stored_chat(app, thread_id)
    ana.goto(app.url)
    signed_in(ana)
    assert ana.evaluate(DELETE_THREAD, thread_id)["status"] == 200
    assert not stored_chat(app, thread_id)
    ana.reload()
    signed_in(ana)
    ana.wait_for_timeout(1000)
    assert sidebar_links(ana).filter(has_text="Book me 30 minutes").count() == 0

    # Sign out: back at the sign-in form.
    ben.locator("#user-nav-button").click()
    ben.get_by_text("Logout").click()
    ben.locator("input[name=password]").wait_for()


@contextmanager
def attacker_site(app_url: str) -> Iterator[str]:
    page = _attacker_page(app_url)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


DELETE_THREAD = """async (threadId) => {
  const r = await fetch("/project/thread", {method: "DELETE", credentials: "include",
    headers: {"content-type": "application/json"}, body: JSON.stringify({threadId})});
  return {status: r.status};
}"""


def stored_chat(app: SignInApp, chat_id: str) -> bool:
    """Whether calbot's session store still holds the chat (its SQLite file, read directly)."""
    with closing(sqlite3.connect(app.home / "calbot.db")) as db:
        return db.execute("SELECT 1 FROM chat_sessions WHERE chat_id = ?", (chat_id,)).fetchone() is not None


READ_THREADS = """async ([app, type]) => {
  try {
    const r = await fetch(app + "/project/threads", {method: "POST", credentials: "include",
      headers: {"content-type": type}, body: JSON.stringify({pagination: {first: 20}, filter: {}})});
    return {status: r.status, body: (await r.text()).slice(0, 2000)};
  } catch (e) {
    return {error: String(e)};
  }
}"""


def test_another_port_cannot_use_the_signed_in_cookie(sign_in_app, scripted_model, new_page):
    model, _ = scripted_model
    model.reset()
    model.on_user(r"^what can you do", say("I book, list, cancel and move your meetings."))
    app = sign_in_app
    ana = new_page()
    sign_in(ana, app.url, ANA, PASSWORDS[ANA])
    signed_in(ana)
    with attacker_site(app.url) as attacker:
        evil = ana.context.new_page()
        evil.goto(attacker + "/")
        attack = _chat(evil, app.url, "what can you do")
        assert not attack["socketOpened"] and attack["events"] == [], attack
        stolen = evil.evaluate(READ_THREADS, [app.url, "text/plain"])  # a simple request: no preflight
        assert "error" in stolen, stolen
        assert model.calls_count == 0

        # The control: calbot's own origin, with the same cookie, can chat and read the person's chats.
        own = ana.context.new_page()
        own.goto(app.url + "/health")
        own.add_script_tag(content=CHAT_JS)
        chat = _chat(own, app.url, "what can you do")
        assert chat["socketOpened"] and "task_end" in chat["events"], chat
        assert model.calls_count == 1
        listed = own.evaluate(READ_THREADS, [app.url, "application/json"])
        assert listed["status"] == 200, listed
    log = app.log.read_text()
    assert f"(foreign origin; Origin '{attacker}'" in log  # refused by calbot's guard, not only by the browser
