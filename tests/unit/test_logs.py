"""calbot/logs.py: keys never reach a log. A record factory scrubs registered secrets and anything shaped like a key
from every record of the process (its message, its arguments, an attached traceback, stack_info) when it is created,
so any handler or formatter added later, by any library, prints only the scrubbed text.

The factory is process-global and installed once. Every test here starts with it installed (whether an earlier test
or a ChatService installed it or not) and with its own copy of the registered secrets; a test that installed it
itself uninstalls it again, so the order of tests never matters. Secrets are unique per test.
"""

from __future__ import annotations

import io
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from uvicorn.logging import AccessFormatter

import calbot.logs as logs
from calbot.chat import ChatService
from calbot.logs import REDACTED, install_redaction, redact, register_secrets
from tests.agent.conftest import clean_env, make_settings  # noqa: F401 - fixtures (a clean environment, settings)

THIRD_PARTY = ["httpx", "httpcore.http11", "openai._base_client", "chainlit", "uvicorn.error", "calbot.chat",
               "some.library.nobody.configured"]


@pytest.fixture(autouse=True)
def redaction(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(logs, "_secrets", set(logs._secrets))  # registrations of this test go away after it
    factory, installed = logging.getLogRecordFactory(), logs._installed
    install_redaction()
    yield
    if not installed:  # this test installed it: leave the process as it was
        logging.setLogRecordFactory(factory)
        logs._installed = False


@pytest.fixture
def pristine() -> Iterator[None]:
    """A process where nothing installed the factory yet (restored afterwards)."""
    factory, installed = logging.getLogRecordFactory(), logs._installed
    logging.setLogRecordFactory(logging.LogRecord)
    logs._installed = False
    yield
    logging.setLogRecordFactory(factory)
    logs._installed = installed


def secret() -> str:
    """A value shaped like no key: only registration can scrub it."""
    return f"pw{uuid.uuid4().hex}"


class StrictHandler(logging.StreamHandler):
    """A handler that fails the test instead of printing '--- Logging error ---' and carrying on."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        raise  # noqa: PLE0704 - re-raise what emit() caught


class Collecting(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured(name: str, formatter: logging.Formatter | None = None,
             handler: logging.Handler | None = None) -> Iterator[io.StringIO]:
    """Everything `name` logs (DEBUG and up), formatted by `formatter` (a plain Formatter unless given)."""
    stream = io.StringIO()
    handler = handler or StrictHandler(stream)
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(stream)
    handler.setFormatter(formatter or logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger(name)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


# -- registered secrets, any logger ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", THIRD_PARTY)
def test_a_registered_secret_is_scrubbed_from_any_logger(name):
    value = secret()
    register_secrets(value)
    log = logging.getLogger(name)
    with captured(name) as out:
        log.debug("request headers: %s", {"authorization": value, "accept": "application/json"})
        log.info(f"key in an f-string: {value}!")
        log.warning("key %(key)s as a mapping argument", {"key": value})
        log.error("key %r repr'd", value)
    text = out.getvalue()
    assert value not in text
    assert text.count(REDACTED) == 4 and "accept" in text and "as a mapping argument" in text


def test_secrets_registered_after_installation_count_too():
    later = secret()
    with captured("httpx") as out:
        logging.getLogger("httpx").info("before: %s", later)
        register_secrets(later)
        logging.getLogger("httpx").info("after: %s", later)
    assert out.getvalue().splitlines() == [f"INFO httpx: before: {later}", f"INFO httpx: after: {REDACTED}"]


def test_the_longest_secret_is_replaced_first():
    short = secret()
    longer = short + "-and-more-of-it"
    register_secrets(short, longer)
    assert redact(f"x {longer} y {short} z") == f"x {REDACTED} y {REDACTED} z"


@pytest.mark.parametrize("value", ["abc12", "x", "", None, "  "])
def test_short_values_are_not_registered(value):
    register_secrets(value)
    assert value not in logs._secrets
    if value:
        text = f"the word {value} stays: {value}{value}"
        assert redact(text) == text


def test_six_characters_are_enough_to_register():
    register_secrets("qwe123")
    assert redact("token qwe123.") == f"token {REDACTED}."


def test_records_keep_no_secret_for_formatters_added_later():
    """Chainlit and uvicorn add their own handlers and formatters: what they get is scrubbed already."""
    value = secret()
    register_secrets(value)
    collecting = Collecting()
    with captured("openai._base_client", handler=collecting):
        logging.getLogger("openai._base_client").info("options: %s", {"api_key": value})
    [record] = collecting.records
    assert value not in str(record.msg) and value not in repr(record.args)
    for formatter in (logging.Formatter("%(message)s"), logging.Formatter("{message} {args}", style="{"),
                      logging.Formatter("%(msg)s %(args)s")):
        assert value not in formatter.format(record)


def test_clean_records_keep_their_arguments_dirty_ones_lose_them():
    value = secret()
    register_secrets(value)
    collecting = Collecting()
    with captured("chainlit", handler=collecting):
        log = logging.getLogger("chainlit")
        log.info("%s asked for %d slots", "ana", 3)
        log.info("user %(user)s", {"user": "ana", "token": value})  # the secret is in an argument the text skips
        log.info("%.4s", value)  # ... or cut off by the format
    clean, skipped, cut = collecting.records
    assert (clean.msg, clean.args) == ("%s asked for %d slots", ("ana", 3))
    assert (skipped.msg, skipped.args) == ("user ana", None)
    assert (cut.msg, cut.args) == (value[:4], None)


# -- key shapes ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "kept", "gone"), [
    ("OPENAI_API_KEY=sk-proj-AbC123dEf456GhI789", "OPENAI_API_KEY=", "AbC123dEf456"),
    ("Incorrect API key provided: sk-ABCDEFGH12345678.", "Incorrect API key provided: ", "ABCDEFGH1234"),
    ("using cal_live_0123456789abcdef for Cal.com", f"using {REDACTED} for Cal.com", "0123456789abcdef"),
    ("key=cal_test_abcdef0123", "key=", "abcdef0123"),
    ("the sandbox key cal_sandbox_calbot_local", f"the sandbox key {REDACTED}", "calbot_local"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", f"Authorization: Bearer {REDACTED}", "eyJhbGci"),
    ("headers={'authorization': 'Bearer tok_9f8e7d6c5b'}", f"'authorization': 'Bearer {REDACTED}'", "9f8e7d"),
    ("Bearer ya29.a0AfH6SM_abcdefghijklmnop-XYZ", f"Bearer {REDACTED}", "abcdefghijklmnop"),  # "_" is a token char
    ("bearer    abcdef123456", f"bearer    {REDACTED}", "abcdef123456"),
    ("Authorization: abcdef123456", f"Authorization: {REDACTED}", "abcdef123456"),
    ('{"api_key": "plainsecret42"}', f'{{"api_key": "{REDACTED}"}}', "plainsecret42"),
    ("GET /v1/things?api_key=plainsecret42&x=1", f"GET /v1/things?api_key={REDACTED}", "plainsecret42"),
    ("apiKey=plainsecret42", f"apiKey={REDACTED}", "plainsecret42"),
    ("x-api-key: plainsecret42", f"x-api-key: {REDACTED}", "plainsecret42"),
])
def test_anything_shaped_like_a_key_is_scrubbed(text, kept, gone):
    for scrubbed in (redact(text), _logged("httpx", text)):
        assert gone not in scrubbed and REDACTED in scrubbed
        assert kept in scrubbed


def _logged(name: str, message: str) -> str:
    with captured(name, logging.Formatter("%(message)s")) as out:
        logging.getLogger(name).warning("%s", message)
    return out.getvalue().rstrip("\n")


@pytest.mark.parametrize("text", [
    "Set OPENAI_API_KEY in .env",
    "OPENAI_API_KEY is not set: the assistant cannot answer until you set it.",
    "CAL_API_KEY does not start with cal_: Cal.com treats it as an OAuth access token, not an API key.",
    "Cal.com keys look like cal_live_… or cal_test_…",
    "You need to provide your API key in an Authorization header using Bearer auth.",
    "task-management and a skeleton-key, ask-me-anything",
    "Booked 'Budget review' on Tuesday 24 November 2026, 15:00–15:30 CET (Europe/Berlin).",
    "HTTP Request: GET https://api.cal.com/v2/bookings?attendeeEmail=ana%40example.com \"HTTP/1.1 200 OK\"",
    f"Authorization: Bearer {REDACTED}",  # already scrubbed: unchanged by a second pass
    "settings: api_key=None, authorization: none, x-api-key=''",  # short values are not keys
    "",
])
def test_ordinary_text_is_untouched(text):
    assert redact(text) == text
    if text:
        assert _logged("calbot.config", text) == text


# -- tracebacks and stacks -------------------------------------------------------------------------------------------
def test_exception_tracebacks_are_scrubbed_and_the_chain_is_kept():
    value = secret()
    register_secrets(value)
    log = logging.getLogger("calbot.agent.loop")
    collecting = Collecting()
    with captured("calbot.agent.loop") as out:
        log.addHandler(collecting)
        try:
            try:
                raise ValueError(f"the cause mentions {value}")
            except ValueError as cause:
                raise RuntimeError("upstream said: Incorrect API key sk-live-ABCDEFGH12345678") from cause
        except RuntimeError:
            log.exception("chat turn failed")
        finally:
            log.removeHandler(collecting)
    text = out.getvalue()
    assert "ERROR calbot.agent.loop: chat turn failed\nTraceback (most recent call last):" in text
    assert "ValueError: the cause mentions [REDACTED]" in text
    assert "The above exception was the direct cause of the following exception:" in text
    assert f"RuntimeError: upstream said: Incorrect API key {REDACTED}" in text
    assert value not in text and "ABCDEFGH" not in text
    [record] = collecting.records
    assert record.exc_info is None and value not in record.exc_text  # the raw exception is not kept


def test_exc_info_outside_an_except_block_is_harmless():
    with captured("httpx") as out:
        logging.getLogger("httpx").error("no exception here", exc_info=True)
    assert out.getvalue() == "ERROR httpx: no exception here\nNoneType: None\n"


def test_stack_info_is_scrubbed():
    value = secret()
    register_secrets(value)
    log = logging.getLogger("openai._base_client")
    with captured("openai._base_client") as out:
        log.info("where am I", stack_info=True)  # sk-THISLINEKEY12345 (the source line shows in the stack)
        record = log.makeRecord(log.name, logging.INFO, __file__, 1, "made by hand", (), None,
                                sinfo=f"Stack (most recent call last):\n  token {value}")
        log.handle(record)
    text = out.getvalue()
    assert "Stack (most recent call last):" in text and "where am I" in text
    assert "THISLINEKEY" not in text and value not in text
    assert record.stack_info == f"Stack (most recent call last):\n  token {REDACTED}"


# -- logging never breaks ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("message", "args", "shown"), [
    ("value %d", ("not a number",), "value %d"),
    ("two %s %s", ("only one",), "two %s %s"),
    ("none %s", (), "none %s"),
    ("%(missing)s", ({"present": 1},), "%(missing)s"),
    ("progress %s", ("100%",), "progress 100%"),
])
def test_a_bad_format_string_does_not_break_logging(message, args, shown):
    with captured("chainlit", logging.Formatter("%(message)s")) as out:  # StrictHandler: a formatting error fails
        logging.getLogger("chainlit").warning(message, *args)
        logging.getLogger("chainlit").warning("next line")
    assert out.getvalue().splitlines() == [shown, "next line"]


def test_a_bad_format_string_does_not_leak_its_arguments(capsys):
    value = secret()
    register_secrets(value)
    with captured("httpx", logging.Formatter("%(message)s"), handler=logging.StreamHandler()) as out:
        logging.getLogger("httpx").warning("key %s and %s", "sk-ABCDEFGH12345678")  # one argument short
        logging.getLogger("httpx").warning("%d", value)
    assert out.getvalue().splitlines() == ["key %s and %s", "%d"]
    err = capsys.readouterr().err
    assert "ABCDEFGH" not in err and value not in err and "Logging error" not in err


def test_uvicorns_access_formatter_still_formats_its_lines():
    """uvicorn's AccessFormatter reads record.args (client, method, path, version, status): a line with nothing to
    scrub keeps them (`chainlit run -d` logs every request this way)."""
    formatter = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    with captured("uvicorn.access", formatter) as out:  # StrictHandler: a formatting error fails the test
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50123", "GET",
                                                 "/project/settings", "1.1", 200)
    assert out.getvalue() == '127.0.0.1:50123 - "GET /project/settings HTTP/1.1" 200 OK\n'


def test_an_access_line_with_a_key_in_it_does_not_leak(capsys):
    value = secret()
    register_secrets(value)
    formatter = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    with captured("uvicorn.access", formatter, handler=logging.StreamHandler()) as out:
        logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50123", "GET",
                                                 f"/callback?token={value}", "1.1", 200)
    assert value not in out.getvalue() and value not in capsys.readouterr().err


def test_installing_twice_wraps_the_factory_once():
    factory = logging.getLogRecordFactory()
    install_redaction()
    again = secret()
    install_redaction([again, None, ""])
    assert logging.getLogRecordFactory() is factory
    assert redact(again) == REDACTED  # the secrets of a later call are still registered


# -- ChatService installs it ---------------------------------------------------------------------------------------
def test_a_chat_service_installs_redaction_with_the_settings_keys(pristine, make_settings):
    openai_key = f"ollama-local-{uuid.uuid4().hex}"  # any string an OpenAI-compatible server accepts
    cal_key = f"cal_{uuid.uuid4().hex}"  # not cal_live_/cal_test_: only registration scrubs either of them
    assert redact(openai_key) == openai_key and redact(cal_key) == cal_key
    assert logging.getLogRecordFactory() is logging.LogRecord

    service = ChatService(make_settings(openai_api_key=openai_key, cal_api_key=cal_key))

    assert service.settings.openai_api_key_value == openai_key
    assert logging.getLogRecordFactory() is not logging.LogRecord
    with captured("openai._base_client") as out:
        logging.getLogger("openai._base_client").debug("api_key %s / cal %s / %s", openai_key, cal_key,
                                                       openai_key.upper())
    text = out.getvalue()
    assert openai_key not in text and cal_key not in text and text.count(REDACTED) == 2

    factory = logging.getLogRecordFactory()
    second_key = f"vllm-{uuid.uuid4().hex}"
    ChatService(make_settings(openai_api_key=second_key))  # a second service: same factory, its key registered
    assert logging.getLogRecordFactory() is factory
    assert redact(f"k={second_key}") == f"k={REDACTED}" and redact(openai_key) == REDACTED


def test_a_chat_service_without_keys_installs_it_too(pristine, make_settings):
    settings = make_settings(openai_api_key=None)
    assert settings.openai_api_key_value is None and settings.cal_api_key_value is None
    ChatService(settings)
    assert logging.getLogRecordFactory() is not logging.LogRecord
    assert redact("Authorization: Bearer abcdef123456") == f"Authorization: Bearer {REDACTED}"


def test_redaction_also_covers_records_made_in_other_threads():
    import threading

    value = secret()
    register_secrets(value)
    with captured("httpcore.http11") as out:
        thread = threading.Thread(target=lambda: logging.getLogger("httpcore.http11").info("sent %s", value))
        thread.start()
        thread.join()
    assert out.getvalue() == f"INFO httpcore.http11: sent {REDACTED}\n"


def test_the_module_is_importable_without_side_effects_on_import():
    """Importing calbot.logs does not install anything by itself (ChatService does)."""
    import importlib
    import subprocess

    code = ("import logging, calbot.logs as l; "
            "assert logging.getLogRecordFactory() is logging.LogRecord and not l._installed; print('ok')")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert importlib.import_module("calbot.logs") is logs


def test_basic_credentials_are_scrubbed_too():
    from calbot.logs import redact

    assert redact("Authorization: Basic dXNlcjpwYXNzd29yZA==") == "Authorization: Basic [REDACTED]"


def test_the_word_basic_in_ordinary_text_is_left_alone():
    from calbot.logs import redact

    assert redact("a basic meeting about planning") == "a basic meeting about planning"
