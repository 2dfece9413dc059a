"""The session store's settings: CALBOT_DATABASE_URL (never DATABASE_URL) and CALBOT_SESSION_TTL."""

from __future__ import annotations

import pytest

from calbot.config import DEFAULT_SESSION_TTL, load_settings
from calbot.store.sql import DEFAULT_DATABASE_URL, database_url


def test_defaults_are_sqlite_in_dot_calbot_and_one_hour() -> None:
    settings = load_settings()
    assert settings.calbot_database_url is None
    assert database_url(settings) == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///.calbot/calbot.db"
    assert settings.calbot_session_ttl == DEFAULT_SESSION_TTL == 3600


def test_database_url_is_never_read_from_chainlits_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABASE_URL turns on Chainlit's own Postgres data layer; calbot's store must not follow it."""
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://chainlit@127.0.0.1/chainlit")
    assert database_url(load_settings()) == DEFAULT_DATABASE_URL


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:////var/lib/calbot/chats.db",
                                 "postgresql+asyncpg://calbot:pw@db.internal:5432/calbot"])
def test_supported_urls_are_used(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CALBOT_DATABASE_URL", f"  {url} ")
    settings = load_settings()
    assert database_url(settings) == url
    assert not [p for p in settings.problems if "CALBOT_DATABASE_URL" in p]


@pytest.mark.parametrize("url", ["postgres://calbot:s3cr3t-pw@db/calbot", "postgresql://calbot:s3cr3t-pw@db/calbot",
                                 "sqlite:///x.db", "mysql+aiomysql://calbot:s3cr3t-pw@db/calbot", "nonsense"])
def test_unsupported_url_is_explained_without_its_password(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CALBOT_DATABASE_URL", url)
    settings = load_settings()
    problems = [p for p in settings.problems if p.startswith("CALBOT_DATABASE_URL")]
    assert len(problems) == 1, settings.problems
    assert "postgresql+asyncpg://" in problems[0]  # says what it must look like
    assert "s3cr3t-pw" not in " ".join(settings.problems)
    assert "s3cr3t-pw" not in repr(settings)
    assert database_url(settings) == DEFAULT_DATABASE_URL


def test_blank_database_url_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALBOT_DATABASE_URL", "   ")
    settings = load_settings()
    assert settings.calbot_database_url is None
    assert not [p for p in settings.problems if "CALBOT_DATABASE_URL" in p]


@pytest.mark.parametrize(("value", "expected"), [("60", 60), (" 86400 ", 86400), ("", DEFAULT_SESSION_TTL)])
def test_session_ttl(monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
    monkeypatch.setenv("CALBOT_SESSION_TTL", value)
    settings = load_settings()
    assert settings.calbot_session_ttl == expected
    assert not [p for p in settings.problems if "CALBOT_SESSION_TTL" in p]


@pytest.mark.parametrize("value", ["0", "-5", "1h", "12.5"])
def test_bad_session_ttl_falls_back_and_is_explained(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CALBOT_SESSION_TTL", value)
    settings = load_settings()
    assert settings.calbot_session_ttl == DEFAULT_SESSION_TTL
    problems = [p for p in settings.problems if p.startswith("CALBOT_SESSION_TTL is not valid")]
    assert len(problems) == 1 and "3600" in problems[0]
