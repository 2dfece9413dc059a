"""What a person is told about a wrong setting, through the chat service (issue 15, findings 5 and 12).

- A wrong CAL_API_BASE_URL path (404 on GET /v2/me or on the event types, the first calls when the calendar
  connects) is named as such, with the URL shown redacted; not "Cal.com could not find that. List your meetings".
- A CAL_API_BASE_URL whose host cannot be reached at connect names the variable too.
- Credentials and keys in OPENAI_BASE_URL / CAL_API_BASE_URL never reach the page: the first reply's notices name
  the variables and show the URLs redacted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from calbot.agent.loop import CodeReply
from calbot.chat import ChatService
from tests.fakes.sandbox_calcom import API_KEY, SandboxCalcom, open_sandbox
from testing.openai_fake import say

from .conftest import FIXED_NOW

PASSWORD = "hunter2-Pa55word"
TOKEN = "3f9a8c7e1b2d4f6a8c0e2b4d6f8a0c2e"
OPENAI_KEY = "sk-proj-Q2x9LmN4pR8vT1wZ7yK3aB5c"


def page_text(events) -> str:  # noqa: ANN001
    return "\n".join(e.text for e in events.of(CodeReply)) + events.text()


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text and secret[:10] not in text, text


@pytest.fixture
def fake_cal() -> Iterator[SandboxCalcom]:
    """The sandbox calendar in process, reached at whatever CAL_API_BASE_URL a test sets (its path still counts)."""
    yield from open_sandbox(FIXED_NOW)


@pytest.fixture
async def cal_service(make_settings, model, fake_cal) -> AsyncIterator[Callable[..., ChatService]]:  # noqa: ANN001
    """A ChatService on Cal.com (a key is set) whose HTTP goes to `fake_cal`, with the given settings."""
    made: list[ChatService] = []

    def make(**overrides: object) -> ChatService:
        service = ChatService(make_settings(cal_api_key=API_KEY, **overrides), model_client=model.client(),
                              cal_transport=fake_cal.transport())
        made.append(service)
        return service

    yield make
    for service in made:
        await service.aclose()


@pytest.mark.parametrize(("base_url", "shown"), [
    ("https://api.cal.com/api/v2", "https://api.cal.com/api/v2"),  # self-hosted's /api prefix on Cal.com's cloud
    ("https://api.cal.com/api", "https://api.cal.com/api"),  # no /v2 at all (flagged at load too)
    (f"https://api.cal.com/{TOKEN}/v2", "https://api.cal.com/***/v2"),  # a key pasted into the path: redacted
])
async def test_a_404_on_me_names_cal_api_base_url(cal_service, model, events, fake_cal, base_url, shown):
    service = cal_service(cal_api_base_url=base_url)

    result = await service.handle_message(service.new_state(), "show me my meetings", events)

    [error] = events.codes("error")
    assert result.outcome == "failed" and result.error == error.text
    assert "CAL_API_BASE_URL" in error.text and f"{shown}/me" in error.text, error.text
    assert "List your meetings" not in error.text and "could not find that" not in error.text
    assert_hidden(page_text(events), TOKEN)
    assert model.calls_count == 0
    assert [r.url.path for r in fake_cal.requests] == [httpx.URL(base_url).path + "/me"]


async def test_a_404_on_the_event_types_names_cal_api_base_url(cal_service, model, events, fake_cal):
    fake_cal.fail_next("GET", r"/event-types$", 404, "NotFoundException", "Cannot GET /v2/event-types")
    service = cal_service(cal_api_base_url="https://cal.example.com/v2")

    result = await service.handle_message(service.new_state(), "show me my meetings", events)

    [error] = events.codes("error")
    assert result.outcome == "failed"
    assert "CAL_API_BASE_URL" in error.text and "https://cal.example.com/v2/event-types" in error.text, error.text
    assert "List your meetings" not in error.text
    assert model.calls_count == 0


async def test_an_unreachable_cal_api_base_url_at_connect_names_it(cal_service, model, events, fake_cal):
    for _ in range(3):  # every attempt the client makes (reads are retried)
        fake_cal.fail_next("GET", r"/me$", exception=httpx.ConnectError("[Errno -2] Name or service not known"))
    service = cal_service(cal_api_base_url="https://cal.exmaple.com/api/v2")

    result = await service.handle_message(service.new_state(), "show me my meetings", events)

    [error] = events.codes("error")
    assert result.outcome == "failed"
    assert "CAL_API_BASE_URL" in error.text and "https://cal.exmaple.com/api/v2" in error.text, error.text
    assert model.calls_count == 0


async def test_a_server_error_at_connect_still_says_to_try_again(cal_service, model, events, fake_cal):
    """Not every failure at connect is the URL's fault: a 500 on /me keeps its own sentence."""
    for _ in range(3):
        fake_cal.fail_next("GET", r"/me$")
    service = cal_service(cal_api_base_url="https://cal.example.com/v2")

    await service.handle_message(service.new_state(), "show me my meetings", events)

    [error] = events.codes("error")
    assert error.text == ("Could not read the Cal.com account: Cal.com had an internal error. Please try again in a "
                          "minute.")


async def test_credentials_in_the_urls_never_reach_the_page(make_service, model, events):
    """Both URLs carry credentials and keys: the first reply's notices name both variables, URLs redacted."""
    service = make_service(openai_base_url=f"http://user:{PASSWORD}@127.0.0.1:9/v1",
                           cal_api_base_url=f"https://admin:{PASSWORD}@cal.example.com/api?apiKey={OPENAI_KEY}")
    model.on_user("hello", say("Hello! How can I help?"))

    await service.handle_message(service.new_state(), "hello", events)

    notices = [n.text for n in events.codes("notice")]
    assert any(n.startswith("OPENAI_BASE_URL is not valid") for n in notices), notices
    assert any(n.startswith("CAL_API_BASE_URL is not valid") for n in notices), notices
    assert any("http://***@127.0.0.1:9/v1" in n for n in notices), notices
    assert any("https://***@cal.example.com/api?apiKey=***" in n for n in notices), notices
    assert_hidden(page_text(events), PASSWORD, OPENAI_KEY, "user:", "admin:")
    assert_hidden(str(model.requests), PASSWORD, OPENAI_KEY)  # nor the model


async def test_a_key_in_calbot_sandbox_db_is_not_echoed(tmp_path):
    """CALBOT_SANDBOX_DB is quoted when the file cannot be opened: through calbot.redact like every setting."""
    from calbot.booking.account import AccountError
    from calbot.config import load_settings
    from calbot.runtime import Calendar

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the sandbox wants a folder")
    settings = load_settings(calbot_sandbox_db=str(blocker / OPENAI_KEY / "sandbox.db"))
    with pytest.raises(AccountError) as caught:
        await Calendar.connect(settings)
    message = str(caught.value)
    assert "CALBOT_SANDBOX_DB" in message and "could not open" in message
    assert_hidden(message, OPENAI_KEY)


@pytest.mark.parametrize("url", [f"http://user:{PASSWORD}@127.0.0.1:9/v1", "http://127.0.0.1:99999/v1",
                                 "http://127.0.0.1:9/v1?api-version=2024"])
async def test_an_unusable_openai_base_url_is_named_never_calbots_side(make_settings, sandbox, clock, events,
                                                                       monkeypatch, url):
    """What the SDK did with these: user:pass@ raised a bare ValueError from aiohttp ('Cannot combine AUTHORIZATION
    header with AUTH argument or credentials encoded in URL'), which the loop reported as "Something went wrong on
    calbot's side"; a port out of range failed the same way on the SDK's default transport. Now the settings refuse
    them (a notice naming OPENAI_BASE_URL) and the client never sees them."""
    import calbot.chat
    from calbot.chat import new_model_client

    unreachable = "http://127.0.0.1:9/v1"  # stands in for api.openai.com: refused at once, no network
    monkeypatch.setattr(calbot.chat, "DEFAULT_OPENAI_BASE_URL", unreachable, raising=False)
    settings = make_settings(openai_base_url=url)
    client = new_model_client("sk-test", settings.openai_base_url or unreachable, max_retries=0)
    service = ChatService(settings, model_client=client, sandbox=sandbox, clock=clock)
    try:
        result = await service.handle_message(service.new_state(), "hello", events)
    finally:
        await service.aclose()

    [error] = events.codes("error")
    assert "OPENAI_BASE_URL" in error.text and "calbot's side" not in error.text, error.text
    assert result.outcome == "failed"  # nothing sent: not even to the default server
    assert any(n.text.startswith("OPENAI_BASE_URL is not valid") for n in events.codes("notice"))
    assert_hidden(page_text(events), PASSWORD)


async def test_a_refused_openai_base_url_never_sends_the_key_to_another_server(make_service, model, events):
    """A local server's URL that cannot be used must not make calbot send OPENAI_API_KEY to api.openai.com."""
    service = make_service(openai_base_url=f"http://user:{PASSWORD}@127.0.0.1:9/v1")
    result = await service.handle_message(service.new_state(), "hello", events)

    assert model.requests == [] and result.outcome == "failed"
    [error] = events.codes("error")
    assert "OPENAI_BASE_URL" in error.text and "will not send OPENAI_API_KEY to another server" in error.text


async def test_a_refused_cal_api_base_url_never_sends_the_key_to_cal_com(cal_service, model, events, fake_cal):
    """A self-hosted Cal.com URL that cannot be used must not make calbot send CAL_API_KEY to api.cal.com."""
    service = cal_service(cal_api_base_url="https://cal.example.com/api/v2?team=1")
    state = service.new_state()
    await service.handle_message(state, "hello", events)
    with pytest.raises(Exception, match="CAL_API_BASE_URL"):
        await service.calendar()  # Confirm's way in refuses too

    assert fake_cal.requests == [] and model.requests == []
    [error] = events.codes("error")
    assert "CAL_API_BASE_URL" in error.text and "will not send CAL_API_KEY to another server" in error.text
