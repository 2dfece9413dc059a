"""Browser tests: the real app (`env -u CI chainlit run app.py -h --port <free port>`) driven by Debian's Chromium
through Python Playwright, with the scripted model server (tests/fakes/openai_fake.py) in this process and the
built-in sandbox calendar (a fresh SQLite file) behind the app. Nothing here reaches the internet.

On failure a test leaves a screenshot and the page text under artifacts/e2e/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai_fake import ModelServer, ScriptedModel

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = os.environ.get("CALBOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
USER_EMAIL = "ana@example.com"
USER_NAME = "Ana Diaz"

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium when run as root",
                allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class App:
    url: str
    model: ScriptedModel
    sandbox_db: Path
    log: Path


@pytest.fixture(scope="session")
def scripted_model() -> Iterator[tuple[ScriptedModel, ModelServer]]:
    model = ScriptedModel()
    with ModelServer(model) as server:
        yield model, server


@pytest.fixture(scope="session")
def app_server(scripted_model, tmp_path_factory) -> Iterator[App]:
    """`chainlit run app.py` as a user runs it, with no CAL_API_KEY (so the sandbox calendar) and the scripted model."""
    model, server = scripted_model
    home = tmp_path_factory.mktemp("app")
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k != "CI" and not k.startswith(("CAL_", "CALBOT_", "OPENAI_", "CHAINLIT_"))}
    env.update(OPENAI_API_KEY="sk-e2e", OPENAI_BASE_URL=server.base_url, OPENAI_MODEL="scripted",
               CALBOT_SANDBOX_DB=str(home / "sandbox.db"), CAL_USER_EMAIL=USER_EMAIL, CAL_USER_NAME=USER_NAME,
               CHAINLIT_ENV_FILE=str(home / "no.env"))
    log = home / "app.log"
    chainlit = ROOT / ".venv" / "bin" / "chainlit"
    command = [str(chainlit) if chainlit.exists() else shutil.which("chainlit") or "chainlit",
               "run", "app.py", "-h", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"chainlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"chainlit did not answer /health in 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield App(url, model, home / "sandbox.db", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


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
    """page_in(time_zone) -> a new page in a browser context whose clock zone is `time_zone`."""
    contexts = []

    def open_page(time_zone: str):
        context = browser.new_context(timezone_id=time_zone, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(app_server.url)
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
        shutil.copy(app_server.log, ARTIFACTS / f"{request.node.name}-app.log")
    for context in contexts:
        context.close()
