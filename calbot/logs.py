"""Keys never reach a log: every log record of the process (calbot's, httpx's, openai's, Chainlit's, uvicorn's) is
redacted when it is created.

`install_redaction(secret, ...)` wraps the logging module's record factory once per process. Each new record has its
message formatted and scrubbed, and an attached traceback is formatted and scrubbed as well, so no handler or
formatter set up later (Chainlit and uvicorn add their own) can print a secret. What is scrubbed:

- the exact values passed in (OPENAI_API_KEY, CAL_API_KEY, from the settings) and registered later;
- anything shaped like a key, even one calbot was never given: OpenAI keys (`sk-...`), Cal.com keys
  (`cal_live_...`, `cal_test_...`, `cal_sandbox_...`), `Bearer <token>` and `Authorization: <value>` (`Authorization: Basic <credentials>` too) / `api_key=...`;
- the user-info of a URL (`https://user:pass@host/...` becomes `https://[REDACTED]@host/...`).

Sentences for people quote settings through calbot.redact, which also hides query values and key-like parts.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

_KEY_SHAPES = re.compile(
    r"(?P<openai>\bsk-[A-Za-z0-9_\-]{8,})"
    r"|(?P<cal>\bcal_(?:live|test|sandbox)_[A-Za-z0-9_\-]+)"
    r"|(?P<bearer>(?i:\bbearer)\s+)[A-Za-z0-9._~+/=\-]{6,}"
    r"|(?P<header>(?i:authorization|x-api-key|api[_-]?key)[\"']?\s*[:=]\s*[\"']?(?:(?i:basic)\s+)?)(?!Bearer\b)(?!\[REDACTED)[^\s\"',}]{6,}"
    r"|(?P<userinfo>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?!\[REDACTED\]@)[^\s/?#@\"'<>]+@"
)

_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False


def _replace(match: re.Match[str]) -> str:
    if match.group("userinfo"):
        return f"{match.group('userinfo')}{REDACTED}@"
    for prefix in ("bearer", "header"):
        if match.group(prefix):
            return match.group(prefix) + REDACTED
    return REDACTED


def redact(text: str) -> str:
    """`text` with every registered secret and anything shaped like a key replaced by [REDACTED]."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(_replace, text)


def register_secrets(*secrets: str | None) -> None:
    """Remember exact values to scrub (short values are skipped: they would blank ordinary words)."""
    with _lock:
        _secrets.update(s for s in secrets if s and len(s) >= 6)


def _clean(value: object) -> bool:
    try:
        text = str(value)
    except Exception:
        return False
    return redact(text) == text


def _scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep the raw template, scrubbed
        record.msg, record.args = redact(str(record.msg)), None
    else:
        args = record.args
        values = args.values() if isinstance(args, Mapping) else args if isinstance(args, tuple) else (args,)
        scrubbed = redact(message)
        # Nothing to scrub: msg and args stay as logged (uvicorn's AccessFormatter unpacks record.args).
        if scrubbed != message or not all(_clean(value) for value in values):
            record.msg, record.args = scrubbed, None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None  # formatters use exc_text; the raw exception (and its message) is not kept
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install_redaction(secrets: Iterable[str | None] = ()) -> None:
    """Scrub every log record created from now on in this process. Safe to call more than once."""
    global _installed
    register_secrets(*secrets)
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:  # noqa: ANN002, ANN003 - the factory's own signature
            return _scrub_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True
