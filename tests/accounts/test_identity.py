"""OAuth decisions (verified or not), the trusted-proxy header, and the auth secret file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from calbot.accounts import (
    AccountError,
    ensure_auth_secret,
    header_email,
    verified_oauth_email,
)


def _github(*emails: dict) -> dict:
    return {"login": "ana", "email": "public@example.com", "emails": list(emails)}


def test_github_uses_the_verified_primary_email() -> None:
    data = _github({"email": "old@example.com", "primary": False, "verified": True},
                   {"email": "Ana@Example.com", "primary": True, "verified": True})
    assert verified_oauth_email("github", data, "ana") == "ana@example.com"


@pytest.mark.parametrize("data", [
    _github({"email": "ana@example.com", "primary": True, "verified": False}),
    _github({"email": "ana@example.com", "primary": False, "verified": True}),
    {"login": "ana", "email": "ana@example.com"},  # the profile's email carries no verified flag
])
def test_github_without_a_verified_primary_email_is_refused(data: dict) -> None:
    with pytest.raises(AccountError, match="GitHub"):
        verified_oauth_email("github", data, "ana")


@pytest.mark.parametrize("provider", ["google", "generic"])
def test_oidc_needs_email_verified(provider: str) -> None:
    assert verified_oauth_email(provider, {"email": "Bo@Example.com", "email_verified": True}, "x") == "bo@example.com"
    for data in ({"email": "bo@example.com", "email_verified": False}, {"email": "bo@example.com"}, {}):
        with pytest.raises(AccountError):
            verified_oauth_email(provider, data, "bo@example.com")


def test_another_provider_is_refused() -> None:
    with pytest.raises(AccountError, match="not supported"):
        verified_oauth_email("azure-ad", {"email": "a@example.com", "email_verified": True}, "a@example.com")


def test_header_email() -> None:
    assert header_email({"X-Forwarded-Email": "Ana@Example.com"}, "x-forwarded-email") == "ana@example.com"
    assert header_email({"x-forwarded-email": "ana@example.com"}, "X-Forwarded-Email") == "ana@example.com"
    assert header_email({}, "X-Forwarded-Email") is None
    assert header_email({"X-Forwarded-Email": "not an email"}, "X-Forwarded-Email") is None
    assert header_email({"X-Forwarded-Email": "a@example.com, b@example.com"}, "X-Forwarded-Email") is None
    assert header_email({"X-Forwarded-Email": "a@example.com"}, "") is None


def test_auth_secret_is_generated_once_with_mode_0600_and_the_environment_wins(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    first = ensure_auth_secret(tmp_path / "calbot")
    path = tmp_path / "calbot" / "auth-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) >= 32
    assert os.environ["CHAINLIT_AUTH_SECRET"] == first
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET")
    assert ensure_auth_secret(tmp_path / "calbot") == first
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "from-the-environment")
    assert ensure_auth_secret(tmp_path / "calbot") == "from-the-environment"
