"""calbot.redact: the one way a setting's value or a URL is quoted in a sentence for a person or the model.

A URL keeps what a person needs to spot the mistake (scheme, host, port, path); its user-info, every query value and
its fragment become ***; any part that looks like a key becomes ***; a value that is not a URL and looks like a key
is not shown at all (issue 15, finding 5).
"""

from __future__ import annotations

import pytest

from calbot.redact import HIDDEN, NOT_SHOWN, looks_like_key, quoted, shown

OPENAI_KEY = "sk-proj-Q2x9LmN4pR8vT1wZ7yK3"
CAL_KEY = "cal_live_9f8e7d6c5b4a3f2e1d0c"
RANDOM_TOKEN = "3f9a8c7e1b2d4f6a8c0e2b4d6f8a0c2e"  # a key with no known prefix (a local server's, a proxy's)
UUID_KEY = "8c0e2b4d-6f8a-4c2e-9b1d-3f9a8c7e1b2d"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://user:pass@cal.example.com/api/v2?apiKey=abc123&x=1#frag",
     "https://***@cal.example.com/api/v2?apiKey=***&x=***#***"),
    ("http://token@127.0.0.1:11434/v1", "http://***@127.0.0.1:11434/v1"),
    (f"https://{OPENAI_KEY}@api.openai.com/v1", "https://***@api.openai.com/v1"),
    (f"http://localhost:11434/v1?key={OPENAI_KEY}", "http://localhost:11434/v1?key=***"),
    (f"http://localhost:11434/v1?{RANDOM_TOKEN}", "http://localhost:11434/v1?***"),
    (f"https://proxy.example/{OPENAI_KEY}/v1", "https://proxy.example/***/v1"),
    (f"https://proxy.example/v1/{CAL_KEY}", "https://proxy.example/v1/***"),
    (f"https://proxy.example/keys/{RANDOM_TOKEN}/v1", "https://proxy.example/keys/***/v1"),
    (f"https://proxy.example/{UUID_KEY}/v1", "https://proxy.example/***/v1"),
    ("http://user:secret@localhost:11434/v1", "http://***@localhost:11434/v1"),
    ("user:secret@localhost:11434/v1", "***@localhost:11434/v1"),  # no scheme: still credentials
])
def test_urls_lose_user_info_query_values_and_key_parts(url: str, expected: str) -> None:
    assert shown(url) == expected
    assert quoted(url) == repr(expected)


@pytest.mark.parametrize("value", [
    "http://localhost:11434/v1", "http://127.0.0.1:9/v1", "https://api.cal.com/v2", "https://cal.example.com/api/v2",
    "http://[::1]:8080/v1", "Europe/Berlin", "Mars/Base", "gpt-4.1-mini", "llama3.1:8b",
    "meta-llama/Meta-Llama-3.1-70B-Instruct", "mistralai/Mixtral-8x7B-Instruct-v0.1", ".calbot/sandbox.db",
    "ana@example.com", "not-an-email", "abc", "12.5", "-3", "ftp://x", "nonsense", "localhost:11434/v1",
])
def test_ordinary_values_are_shown_as_they_are(value: str) -> None:
    assert shown(value) == value
    assert quoted(value) == repr(value)
    assert not looks_like_key(value)


@pytest.mark.parametrize("value", [
    OPENAI_KEY, CAL_KEY, "cal_test_abcdef123456", RANDOM_TOKEN, UUID_KEY, f"ollama-{RANDOM_TOKEN}",
    f"Bearer {RANDOM_TOKEN[:12]}", "abcDEFghiJKLmnoPQRstuV", f"  {OPENAI_KEY}  ",
    f"localhost:11434/{OPENAI_KEY}", f"Europe/{CAL_KEY}",
])
def test_a_value_that_looks_like_a_key_is_never_shown(value: str) -> None:
    assert looks_like_key(value)
    assert shown(value) is None
    assert quoted(value) == NOT_SHOWN
    assert value.strip()[:8] not in quoted(value)


def test_the_configured_keys_are_hidden_whatever_they_look_like() -> None:
    secrets = ("ollama-local", None, "")
    assert shown("ollama-local") == "ollama-local"  # an ordinary word, unless it is the key
    assert shown("ollama-local", secrets=secrets) is None
    assert shown("http://proxy.example/ollama-local/v1", secrets=secrets) == "http://proxy.example/***/v1"
    assert shown("http://host.example/v1", secrets=secrets) == "http://host.example/v1"


def test_long_values_are_cut_after_redaction_never_before() -> None:
    url = "https://cal.example.com/" + "a/" * 60 + f"?apiKey={OPENAI_KEY}"
    text = quoted(url, limit=50)
    assert len(text) <= 52 and text.endswith("…'")
    assert "sk-" not in text
    tail = "https://cal.example.com/" + "x" * 40 + OPENAI_KEY  # the key is a part of a long path segment
    assert "sk-proj" not in quoted(tail, limit=70) and "Q2x9" not in quoted(tail, limit=70)


def test_odd_and_broken_values_never_raise() -> None:
    for value in ["http://[::1/v1", "http://host:abc/v1", "://", "?", "#", "@", "http://", "", " ", "\x00", "%zz",
                  "http://a b/v1", "https://u:p@[::1/x?y#z", 12345, None]:
        text = quoted(value)
        assert isinstance(text, str) and "p@" not in text
    assert shown("http://[::1/v1") == "http://[::1/v1"
    assert shown("https://u:p@[::1/x?y=2#z") == "https://***@[::1/x?y=***#***"
    assert HIDDEN == "***"


# -- the same class in logs: credentials in a URL never reach a log line ---------------------------------------------
@pytest.mark.parametrize(("line", "expected"), [
    ("HTTP Request: GET https://admin:hunter2@cal.example.com/v2/me \"HTTP/1.1 404 Not Found\"",
     "HTTP Request: GET https://[REDACTED]@cal.example.com/v2/me \"HTTP/1.1 404 Not Found\""),
    ("base_url=http://tok3nvalue@127.0.0.1:11434/v1", "base_url=http://[REDACTED]@127.0.0.1:11434/v1"),
])
def test_log_lines_lose_the_user_info_of_urls(line: str, expected: str) -> None:
    from calbot.logs import redact

    assert redact(line) == expected


@pytest.mark.parametrize("line", ["mail ana@example.com about it", "https://api.cal.com/v2/me",
                                  "http://[::1]:8080/v1 and x@y"])
def test_log_lines_without_url_credentials_are_untouched(line: str) -> None:
    from calbot.logs import redact

    assert redact(line) == line
