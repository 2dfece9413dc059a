"""Who someone is, decided from what a sign-in gives: an OAuth provider's verified email, a trusted proxy's header,
and the secret Chainlit signs its session tokens with. Pure functions (the secret one touches only its file)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from calbot.accounts.store import AccountError, account_email

SECRET_FILE = "auth-secret"


def _verified(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def verified_oauth_email(provider_id: str, raw_user_data: dict, default_user_identifier: str) -> str:
    """The provider's verified email, lower-cased, or AccountError with a sentence.

    GitHub: Chainlit's provider (chainlit/oauth_providers.py) adds the `emails` list of GET /user/emails, each with
    `primary` and `verified`; the primary address is used only when verified (the profile's `email` carries no flag
    and is never used). Google and generic OIDC: the `email` claim with `email_verified` true. Any other provider is
    refused: calbot cannot tell whether its address was verified. `default_user_identifier` is not trusted (GitHub's
    is the login name)."""
    data = raw_user_data if isinstance(raw_user_data, dict) else {}
    email: Any = None
    if provider_id == "github":
        emails = data.get("emails")
        listed = [e for e in emails if isinstance(e, dict)] if isinstance(emails, list) else []
        primary = [e for e in listed if e.get("primary") is True]
        if primary and _verified(primary[0].get("verified")):
            email = primary[0].get("email")
        elif not primary:
            raise AccountError("GitHub did not share your email address; allow calbot to read it and sign in again.")
        else:
            raise AccountError("Your primary GitHub email address is not verified; verify it on GitHub and sign in "
                               "again.")
    elif provider_id in ("google", "generic"):
        if not data.get("email"):
            raise AccountError("The sign-in provider did not share your email address, so calbot cannot tell who "
                               "you are.")
        if not _verified(data.get("email_verified")):
            raise AccountError("Your email address is not verified with the sign-in provider; verify it there and "
                               "sign in again.")
        email = data.get("email")
    else:
        raise AccountError(f"Sign-in with {provider_id!r} is not supported: calbot cannot tell whether its email "
                           "address is verified.")
    if not isinstance(email, str):
        raise AccountError("The sign-in provider did not share your email address, so calbot cannot tell who you "
                           "are.")
    return account_email(email)


def header_email(headers: Mapping[str, str], header_name: str) -> str | None:
    """Trusted-proxy mode: the email in the header `header_name` (case-insensitive), lower-cased, or None when the
    header is absent, empty or not one valid email address."""
    if not header_name:
        return None
    wanted = header_name.strip().lower()
    value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == wanted), None)
    if not isinstance(value, str) or not value.strip() or "," in value:
        return None
    try:
        return account_email(value)
    except AccountError:
        return None


def ensure_auth_secret(directory: str | Path = ".calbot") -> str:
    """CHAINLIT_AUTH_SECRET from the environment, else the one in <directory>/auth-secret, else a new one written
    there (mode 0600). Sets os.environ["CHAINLIT_AUTH_SECRET"] and returns it."""
    current = os.environ.get("CHAINLIT_AUTH_SECRET", "").strip()
    if current:
        return current
    path = Path(directory) / SECRET_FILE
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        secret = ""
    if not secret:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (secret + "\n").encode())
        finally:
            os.close(fd)
        os.chmod(path, 0o600)
    os.environ["CHAINLIT_AUTH_SECRET"] = secret
    return secret
