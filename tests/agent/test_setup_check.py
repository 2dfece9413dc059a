"""`python -m calbot check` (calbot/setup_check.py, issue 19): every part tried for real, a ✓ or a ✗ with the sentence
that says what to fix, nothing written to the calendar; exit status 0 only when all pass. On the sandbox and the
scripted model server, in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from calbot.config import load_settings
from calbot.setup_check import render, run_checks
from testing.openai_fake import MODEL_ID, ScriptedModel, call, fail, say

ROOT = Path(__file__).resolve().parents[2]


def settings(**overrides):
    values = {"openai_api_key": "sk-check", "openai_model": MODEL_ID, "calbot_timezone": "Europe/Berlin"}
    values.update(overrides)
    return load_settings(**values)


def by_name(checks):
    return {c.name: c for c in checks}


async def test_a_ready_setup_passes_every_check_and_writes_nothing(tmp_path):
    model = ScriptedModel()
    model.on_user("setup check", call("ping", ok=True))

    checks = await run_checks(settings(), model_client=model.client())

    assert [c.name for c in checks] == ["settings", "database", "calendar", "event types", "free times", "bookings",
                                        "model", "tool calling"]
    assert all(c.ok for c in checks), render(checks)
    found = by_name(checks)
    assert "sandbox calendar" in found["calendar"].detail
    assert "1001 30min (30 min)" in found["event types"].detail and "1002 60min (60 min)" in found["event types"].detail
    assert (tmp_path / ".calbot" / "calbot.db").exists()  # the database was made and migrated
    assert render(checks).endswith("all checks passed")
    assert model.requests[-1].tools[0]["function"]["name"] == "ping"


async def test_a_model_that_does_not_call_tools_is_named(tmp_path):
    model = ScriptedModel()
    model.on_user("setup check", say("Pong!"))
    found = by_name(await run_checks(settings(), model_client=model.client()))
    assert found["model"].ok and not found["tool calling"].ok
    assert "tool (function) calling" in found["tool calling"].detail


async def test_a_model_the_server_does_not_offer_is_named(tmp_path):
    model = ScriptedModel()
    found = by_name(await run_checks(settings(openai_model="llama-9000"), model_client=model.client()))
    assert not found["model"].ok
    assert "OPENAI_MODEL=llama-9000" in found["model"].detail and MODEL_ID in found["model"].detail


async def test_a_refused_key_says_what_to_fix_without_quoting_the_server(tmp_path):
    model = ScriptedModel()
    model.on_user("setup check", fail(401, "Incorrect API key provided: sk-che***"))
    found = by_name(await run_checks(settings(), model_client=model.client(max_retries=0)))
    assert found["model"].ok and not found["tool calling"].ok  # listed, but the request was refused
    sentence = found["tool calling"].detail
    assert "OPENAI_API_KEY" in sentence and "sk-che" not in sentence


async def test_no_key_no_calendar_and_no_database_each_get_their_sentence(tmp_path):
    checks = await run_checks(settings(openai_api_key=None, cal_api_key="cal_test_abc",
                                       cal_api_base_url="http://127.0.0.1:1/v2",
                                       calbot_database_url="postgresql+asyncpg://calbot:s3cret-pw@127.0.0.1:1/x"))
    found = by_name(checks)
    assert not found["settings"].ok and "OPENAI_API_KEY" in found["settings"].detail
    assert not found["database"].ok and "CALBOT_DATABASE_URL" in found["database"].detail
    assert "s3cret-pw" not in render(checks)
    assert not found["calendar"].ok and "event types" not in found  # no account, no further calendar checks
    assert not found["model"].ok and "OPENAI_API_KEY is not set" in found["model"].detail
    assert "check(s) failed" in render(checks)


def test_the_command_prints_json_and_fails_without_a_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CAL_", "CALBOT_", "CHAINLIT_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "calbot.setup_check", "--json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is False
    names = {c["name"]: c["ok"] for c in report["checks"]}
    assert names["database"] is True and names["calendar"] is True and names["model"] is False


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # .calbot/ (the chat database, the sandbox calendar) goes here
