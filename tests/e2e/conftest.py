"""Browser tests: the real app (`env -u CI chainlit run app.py -h --port <free port>`) driven by Debian's Chromium
through Python Playwright, with the scripted model server (testing/openai_fake.py) in this process and the
built-in sandbox calendar (a fresh SQLite file) behind the app. Nothing here reaches the internet.

Fixtures:
- `app_server` (session): the app with no CAL_API_KEY, so its embedded sandbox calendar in `app_server.sandbox_db`.
- `calendar` (session): that same SQLite file opened from this process (`calbot.sandbox.Sandbox.open`, WAL), to seed
  bookings the app sees at once (it caches nothing about bookings).
- `failing_calendar` / `failing_app` (module): a standalone `python -m calbot.sandbox --test-hooks` and a second app
  pointed at it (CAL_API_BASE_URL + CAL_API_KEY), so tests can inject faults through POST /_sandbox/faults.
- `browser` (module) and `page_in(time_zone, app=None)`: a new chat in a fresh browser context in that zone; it
  returns once the app has asked for the browser's zone and public/calbot.js has answered.

On failure a test leaves a screenshot and the page text under artifacts/e2e/ (git-ignored), with the app's log.
The embedded sandbox applies Cal.com's limit of 120 requests a minute; the whole folder makes about 50, so a test
that needs many more belongs on a standalone sandbox started with --rate-limit 0 (as `failing_calendar` is).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from calbot.sandbox import SANDBOX_API_KEY, Sandbox
from tests.e2e.helpers import USER_EMAIL, USER_NAME
from testing.openai_fake import ModelServer, ScriptedModel
from testing.processes import ROOT, chainlit_app, free_port, stop, wait_healthy

ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = os.environ.get("CALBOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Watches the page's window messages: set once the app asked for the zone ("calbot:time_zone?", sent at chat start)
# and public/calbot.js answered after that. Chainlit forwards every window message to the server in order, so a
# message typed after this is handled with the browser's zone.
ZONE_WATCH = """
(() => {
  let asked = false;
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (!data || typeof data !== "object") return;
    if (data.type === "calbot:time_zone?") asked = true;
    else if (data.type === "calbot:time_zone" && asked) window.__calbotZoneSent = data.time_zone;
  });
})();
"""

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium when run as root",
                allow_module_level=True)


@dataclass
class App:
    url: str
    model: ScriptedModel
    sandbox_db: Path | None  # the embedded sandbox's file; None when the app uses a Cal.com (standalone) URL
    log: Path


@contextmanager
def _run_app(model: ScriptedModel, server: ModelServer, home: Path, **settings: str) -> Iterator[App]:
    """`chainlit run app.py` as a user runs it, with the scripted model and `settings` as its environment."""
    log = home / "app.log"
    with chainlit_app({"OPENAI_API_KEY": "sk-e2e", "OPENAI_BASE_URL": server.base_url, "OPENAI_MODEL": "scripted",
                       "CAL_USER_EMAIL": USER_EMAIL, "CAL_USER_NAME": USER_NAME,
                       "CHAINLIT_ENV_FILE": str(home / "no.env"), **settings}, log) as url:
        db = Path(settings["CALBOT_SANDBOX_DB"]) if "CALBOT_SANDBOX_DB" in settings else None
        yield App(url, model, db, log)


@pytest.fixture(scope="session")
def scripted_model() -> Iterator[tuple[ScriptedModel, ModelServer]]:
    model = ScriptedModel()
    with ModelServer(model) as server:
        yield model, server


@pytest.fixture(scope="session")
def app_server(scripted_model, tmp_path_factory) -> Iterator[App]:
    """The app with no CAL_API_KEY (so the embedded sandbox calendar in a fresh SQLite file)."""
    model, server = scripted_model
    home = tmp_path_factory.mktemp("app")
    with _run_app(model, server, home, CALBOT_SANDBOX_DB=str(home / "sandbox.db")) as app:
        yield app


@pytest.fixture(scope="session")
def calendar(app_server) -> Iterator[Sandbox]:
    """The app's sandbox calendar file, opened from this process to seed bookings (the app sees them at once)."""
    sandbox = Sandbox.open(app_server.sandbox_db)
    yield sandbox
    sandbox.close()


@dataclass
class Standalone:
    url: str  # http://127.0.0.1:P (the /_sandbox/* hooks are here)
    db: Path
    log: Path

    @property
    def api(self) -> str:
        return f"{self.url}/v2"

    def fault(self, **spec) -> None:
        """Make the next matching request(s) fail: method, path (regex), count, status, message, delay, drop."""
        response = httpx.post(f"{self.url}/_sandbox/faults", json=spec, timeout=10)
        assert response.status_code == 201, response.text

    def clear_faults(self) -> None:
        assert httpx.delete(f"{self.url}/_sandbox/faults", timeout=10).status_code == 200

    def requests(self) -> list[tuple[str, str, int]]:
        answer = httpx.get(f"{self.url}/_sandbox/requests", timeout=10).json()["requests"]
        return [(r["method"], r["path"], r["status"]) for r in answer]


@pytest.fixture(scope="module")
def failing_calendar(tmp_path_factory) -> Iterator[Standalone]:
    """`python -m calbot.sandbox --test-hooks` on a free port: a Cal.com stand-in that fails on request."""
    home = tmp_path_factory.mktemp("standalone")
    port = free_port()
    db, log = home / "sandbox.db", home / "sandbox.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "calbot.sandbox", "--port", str(port), "--db", str(db),
                                    "--test-hooks", "--rate-limit", "0"],
                                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log, "the standalone sandbox", timeout=30)
        yield Standalone(url, db, log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def failing_app(scripted_model, failing_calendar, tmp_path_factory) -> Iterator[App]:
    """A second app, configured as for Cal.com but pointed at the standalone sandbox."""
    model, server = scripted_model
    home = tmp_path_factory.mktemp("failing-app")
    with _run_app(model, server, home, CAL_API_KEY=SANDBOX_API_KEY, CAL_API_BASE_URL=failing_calendar.api) as app:
        yield app


@pytest.fixture(scope="module")
def browser():
    # Module scope on purpose: Playwright's sync API keeps an event loop current while it runs, which breaks the
    # pytest-asyncio tests that come after; it must be stopped before the next module starts.
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash.setdefault(_FAILED, []).append(report.failed)


_FAILED = pytest.StashKey[list]()


@pytest.fixture
def page_in(browser, request, app_server):
    """page_in(time_zone, app=None) -> a new chat page (on `app`, default the sandbox app) in a browser context
    whose clock zone is `time_zone`, returned once calbot.js has sent that zone to the app."""
    contexts = []
    logs: dict[str, Path] = {}

    def open_page(time_zone: str, app: App | None = None):
        app = app or app_server
        logs[app.url] = app.log
        context = browser.new_context(timezone_id=time_zone, viewport={"width": 1280, "height": 900})
        context.add_init_script(ZONE_WATCH)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(app.url)
        page.locator("#starter-book-a-meeting").wait_for()
        page.wait_for_function("window.__calbotZoneSent !== undefined")
        return page

    yield open_page
    if any(request.node.stash.get(_FAILED, [])):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for number, context in enumerate(contexts):
            for page in context.pages:
                stem = ARTIFACTS / f"{request.node.name}-{number}"
                try:
                    page.screenshot(path=f"{stem}.png", full_page=True)
                    stem.with_suffix(".txt").write_text(page.locator("body").inner_text())
                except Exception:  # noqa: BLE001 - artifacts are best effort
                    pass
        for number, log in enumerate(logs.values()):
            shutil.copy(log, ARTIFACTS / f"{request.node.name}-app{number or ''}.log")
    for context in contexts:
        context.close()
