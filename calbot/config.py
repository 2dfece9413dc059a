"""calbot's settings: one typed object read from the environment (and ./.env).

Nothing here ever raises for a missing or malformed value. Each bad value is dropped (its default is used instead)
and described in `Settings.problems`, a list of sentences that name the variable, so the app can start and say what
to fix.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from calbot.timezones import UnknownTimeZoneError, get_zone
from calbot.validation import InvalidEmailError, normalise_email
from calbot.web_guard import OriginError, normalise_origin

DEFAULT_CAL_API_BASE_URL = "https://api.cal.com/v2"
DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"
DEFAULT_SANDBOX_DB = ".calbot/sandbox.db"
SANDBOX_NOTICE = ("This is calbot's sandbox calendar, a local stand-in for Cal.com: bookings made here are kept on "
                  "this machine only and nobody is invited. To use your own calendar, set CAL_API_KEY to a key from "
                  "Cal.com > Settings > Developer > API keys and restart.")

# What each variable must look like, in words a person can act on.
_EXPECTED = {
    "OPENAI_BASE_URL": "an http(s) URL such as http://localhost:11434/v1",
    "OPENAI_MODEL": "a model name such as gpt-4.1-mini",
    "CAL_API_BASE_URL": "an http(s) URL such as https://api.cal.com/v2",
    "CAL_EVENT_TYPE_ID": "the number of one of your Cal.com event types, such as 123456",
    "CAL_USER_EMAIL": "an email address such as ana@example.com",
    "CAL_USER_NAME": "a non-empty name",
    "CALBOT_TIMEZONE": "an IANA time zone name such as Europe/Berlin or America/New_York",
    "CALBOT_SANDBOX_DB": "a file path such as .calbot/sandbox.db",
    "CALBOT_ALLOWED_ORIGINS": ("a comma-separated list of web origins (scheme://host[:port], no path, no *) such as "
                               "https://calbot.example.com,http://localhost:3000"),
}


def _is_http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


class Settings(BaseSettings):
    """Every setting calbot reads. Field names map to the upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=False)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = DEFAULT_OPENAI_MODEL
    cal_api_key: SecretStr | None = None
    cal_api_base_url: str = DEFAULT_CAL_API_BASE_URL
    cal_event_type_id: int | None = Field(default=None, gt=0)
    cal_user_email: str | None = None
    cal_user_name: str | None = None
    calbot_timezone: str | None = None
    calbot_sandbox_db: str = DEFAULT_SANDBOX_DB
    # Origins besides calbot's own page that may drive it from a browser (calbot.web_guard); comma-separated.
    calbot_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()

    # Filled by load_settings(); never read from the environment.
    _problems: list[str] = PrivateAttr(default_factory=list)

    @field_validator("openai_api_key", "cal_api_key", "openai_base_url", "cal_user_email", "cal_user_name",
                     "calbot_timezone", "cal_event_type_id", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("calbot_sandbox_db", mode="before")
    @classmethod
    def _sandbox_db(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return DEFAULT_SANDBOX_DB
        return value.strip() if isinstance(value, str) else value

    @field_validator("calbot_allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if value is None:
            return ()
        items = value.split(",") if isinstance(value, str) else value
        try:
            return tuple(dict.fromkeys(normalise_origin(item) for item in items if str(item).strip()))
        except (OriginError, AttributeError) as exc:
            raise ValueError(str(exc)) from None

    @field_validator("openai_model", mode="before")
    @classmethod
    def _model_name(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return DEFAULT_OPENAI_MODEL  # blank counts as unset, like every other variable
        return value.strip() if isinstance(value, str) else value

    @field_validator("openai_base_url")
    @classmethod
    def _openai_url(cls, value: str | None) -> str | None:
        if value is not None and not _is_http_url(value):
            raise ValueError("not an http(s) URL")
        return value.rstrip("/") if value else value

    @field_validator("cal_api_base_url", mode="before")
    @classmethod
    def _cal_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().rstrip("/") or DEFAULT_CAL_API_BASE_URL
            if not _is_http_url(value):
                raise ValueError("not an http(s) URL")
        return value

    @field_validator("cal_user_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalise_email(value)
        except InvalidEmailError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("calbot_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return get_zone(value).key
        except UnknownTimeZoneError as exc:
            raise ValueError(str(exc)) from None

    # -- derived facts -------------------------------------------------------------------------------------------
    @property
    def problems(self) -> list[str]:
        """Sentences naming each variable that is missing or invalid, with what to do about it."""
        return list(self._problems)

    @property
    def calendar(self) -> str:
        """Which calendar calbot uses: "sandbox" (no CAL_API_KEY: the built-in emulator) or "cal.com"."""
        return "cal.com" if self.cal_api_key is not None else "sandbox"

    @property
    def uses_sandbox(self) -> bool:
        return self.calendar == "sandbox"

    @property
    def calendar_notice(self) -> str | None:
        """A sentence for the page when the sandbox is in use (what it is, how to connect a real account)."""
        return SANDBOX_NOTICE if self.uses_sandbox else None

    @property
    def cal_api_key_value(self) -> str | None:
        return self.cal_api_key.get_secret_value() if self.cal_api_key else None

    @property
    def openai_api_key_value(self) -> str | None:
        return self.openai_api_key.get_secret_value() if self.openai_api_key else None


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    field = str(error["loc"][0]) if error.get("loc") else "?"
    var = field.upper()
    raw = error.get("input")
    shown = "" if raw is None or var.endswith("_KEY") else f" (got {str(raw)[:60]!r})"
    expected = _EXPECTED.get(var, "a valid value")
    return field, f"{var} is not valid{shown}: it must be {expected}. It is ignored until you fix it."


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; invalid values are replaced by their defaults and reported in `.problems`.

    `overrides` take precedence over the environment (tests and embedding code use them)."""
    problems: list[str] = []
    dropped: dict[str, Any] = {}
    for _ in range(len(Settings.model_fields) + 1):
        try:
            settings = Settings(**{**overrides, **dropped})
            break
        except ValidationError as exc:
            for error in exc.errors():
                field, message = _describe(error)
                if field in dropped or field not in Settings.model_fields:
                    raise  # cannot happen: defaults are valid
                problems.append(message)
                dropped[field] = Settings.model_fields[field].get_default(call_default_factory=True)
    else:  # pragma: no cover - every field can be dropped at most once
        raise RuntimeError("settings could not be loaded")

    key = settings.cal_api_key_value
    if key is not None and not key.startswith("cal_"):
        problems.append("CAL_API_KEY does not start with cal_: Cal.com treats it as an OAuth access token, not an "
                        "API key. Copy the key from Cal.com > Settings > Developer > API keys.")
    if not settings.cal_api_base_url.endswith("/v2"):
        problems.append(f"CAL_API_BASE_URL ({settings.cal_api_base_url}) does not end with /v2; calbot calls "
                        "paths such as /bookings under it, so it usually should (https://api.cal.com/v2).")
    if settings.openai_api_key is None:
        problems.append("OPENAI_API_KEY is not set: the assistant cannot answer until you set it (any key your "
                        "OPENAI_BASE_URL server accepts).")
    settings._problems = problems
    return settings
