"""The REST API in the real app: `chainlit run app.py` (testing/processes.py), the scripted model server, the
embedded sandbox calendar. /api/v1 answers beside the page and neither shadows the other; the README's curl session
(README_SESSION, run with bash and curl as written, only the address changed) books through the API; the origin
guard still refuses a foreign page that sends a token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from calbot.sandbox import Sandbox
from testing.openai_fake import ModelServer, ScriptedModel, call, say
from testing.processes import ROOT, chainlit_app

USER = "you@example.com"

# The README's API section runs this (with CALBOT_URL set to the app's address).
README_SESSION = r"""
CALBOT_URL=${CALBOT_URL:-http://localhost:8000}
TOKEN=$(python -m calbot tokens create you@example.com --name curl | head -n 1)
AUTH="Authorization: Bearer $TOKEN"

curl -s "$CALBOT_URL/api/v1/health"

curl -s -X POST "$CALBOT_URL/api/v1/chats" -H "$AUTH" -H "Content-Type: application/json" \
  -d '{"message": "Book 30 minutes next Tuesday at 11am about the roadmap", "time_zone": "Europe/Berlin"}' \
  | tee turn.json
CHAT=$(python -c 'import json; print(json.load(open("turn.json"))["chat_id"])')
PROPOSAL=$(python -c 'import json; print(json.load(open("turn.json"))["proposal"]["id"])')

curl -s -X POST "$CALBOT_URL/api/v1/chats/$CHAT/proposals/$PROPOSAL/confirm" -H "$AUTH"

curl -s -N -X POST "$CALBOT_URL/api/v1/chats/$CHAT/messages" -H "$AUTH" -H "Content-Type: application/json" \
  -H "Accept: text/event-stream" -d '{"message": "Show my meetings next week"}'

curl -s "$CALBOT_URL/api/v1/chats" -H "$AUTH"
curl -s "$CALBOT_URL/api/v1/chats/$CHAT" -H "$AUTH"
curl -s -o /dev/null -w "%{http_code}\n" -X DELETE "$CALBOT_URL/api/v1/chats/$CHAT" -H "$AUTH"
"""


def next_tuesday(today: date) -> date:
    return today + timedelta(days=(1 - today.weekday()) % 7 or 7)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ScriptedModel, Path]]:
    if shutil.which("curl") is None:
        pytest.skip("curl is needed to run the README's session")
    home = tmp_path_factory.mktemp("api-app")
    model = ScriptedModel()
    tuesday = next_tuesday(date.today())
    model.on_user("Book 30 minutes", call("book_meeting", start=f"{tuesday}T11:00", reason="roadmap",
                                          duration_minutes=30))
    model.on_user("Show my meetings", call("list_meetings", from_date=str(tuesday - timedelta(days=1)),
                                           to_date=str(tuesday + timedelta(days=5))))
    model.on_tool_result("list_meetings", say("Here are your meetings next week."))
    with ModelServer(model) as server:
        settings = {"OPENAI_API_KEY": "sk-api-test", "OPENAI_BASE_URL": server.base_url, "OPENAI_MODEL": "scripted",
                    "CAL_USER_EMAIL": USER, "CAL_USER_NAME": "You", "CALBOT_SANDBOX_DB": str(home / "sandbox.db"),
                    "CALBOT_DATABASE_URL": f"sqlite+aiosqlite:///{home}/calbot.db",
                    "CHAINLIT_ENV_FILE": str(home / "no.env")}
        with chainlit_app(settings, home / "app.log") as url:
            yield url, model, home


def test_the_api_and_the_page_side_by_side(app) -> None:
    url, _, _ = app
    health = httpx.get(f"{url}/api/v1/health", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok", "calendar": "sandbox", "store": "ok"}
    document = httpx.get(f"{url}/api/v1/openapi.json", timeout=10).json()
    assert "/chats/{chat_id}/proposals/{proposal_id}/confirm" in document["paths"]
    docs = httpx.get(f"{url}/api/v1/docs", timeout=10)
    assert docs.status_code == 200 and "/api/v1/openapi.json" in docs.text
    page = httpx.get(f"{url}/", timeout=10)
    assert page.status_code == 200 and "<title>calbot</title>" in page.text.replace("\n", "")
    assert httpx.get(f"{url}/thread/some-id", timeout=10).text == page.text  # the page's own routes still answer
    assert httpx.get(f"{url}/health", timeout=10).json() == {"status": "ok"}  # Chainlit's
    unknown = httpx.get(f"{url}/api/v1/nothing", timeout=10)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"


def test_a_foreign_page_cannot_use_a_token(app) -> None:
    url, _, _ = app
    refused = httpx.get(f"{url}/api/v1/chats", timeout=10, headers={
        "Authorization": "Bearer calbot_anything", "Origin": "https://evil.example"})
    assert refused.status_code == 403


def test_the_readme_session_books_through_the_api(app, tmp_path: Path) -> None:
    url, _, home = app
    settings = {"CALBOT_DATABASE_URL": f"sqlite+aiosqlite:///{home}/calbot.db", "CAL_USER_EMAIL": USER}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALBOT_", "CAL_", "OPENAI_"))}
    env.update(settings, CALBOT_URL=url, PYTHONPATH=str(ROOT),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    run = subprocess.run(["bash", "-e", "-c", README_SESSION], check=False, cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert '{"status":"ok","calendar":"sandbox","store":"ok"}' in out
    turn = json.loads((tmp_path / "turn.json").read_text())
    tuesday = next_tuesday(date.today())
    start = datetime(tuesday.year, tuesday.month, tuesday.day, 11, tzinfo=ZoneInfo("Europe/Berlin"))
    assert turn["proposal"]["action"] == "book" and turn["proposal"]["start"] == start.isoformat()
    assert '"status":"booked"' in out and "event: tool_started" in out and "event: done" in out
    assert "Here are your meetings next week." in out and out.rstrip().endswith("204")
    sandbox = Sandbox.open(str(home / "sandbox.db"))
    try:
        booked = [b for b in sandbox.store.all() if b["status"] == "accepted"]
    finally:
        sandbox.close()
    assert len(booked) == 1 and booked[0]["attendees"][0]["email"] == USER


def test_the_readme_holds_the_session_this_file_runs() -> None:
    """The README's curl session is this file's README_SESSION, line for line (so what the README shows is what ran)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## REST API", 1)[1].split("```bash\n")[2].split("```", 1)[0]
    shown = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    ran = [line for line in README_SESSION.splitlines() if line.strip()]
    assert shown == ran
