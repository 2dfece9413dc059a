"""Small input checks shared by the settings, the tool arguments and the executor."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from calbot.errors import CalbotError

# C0 controls (but tab, line feed, carriage return), DEL and C1 controls: NUL, ANSI escapes, bells. Postgres (behind
# Cal.com) refuses NUL in text, and none of them means anything in a chat message, a name or a reason.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class InvalidEmailError(CalbotError, ValueError):
    """An email address that cannot be used, with a sentence saying why."""


def normalise_email(value: str) -> str:
    """Return the address in canonical form (domain lower-cased) or raise InvalidEmailError.

    Syntax only: no DNS look-up, so it works offline and never stalls a chat turn."""
    text = (value or "").strip()
    if not text:
        raise InvalidEmailError("the email address is empty")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmailError(f"{text!r} is not a valid email address ({exc})") from None
    return result.normalized


def same_email(a: str | None, b: str | None) -> bool:
    """Email addresses compare case-insensitively (what Cal.com's attendee filter does)."""
    return bool(a) and bool(b) and a.strip().lower() == b.strip().lower()


def strip_control(text: str) -> str:
    """`text` without control characters (tab and line breaks are kept; emoji and other scripts untouched)."""
    return _CONTROL.sub("", text)
