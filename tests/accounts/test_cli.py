"""`python -m calbot users ...` end to end in subprocesses, in a fresh directory where the app never ran: add, list,
passwd, disable, remove and every error; the password never on argv and never echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-horse-battery"


def run(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALBOT_", "CAL_", "OPENAI_"))}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL="postgresql://must-not-be-used/x")
    return subprocess.run([sys.executable, "-m", "calbot", "users", *args], check=False, cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_the_whole_life_of_an_account_in_a_fresh_directory(tmp_path: Path) -> None:
    added = run(tmp_path, "add", "Ana@Example.com", "--name", "Ana", "--timezone", "US/Eastern", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added ana@example.com"
    assert (tmp_path / ".calbot" / "calbot.db").exists()
    listed = run(tmp_path, "list")
    assert listed.returncode == 0
    assert "ana@example.com\tAna\tAmerica/New_York\t" in listed.stdout and "active" in listed.stdout
    assert "argon2" not in listed.stdout and PASSWORD not in listed.stdout
    changed = run(tmp_path, "passwd", "ana@example.com", stdin="another-password\n")
    assert changed.returncode == 0 and changed.stdout.strip() == "password changed for ana@example.com"
    assert run(tmp_path, "disable", "ana@example.com").returncode == 0
    assert "disabled" in run(tmp_path, "list").stdout
    assert run(tmp_path, "remove", "ana@example.com").returncode == 0
    assert run(tmp_path, "list").stdout.strip() == "no accounts"
    for result in (added, listed, changed):
        assert PASSWORD not in result.stdout + result.stderr and "another-password" not in result.stdout


def test_the_database_url_comes_from_calbot_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "elsewhere.db"
    env_file = tmp_path / ".env"
    env_file.write_text(f"CALBOT_DATABASE_URL=sqlite+aiosqlite:///{target}\n")
    assert run(tmp_path, "add", "bo@example.com", stdin=PASSWORD + "\n").returncode == 0
    assert target.exists() and not (tmp_path / ".calbot" / "calbot.db").exists()


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("add", "not-an-email"), PASSWORD, "not a valid email address"),
    (("add", "ana@example.com"), PASSWORD, "already exists"),
    (("add", "bo@example.com", "--timezone", "Mars/Base"), PASSWORD, "not a time zone"),
    (("add", "bo@example.com", "--timezone", "localtime"), PASSWORD, "not a time zone"),
    (("add", "bo@example.com"), "", "password is empty"),
    (("add", "bo@example.com"), "short", "at least 8 characters"),
    (("passwd", "zed@example.com"), PASSWORD, "no account for zed@example.com"),
    (("disable", "zed@example.com"), "", "no account for zed@example.com"),
    (("remove", "zed@example.com"), "", "no account for zed@example.com"),
])
def test_errors_are_one_line_and_exit_1(tmp_path: Path, args: tuple[str, ...], stdin: str, message: str) -> None:
    assert run(tmp_path, "add", "ana@example.com", stdin=PASSWORD + "\n").returncode == 0
    result = run(tmp_path, *args, stdin=stdin + "\n")
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr


@pytest.mark.parametrize("args", [("frob",), ("add",), ("add", "a@example.com", "--password", "x"), ()])
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert run(tmp_path, *args).returncode == 2


def test_the_sandbox_module_still_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "calbot.sandbox", "--help"], check=False, cwd=ROOT,
                            capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "--port" in result.stdout


def test_the_calbot_command_lists_its_commands_and_dispatches_them(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALBOT_", "CAL_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    bare = subprocess.run([sys.executable, "-m", "calbot"], check=False, cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert bare.returncode == 2
    assert all(f"\n  {name} " in bare.stderr for name in ("users", "tokens", "check", "sandbox", "eval"))
    for command, expected in (("check", "--json"), ("sandbox", "--port"), ("eval", "--scripted"),
                              ("tokens", "create")):
        helped = subprocess.run([sys.executable, "-m", "calbot", command, "--help"], check=False, cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=60)
        assert helped.returncode == 0 and expected in helped.stdout, helped.stderr
