"""Setting values quoted in sentences (issue 15, findings 5 and 12).

Finding 5: a key pasted into a setting, credentials in a URL (https://user:pass@host/...?apiKey=...) or a key in a
URL's query were quoted whole in the problems every visitor sees and in the model's unreachable-server sentence.
Finding 12: a URL the HTTP clients cannot use (user:pass@, a bad port, a query that swallows calbot's paths) was
accepted and failed later with a sentence that did not name the variable; it is now a problem at settings load that
names it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from calbot.config import DEFAULT_CAL_API_BASE_URL, load_settings
from calbot.explain import explain_model_error

OPENAI_KEY = "sk-proj-Q2x9LmN4pR8vT1wZ7yK3aB5c"
CAL_KEY = "cal_live_9f8e7d6c5b4a3f2e1d0c9b8a"
RANDOM_TOKEN = "3f9a8c7e1b2d4f6a8c0e2b4d6f8a0c2e"
PASSWORD = "hunter2-Pa55word"
VARS = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "CAL_API_KEY", "CAL_API_BASE_URL", "CAL_EVENT_TYPE_ID",
        "CAL_USER_EMAIL", "CAL_USER_NAME", "CALBOT_TIMEZONE", "CALBOT_SANDBOX_DB"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-settings-0001")
    monkeypatch.setenv("CAL_API_KEY", "cal_live_settings_0001")


def problems_about(var: str, **overrides: str) -> list[str]:
    return [p for p in load_settings(**overrides).problems if p.startswith(f"{var} ")]


def assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, text
        assert secret[:10] not in text, text  # not even a prefix


# -- finding 5: nothing secret is quoted --------------------------------------------------------------------------
@pytest.mark.parametrize("secret", [OPENAI_KEY, CAL_KEY, RANDOM_TOKEN, f"ollama-{RANDOM_TOKEN}"])
@pytest.mark.parametrize(("var", "attr"), [
    ("OPENAI_BASE_URL", "openai_base_url"), ("CAL_API_BASE_URL", "cal_api_base_url"),
    ("CAL_EVENT_TYPE_ID", "cal_event_type_id"), ("CAL_USER_EMAIL", "cal_user_email"),
    ("CALBOT_TIMEZONE", "calbot_timezone"),
])
def test_a_key_pasted_into_any_setting_is_never_echoed(var: str, attr: str, secret: str) -> None:
    [problem] = problems_about(var, **{attr: secret})
    assert "not valid" in problem and "ignored" in problem
    assert_hidden(problem, secret)
    assert "looks like a key" in problem


def test_credentials_and_query_values_in_cal_api_base_url_are_redacted() -> None:
    url = f"https://admin:{PASSWORD}@cal.example.com/api/v2?apiKey={CAL_KEY}&team=sales"
    settings = load_settings(cal_api_base_url=url)
    [problem] = [p for p in settings.problems if "CAL_API_BASE_URL" in p]
    assert_hidden(problem, PASSWORD, CAL_KEY, "admin:")
    assert "https://***@cal.example.com/api/v2?apiKey=***&team=***" in problem
    assert settings.cal_api_base_url == DEFAULT_CAL_API_BASE_URL  # never used: it would send user:pass as Basic auth


def test_the_v2_advice_quotes_the_url_redacted() -> None:
    problem = problems_about("CAL_API_BASE_URL", cal_api_base_url=f"https://cal.example.com/{RANDOM_TOKEN}/api")
    assert problem and "/v2" in problem[0]
    assert_hidden(problem[0], RANDOM_TOKEN)
    assert "https://cal.example.com/***/api" in problem[0]


@pytest.mark.parametrize("url", [
    f"http://user:{PASSWORD}@127.0.0.1:11434/v1",
    f"https://{OPENAI_KEY}@api.openai.com/v1",
    f"http://localhost:11434/v1?api_key={OPENAI_KEY}",
])
def test_credentials_in_openai_base_url_are_redacted(url: str) -> None:
    [problem] = problems_about("OPENAI_BASE_URL", openai_base_url=url)
    assert_hidden(problem, PASSWORD, OPENAI_KEY, "user:")
    assert "***" in problem


def test_the_configured_keys_are_never_quoted_even_when_they_look_ordinary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "local-model-pass")
    monkeypatch.setenv("CALBOT_TIMEZONE", "local-model-pass")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy.example/local-model-pass/v1?x=1")
    settings = load_settings()
    assert len(settings.problems) == 2
    for problem in settings.problems:
        assert "local-model-pass" not in problem, problem


def test_the_model_servers_url_in_the_unreachable_sentence_is_redacted() -> None:
    import httpx2
    import openai

    error = openai.APIConnectionError(request=httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions"))
    url = f"http://user:{PASSWORD}@127.0.0.1:9/v1?key={OPENAI_KEY}"
    sentence = explain_model_error(error, base_url=url)
    assert_hidden(sentence, PASSWORD, OPENAI_KEY, "user:")
    assert sentence.startswith("calbot could not reach the model server at http://***@127.0.0.1:9/v1?key=***.")
    assert "OPENAI_BASE_URL" in sentence


def test_a_key_given_as_the_model_name_is_not_echoed() -> None:
    import httpx2
    import openai

    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    error = openai.NotFoundError("not found", response=httpx2.Response(404, request=request), body=None)
    sentence = explain_model_error(error, model=OPENAI_KEY)
    assert_hidden(sentence, OPENAI_KEY)
    assert "OPENAI_MODEL" in sentence
    assert "'gpt-4.1'" in explain_model_error(error, model="gpt-4.1")  # an ordinary name is still shown


# -- finding 12: a URL the clients cannot use is a problem naming the variable at load -------------------------------
UNUSABLE = [
    ("http://user:pass@127.0.0.1:11434/v1", "user name or password"),
    ("http://host.example:abc/v1", "port"),
    ("http://127.0.0.1:99999/v1", "port"),
    ("http://127.0.0.1:0/v1", "port"),
    ("http://[::1/v1", "well-formed"),
    ("http://exa mple.com/v1", "spaces"),
    ("http://:80/v1", "host"),
    ("http://localhost:11434/v1?api-version=1", "query"),
    ("http://localhost:11434/v1#x", "query"),
    ("localhost:11434/v1", "http://"),
    ("ftp://models.example/v1", "http://"),
    ("file:///tmp/model", "http://"),
]


@pytest.mark.parametrize(("url", "why"), UNUSABLE)
def test_an_openai_base_url_the_sdk_cannot_use_is_a_problem_naming_it(url: str, why: str) -> None:
    settings = load_settings(openai_base_url=url)
    assert settings.openai_base_url is None
    [problem] = problems_about("OPENAI_BASE_URL", openai_base_url=url)
    assert problem.startswith("OPENAI_BASE_URL is not valid") and why in problem, problem
    assert "pass@" not in problem


@pytest.mark.parametrize(("url", "why"), UNUSABLE)
def test_a_cal_api_base_url_the_client_cannot_use_is_a_problem_naming_it(url: str, why: str) -> None:
    url = url.replace("/v1", "/v2")
    settings = load_settings(cal_api_base_url=url)
    assert settings.cal_api_base_url == DEFAULT_CAL_API_BASE_URL
    [problem] = problems_about("CAL_API_BASE_URL", cal_api_base_url=url)
    assert problem.startswith("CAL_API_BASE_URL is not valid") and why in problem, problem


def test_user_info_points_at_the_key_variable() -> None:
    [openai_problem] = problems_about("OPENAI_BASE_URL", openai_base_url="https://u:p@models.example/v1")
    assert "OPENAI_API_KEY" in openai_problem
    [cal_problem] = problems_about("CAL_API_BASE_URL", cal_api_base_url="https://u:p@cal.example.com/api/v2")
    assert "CAL_API_KEY" in cal_problem


@pytest.mark.parametrize("url", ["http://localhost:11434/v1", "https://api.openai.com/v1", "http://[::1]:8000/v1",
                                 "http://bücher.example/v1", "http://model_server:8000/v1"])
def test_ordinary_urls_are_still_accepted(url: str) -> None:
    settings = load_settings(openai_base_url=url, cal_api_base_url=url.replace("/v1", "/v2"))
    assert settings.problems == []
    assert settings.openai_base_url == url


def test_an_ignored_openai_base_url_in_the_environment_is_really_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK reads OPENAI_BASE_URL from the environment by itself when it is given none: an invalid value that the
    settings dropped must not come back through that door (it would fail with an unrelated sentence)."""
    from calbot.chat import ChatService

    monkeypatch.setenv("OPENAI_BASE_URL", f"http://user:{PASSWORD}@127.0.0.1:9/v1")
    service = ChatService(load_settings())
    assert service.settings.openai_base_url is None
    client = service.model_client()
    assert client is not None
    assert str(client.base_url).rstrip("/") == "https://api.openai.com/v1"
