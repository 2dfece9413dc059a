"""CALBOT_ALLOWED_ORIGINS (calbot.config): the origins besides calbot's own page that may drive it from a browser
(calbot.web_guard). Read like every other setting: a bad value is ignored and reported in a sentence naming the
variable, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from calbot.config import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("CALBOT_ALLOWED_ORIGINS", "calbot_allowed_origins"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no ./.env from the project


def _origin_problems(settings) -> list[str]:
    return [p for p in settings.problems if "CALBOT_ALLOWED_ORIGINS" in p]


def test_none_by_default():
    settings = load_settings()
    assert settings.calbot_allowed_origins == ()
    assert _origin_problems(settings) == []


def test_comma_separated_origins_in_canonical_form(monkeypatch):
    monkeypatch.setenv("CALBOT_ALLOWED_ORIGINS",
                       " https://Calbot.Example.com/ , http://localhost:3000,,https://calbot.example.com:443")
    settings = load_settings()
    assert settings.calbot_allowed_origins == ("https://calbot.example.com", "http://localhost:3000")
    assert _origin_problems(settings) == []


def test_read_from_dotenv_too(tmp_path):
    (tmp_path / ".env").write_text("CALBOT_ALLOWED_ORIGINS=http://localhost:3000\n")
    assert load_settings().calbot_allowed_origins == ("http://localhost:3000",)


def test_blank_is_none(monkeypatch):
    monkeypatch.setenv("CALBOT_ALLOWED_ORIGINS", "  ")
    settings = load_settings()
    assert settings.calbot_allowed_origins == () and _origin_problems(settings) == []


@pytest.mark.parametrize("value", [
    "*", "https://calbot.example.com,*", "calbot.example.com", "https://calbot.example.com/chat", "null",
    "https://user:secret@calbot.example.com", "ws://calbot.example.com",
])
def test_a_bad_value_is_ignored_and_named(monkeypatch, value):
    monkeypatch.setenv("CALBOT_ALLOWED_ORIGINS", value)
    settings = load_settings()  # never raises
    assert settings.calbot_allowed_origins == ()  # nothing extra is trusted
    [problem] = _origin_problems(settings)
    assert problem.startswith("CALBOT_ALLOWED_ORIGINS is not valid")
    assert "scheme://host[:port]" in problem and "ignored" in problem
    assert "secret" not in problem  # a password in a URL is never quoted (calbot.redact)


def test_an_override_as_a_list():
    assert load_settings(calbot_allowed_origins=["http://localhost:3000/"]).calbot_allowed_origins == (
        "http://localhost:3000",)
