"""The one way a setting's value or a URL is quoted in a sentence for a person or the model.

Sentences about a setting name the variable and may show its value, so a person sees the mistake ("CAL_API_BASE_URL
('https://cal.example.com/api') does not end with /v2"). A value can carry a secret: a key pasted into the wrong
variable, credentials in a URL (https://user:pass@host/...), a key in a URL's query (?apiKey=...). So:

- a URL keeps its scheme, host, port and path; its user-info becomes ***, every query value *** (the names stay),
  its fragment ***;
- any part of it that looks like a key becomes ***;
- a value that is not a URL and looks like a key anywhere is not shown at all.

Looks like a key: the configured keys (and any registered with calbot.logs), what calbot.logs scrubs from logs
(`sk-…`, `cal_live_…`, `Bearer …`, `api_key=…`), a UUID, or a long random token (20 or more letters and digits in a
row mixing two of lower case, upper case and digits). Nothing here raises, whatever the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from calbot.logs import redact as _scrubbed

HIDDEN = "***"
NOT_SHOWN = "a value that looks like a key, not shown"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)")
_PARTS = re.compile(r"[^/.:@?&=#;,\s]+")  # what a URL or a path is split into (hyphens and underscores stay)
_RUN = re.compile(r"[A-Za-z0-9]{20,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _random_run(text: str) -> bool:
    for run in _RUN.findall(text):
        kinds = sum((any(c.islower() for c in run), any(c.isupper() for c in run), any(c.isdigit() for c in run)))
        if kinds >= 2:
            return True
    return False


def looks_like_key(text: str, secrets: Iterable[str | None] = ()) -> bool:
    """True when `text` is, or contains, something shaped like a key (see the module's docstring)."""
    text = str(text)
    if any(secret and len(secret) >= 4 and secret in text for secret in secrets):
        return True
    return _scrubbed(text) != text or bool(_UUID.search(text)) or _random_run(text)


def _hide_keys(text: str, secrets: tuple[str, ...]) -> str:
    return _PARTS.sub(lambda m: HIDDEN if looks_like_key(m.group(0), secrets) else m.group(0), text)


def _query(query: str) -> str:
    pairs = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        pairs.append(f"{name}={HIDDEN}" if equals and name and not looks_like_key(name) else HIDDEN if pair else "")
    return "&".join(pairs)


def shown(value: object, *, secrets: Iterable[str | None] = ()) -> str | None:
    """`value` as it may be quoted: a URL redacted, any other value as is; None when it must not be shown at all."""
    text = "" if value is None else str(value)
    keys = tuple(s for s in secrets if s)
    match = _SCHEME.match(text)
    scheme, rest = (match.group(1), text[match.end():]) if match else ("", text)
    rest, hash_, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    credentials = bool(at) and (bool(scheme) or ":" in userinfo)  # "ana@example.com" is an address, not a login
    if not scheme and not credentials and not question and not hash_:
        return None if looks_like_key(text, keys) else text  # not a URL: all or nothing
    redacted = scheme + (f"{HIDDEN}@{_hide_keys(host, keys)}" if credentials else _hide_keys(authority, keys))
    redacted += slash + _hide_keys(path, keys)
    redacted += question + _query(query) + hash_ + (HIDDEN if fragment else "")
    return redacted


def quoted(value: object, *, secrets: Iterable[str | None] = (), limit: int = 80) -> str:
    """`value` quoted for a sentence ('…', cut after redaction, never before), or NOT_SHOWN."""
    text = shown(value, secrets=secrets)
    if text is None:
        return NOT_SHOWN
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return repr(text)
