"""Pure unit tests for calbot.config.load_settings: never raises, falls back to defaults, explains each problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from calbot.config import DEFAULT_CAL_API_BASE_URL, DEFAULT_OPENAI_MODEL, DEFAULT_SANDBOX_DB, Settings, load_settings

VARS = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL", "CAL_API_KEY", "CAL_API_BASE_URL", "CAL_EVENT_TYPE_ID",
        "CAL_USER_EMAIL", "CAL_USER_NAME", "CALBOT_TIMEZONE"]

CAL_SECRET = "cal_live_TOPSECRET_9f8e7d6c5b4a"
OPENAI_SECRET = "sk-proj-SUPERSECRET-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)  # no ./.env from the project


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both API keys set (validly), so the only problems left are the ones a test provokes."""
    monkeypatch.setenv("CAL_API_KEY", CAL_SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)


def mentioning(settings: Settings, var: str) -> list[str]:
    return [p for p in settings.problems if var in p]


# -- defaults ------------------------------------------------------------------------------------------------------

def test_defaults_with_nothing_set() -> None:
    settings = load_settings()
    assert settings.cal_api_base_url == "https://api.cal.com/v2"
    assert DEFAULT_CAL_API_BASE_URL == "https://api.cal.com/v2"
    assert settings.openai_model == DEFAULT_OPENAI_MODEL == "gpt-4.1-mini"
    assert settings.openai_api_key is None
    assert settings.openai_base_url is None
    assert settings.cal_api_key is None
    assert settings.cal_event_type_id is None
    assert settings.cal_user_email is None
    assert settings.cal_user_name is None
    assert settings.calbot_timezone is None
    assert settings.cal_api_key_value is None
    assert settings.openai_api_key_value is None


def test_missing_keys_mean_sandbox_calendar_and_an_openai_problem() -> None:
    settings = load_settings()
    assert settings.problems == [p for p in settings.problems if p.startswith("OPENAI_API_KEY")]
    assert len(settings.problems) == 1 and "not set" in settings.problems[0]
    assert settings.calendar == "sandbox" and settings.uses_sandbox
    notice = settings.calendar_notice
    assert notice is not None and "sandbox" in notice and "CAL_API_KEY" in notice


def test_missing_cal_key_is_not_a_problem_it_selects_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    settings = load_settings()
    assert settings.problems == []
    assert settings.calendar == "sandbox"
    assert settings.calbot_sandbox_db == DEFAULT_SANDBOX_DB == ".calbot/sandbox.db"


def test_cal_key_selects_cal_com(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAL_API_KEY", CAL_SECRET)
    settings = load_settings()
    assert settings.calendar == "cal.com" and not settings.uses_sandbox
    assert settings.calendar_notice is None


def test_blank_sandbox_db_uses_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALBOT_SANDBOX_DB", "  ")
    assert load_settings().calbot_sandbox_db == DEFAULT_SANDBOX_DB
    monkeypatch.setenv("CALBOT_SANDBOX_DB", "/tmp/x/sb.db")
    assert load_settings().calbot_sandbox_db == "/tmp/x/sb.db"


def test_missing_openai_key_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAL_API_KEY", CAL_SECRET)
    problems = load_settings().problems
    assert len(problems) == 1
    assert problems[0].startswith("OPENAI_API_KEY")


def test_all_valid_values(monkeypatch: pytest.MonkeyPatch, keys: None) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    monkeypatch.setenv("OPENAI_MODEL", "llama3.1:8b")
    monkeypatch.setenv("CAL_API_BASE_URL", "https://cal.example.com/api/v2")
    monkeypatch.setenv("CAL_EVENT_TYPE_ID", "123456")
    monkeypatch.setenv("CAL_USER_EMAIL", "ana@example.com")
    monkeypatch.setenv("CAL_USER_NAME", "Ana Diaz")
    monkeypatch.setenv("CALBOT_TIMEZONE", "Asia/Kolkata")
    settings = load_settings()
    assert settings.problems == []
    assert settings.openai_base_url == "http://localhost:11434/v1"
    assert settings.openai_model == "llama3.1:8b"
    assert settings.cal_api_base_url == "https://cal.example.com/api/v2"
    assert settings.cal_event_type_id == 123456
    assert settings.cal_user_email == "ana@example.com"
    assert settings.cal_user_name == "Ana Diaz"
    assert settings.calbot_timezone == "Asia/Kolkata"
    assert settings.cal_api_key_value == CAL_SECRET
    assert settings.openai_api_key_value == OPENAI_SECRET


def test_values_are_trimmed_and_normalised(monkeypatch: pytest.MonkeyPatch, keys: None) -> None:
    monkeypatch.setenv("CAL_EVENT_TYPE_ID", "  42 ")
    monkeypatch.setenv("CALBOT_TIMEZONE", " Europe/Berlin ")
    monkeypatch.setenv("CAL_USER_EMAIL", "  Ana@Example.COM ")
    monkeypatch.setenv("CAL_USER_NAME", "  Ana  ")
    monkeypatch.setenv("OPENAI_MODEL", " gpt-4.1 ")
    settings = load_settings()
    assert settings.problems == []
    assert settings.cal_event_type_id == 42
    assert settings.calbot_timezone == "Europe/Berlin"
    assert settings.cal_user_email == "Ana@example.com"  # domain lower-cased, local part kept
    assert settings.cal_user_name == "Ana"
    assert settings.openai_model == "gpt-4.1"


# -- invalid values: never raise, fall back, explain ---------------------------------------------------------------

INVALID = [
    ("CAL_EVENT_TYPE_ID", "abc", "cal_event_type_id", None),
    ("CAL_EVENT_TYPE_ID", "-3", "cal_event_type_id", None),
    ("CAL_EVENT_TYPE_ID", "0", "cal_event_type_id", None),
    ("CAL_EVENT_TYPE_ID", "12.5", "cal_event_type_id", None),
    ("CAL_USER_EMAIL", "not-an-email", "cal_user_email", None),
    ("CAL_USER_EMAIL", "ana@", "cal_user_email", None),
    ("CALBOT_TIMEZONE", "Mars/Base", "calbot_timezone", None),
    ("CALBOT_TIMEZONE", "../etc/passwd", "calbot_timezone", None),
    ("OPENAI_BASE_URL", "ftp://x", "openai_base_url", None),
    ("OPENAI_BASE_URL", "localhost:11434/v1", "openai_base_url", None),
    ("OPENAI_BASE_URL", "http://", "openai_base_url", None),
    ("CAL_API_BASE_URL", "nonsense", "cal_api_base_url", "https://api.cal.com/v2"),
    ("CAL_API_BASE_URL", "ftp://api.cal.com/v2", "cal_api_base_url", "https://api.cal.com/v2"),
]


@pytest.mark.parametrize(("var", "value", "attr", "default"), INVALID)
def test_invalid_value_falls_back_and_is_explained(monkeypatch: pytest.MonkeyPatch, keys: None, var: str, value: str,
                                                   attr: str, default: object) -> None:
    monkeypatch.setenv(var, value)
    settings = load_settings()  # must not raise
    assert getattr(settings, attr) == default
    assert len(settings.problems) == 1, settings.problems
    problem = settings.problems[0]
    assert problem.startswith(f"{var} is not valid")
    assert "ignored" in problem
    assert problem.endswith(".")
    assert "Traceback" not in problem and "validation error" not in problem.lower()


@pytest.mark.parametrize(("var", "value", "attr", "default"), INVALID)
def test_invalid_override_falls_back_and_is_explained(var: str, value: str, attr: str, default: object) -> None:
    settings = load_settings(**{attr: value}, cal_api_key=CAL_SECRET, openai_api_key=OPENAI_SECRET)
    assert getattr(settings, attr) == default
    assert [p.split(" ")[0] for p in settings.problems] == [var]


def test_invalid_values_show_what_was_given(monkeypatch: pytest.MonkeyPatch, keys: None) -> None:
    monkeypatch.setenv("CALBOT_TIMEZONE", "Mars/Base")
    problem = load_settings().problems[0]
    assert "'Mars/Base'" in problem
    assert "Europe/Berlin" in problem  # says what it must look like


def test_several_bad_values_give_several_problems(monkeypatch: pytest.MonkeyPatch, keys: None) -> None:
    monkeypatch.setenv("CAL_EVENT_TYPE_ID", "abc")
    monkeypatch.setenv("CAL_USER_EMAIL", "not-an-email")
    monkeypatch.setenv("CALBOT_TIMEZONE", "Mars/Base")
    monkeypatch.setenv("OPENAI_BASE_URL", "ftp://x")
    monkeypatch.setenv("CAL_API_BASE_URL", "nonsense")
    monkeypatch.setenv("CAL_USER_NAME", "Ana")  # valid: kept
    settings = load_settings()
    assert len(settings.problems) == 5
    for var in ["CAL_EVENT_TYPE_ID", "CAL_USER_EMAIL", "CALBOT_TIMEZONE", "OPENAI_BASE_URL", "CAL_API_BASE_URL"]:
        assert len([p for p in settings.problems if p.startswith(f"{var} ")]) == 1, var
    assert settings.cal_event_type_id is None
    assert settings.cal_user_email is None
    assert settings.calbot_timezone is None
    assert settings.openai_base_url is None
    assert settings.cal_api_base_url == DEFAULT_CAL_API_BASE_URL
    assert settings.cal_user_name == "Ana"
    assert settings.cal_api_key_value == CAL_SECRET


def test_bad_values_and_missing_keys_together() -> None:
    settings = load_settings(cal_event_type_id="abc", calbot_timezone="Mars/Base")
    assert len(settings.problems) == 3
    assert len(mentioning(settings, "CAL_EVENT_TYPE_ID")) == 1
    assert len(mentioning(settings, "CALBOT_TIMEZONE")) == 1
    assert settings.calendar == "sandbox"
    assert any(p.startswith("OPENAI_API_KEY is not set") for p in settings.problems)


# -- the Cal.com key -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["sk-live-abcdef123456", "Bearer cal_live_abc", "CAL_live_abc", "live_abc"])
def test_key_not_starting_with_cal_is_a_problem(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("CAL_API_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    settings = load_settings()
    assert len(settings.problems) == 1
    problem = settings.problems[0]
    assert "CAL_API_KEY" in problem
    assert "cal_" in problem
    assert key not in problem
    assert settings.cal_api_key_value == key  # kept (it may still work as an OAuth token), only flagged


@pytest.mark.parametrize("key", ["cal_live_abc123", "cal_test_abc123"])
def test_cal_prefixed_key_is_fine(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("CAL_API_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    assert load_settings().problems == []


def test_cal_api_base_url_without_v2_is_flagged_but_kept(monkeypatch: pytest.MonkeyPatch, keys: None) -> None:
    monkeypatch.setenv("CAL_API_BASE_URL", "https://cal.example.com/api")
    settings = load_settings()
    assert settings.cal_api_base_url == "https://cal.example.com/api"
    assert len(settings.problems) == 1
    assert "CAL_API_BASE_URL" in settings.problems[0]
    assert "/v2" in settings.problems[0]


# -- secrets -------------------------------------------------------------------------------------------------------

def test_secrets_never_appear_in_problems_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    bad_cal_key = "sk-NOT-A-CAL-KEY-SECRET-777"
    monkeypatch.setenv("CAL_API_KEY", bad_cal_key)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_SECRET)
    monkeypatch.setenv("CAL_EVENT_TYPE_ID", "abc")
    monkeypatch.setenv("OPENAI_BASE_URL", "ftp://x")
    monkeypatch.setenv("CALBOT_TIMEZONE", "Mars/Base")
    settings = load_settings()
    assert len(settings.problems) == 4
    texts = [*settings.problems, repr(settings), str(settings), settings.model_dump_json()]
    for text in texts:
        assert bad_cal_key not in text
        assert OPENAI_SECRET not in text
        assert "SECRET" not in text
    # ...while the values are still there for the code that needs them.
    assert settings.cal_api_key_value == bad_cal_key
    assert settings.openai_api_key_value == OPENAI_SECRET


def test_secrets_not_in_repr_when_valid(keys: None) -> None:
    settings = load_settings()
    assert CAL_SECRET not in repr(settings)
    assert OPENAI_SECRET not in repr(settings)
    assert "**********" in repr(settings)


# -- blank values --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("blank", ["", "   ", "\t"])
@pytest.mark.parametrize(("var", "attr", "default"), [
    ("OPENAI_BASE_URL", "openai_base_url", None),
    ("CAL_API_BASE_URL", "cal_api_base_url", "https://api.cal.com/v2"),
    ("CAL_EVENT_TYPE_ID", "cal_event_type_id", None),
    ("CAL_USER_EMAIL", "cal_user_email", None),
    ("CAL_USER_NAME", "cal_user_name", None),
    ("CALBOT_TIMEZONE", "calbot_timezone", None),
])
def test_blank_strings_count_as_unset(monkeypatch: pytest.MonkeyPatch, keys: None, blank: str, var: str, attr: str,
                                      default: object) -> None:
    monkeypatch.setenv(var, blank)
    settings = load_settings()
    assert getattr(settings, attr) == default
    assert settings.problems == []


@pytest.mark.parametrize("blank", ["", "   "])
@pytest.mark.parametrize("var", ["CAL_API_KEY", "OPENAI_API_KEY"])
def test_blank_keys_count_as_unset(monkeypatch: pytest.MonkeyPatch, blank: str, var: str) -> None:
    monkeypatch.setenv(var, blank)
    settings = load_settings()
    assert getattr(settings, var.lower()) is None
    # A blank CAL_API_KEY selects the sandbox calendar (not a problem); a blank OPENAI_API_KEY is the one problem.
    assert [p.split(" ")[0] for p in settings.problems] == ["OPENAI_API_KEY"]
    assert settings.calendar == "sandbox"


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_openai_model_falls_back_to_default(monkeypatch: pytest.MonkeyPatch, keys: None, blank: str) -> None:
    monkeypatch.setenv("OPENAI_MODEL", blank)
    assert load_settings().openai_model == "gpt-4.1-mini"


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_openai_model_counts_as_unset_without_problem(monkeypatch: pytest.MonkeyPatch, keys: None,
                                                            blank: str) -> None:
    monkeypatch.setenv("OPENAI_MODEL", blank)
    assert load_settings().problems == []


# -- URLs ----------------------------------------------------------------------------------------------------------

def test_trailing_slash_stripped(monkeypatch: pytest.MonkeyPatch, keys: None) -> None:
    monkeypatch.setenv("CAL_API_BASE_URL", "https://cal.example.com/v2/")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/")
    settings = load_settings()
    assert settings.cal_api_base_url == "https://cal.example.com/v2"
    assert settings.openai_base_url == "http://localhost:11434/v1"
    assert settings.problems == []


def test_trailing_slash_stripped_in_overrides(keys: None) -> None:
    settings = load_settings(cal_api_base_url="https://api.cal.com/v2///", openai_base_url="https://x.example/v1/")
    assert settings.cal_api_base_url == "https://api.cal.com/v2"
    assert settings.openai_base_url == "https://x.example/v1"


# -- sources -------------------------------------------------------------------------------------------------------

def test_overrides_beat_the_environment(monkeypatch: pytest.MonkeyPatch, keys: None) -> None:
    monkeypatch.setenv("CAL_EVENT_TYPE_ID", "1")
    assert load_settings(cal_event_type_id=2).cal_event_type_id == 2


def test_dotenv_in_working_directory_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, keys: None) -> None:
    (tmp_path / ".env").write_text("CAL_EVENT_TYPE_ID=77\nCALBOT_TIMEZONE=Asia/Kolkata\n", encoding="utf-8")
    settings = load_settings()
    assert settings.cal_event_type_id == 77
    assert settings.calbot_timezone == "Asia/Kolkata"
    monkeypatch.setenv("CAL_EVENT_TYPE_ID", "88")  # the environment beats .env
    assert load_settings().cal_event_type_id == 88


def test_invalid_value_in_dotenv_is_explained(tmp_path: Path, keys: None) -> None:
    (tmp_path / ".env").write_text("CAL_EVENT_TYPE_ID=abc\nSOMETHING_ELSE=1\n", encoding="utf-8")
    settings = load_settings()
    assert settings.cal_event_type_id is None
    assert [p.split(" ")[0] for p in settings.problems] == ["CAL_EVENT_TYPE_ID"]


def test_problems_is_a_copy(keys: None) -> None:
    settings = load_settings(cal_event_type_id="abc")
    settings.problems.append("tampered")
    assert len(settings.problems) == 1
