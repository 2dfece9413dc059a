"""calbot's settings: one typed object read from the environment (and ./.env).

Nothing here ever raises for a missing or malformed value. Each bad value is dropped (its default is used instead)
and described in `Settings.problems`, a list of sentences that name the variable, so the app can start and say what
to fix.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from calbot.redact import looks_like_key, quoted
from calbot.timezones import UnknownTimeZoneError, get_zone
from calbot.validation import InvalidEmailError, normalise_email
from calbot.web_guard import OriginError, normalise_origin

DEFAULT_CAL_API_BASE_URL = "https://api.cal.com/v2"
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"  # the openai SDK's own default
DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"
DEFAULT_SANDBOX_DB = ".calbot/sandbox.db"
DEFAULT_SESSION_TTL = 3600  # seconds an anonymous chat is kept after its last message
DATABASE_URL_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
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
    "CALBOT_SESSION_TTL": "a whole number of seconds greater than 0, such as 3600",
    "CALBOT_DATABASE_URL": ("a SQLAlchemy async URL such as sqlite+aiosqlite:///.calbot/calbot.db or "
                            "postgresql+asyncpg://user:password@host/calbot"),
    "CALBOT_ALLOWED_ORIGINS": ("a comma-separated list of web origins (scheme://host[:port], no path, no *) such as "
                               "https://calbot.example.com,http://localhost:3000"),
}


class _Unusable(ValueError):
    """A URL calbot's HTTP clients cannot use. The message is a clause for people that quotes nothing of the value."""


def _check_url(value: str, key_var: str, paths: str) -> str:
    """`value` if the HTTP clients can use it as a base URL, else _Unusable saying why (issue 15, finding 12: the
    openai SDK on aiohttp refuses user:pass@ with a ValueError, httpx sends it as Basic auth instead of the key, a
    query swallows the paths calbot adds, a bad port fails when the client is made)."""
    if "://" not in value and looks_like_key(value):
        raise _Unusable(f"it looks like a key, which belongs in {key_var}")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise _Unusable("it contains spaces or control characters")
    scheme, _, rest = value.partition("://")
    if scheme.lower() not in ("http", "https"):
        raise _Unusable("it does not start with http:// or https://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        raise _Unusable(f"it contains a user name or password before the host, which calbot cannot send: put the "
                        f"key in {key_var} instead")
    if "?" in value or "#" in value:
        raise _Unusable(f"it has a query or fragment (? or #), which calbot cannot keep: it adds paths such as "
                        f"{paths} after the URL")
    if authority.count("[") != authority.count("]"):
        raise _Unusable("it is not a well-formed URL")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise _Unusable("its port is not a number from 1 to 65535" if "port" in str(exc).lower()
                        else "it is not a well-formed URL") from None
    if not url.host:
        raise _Unusable("it has no host name")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise _Unusable("its port is not a number from 1 to 65535")
    if not re.fullmatch(r"[\w.\-]+|[0-9A-Fa-f:.]+", url.host):
        raise _Unusable("it is not a well-formed URL")
    return value


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
    # The session store (calbot/store): never DATABASE_URL, which turns on Chainlit's own data layer.
    calbot_database_url: SecretStr | None = None  # its password must never be shown; None: SQLite in .calbot/
    calbot_session_ttl: int = Field(default=DEFAULT_SESSION_TTL, gt=0)
    # Origins besides calbot's own page that may drive it from a browser (calbot.web_guard); comma-separated.
    calbot_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # Trusted-proxy sign-in (calbot/channels/chainlit_auth.py): the header an SSO proxy puts the signed-in email in.
    # Off when unset; only for a calbot that nothing but that proxy can reach.
    calbot_trusted_email_header: str | None = None

    # Filled by load_settings(); never read from the environment.
    _problems: list[str] = PrivateAttr(default_factory=list)
    _refused: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @field_validator("openai_api_key", "cal_api_key", "openai_base_url", "cal_user_email", "cal_user_name",
                     "calbot_timezone", "cal_event_type_id", "calbot_database_url", "calbot_trusted_email_header",
                     mode="before")
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

    @field_validator("calbot_session_ttl", mode="before")
    @classmethod
    def _session_ttl(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return DEFAULT_SESSION_TTL  # blank counts as unset
        return value.strip() if isinstance(value, str) else value

    @field_validator("calbot_database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(DATABASE_URL_SCHEMES):
            raise ValueError("unsupported database URL")
        return value

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
        if value is not None:
            _check_url(value, "OPENAI_API_KEY", "/chat/completions")
        return value.rstrip("/") if value else value

    @field_validator("cal_api_base_url", mode="before")
    @classmethod
    def _cal_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().rstrip("/") or DEFAULT_CAL_API_BASE_URL
            _check_url(value, "CAL_API_KEY", "/bookings")
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
    def refused(self) -> frozenset[str]:
        """The variables (upper case) whose invalid value was replaced by its default."""
        return self._refused

    @property
    def refused_server(self) -> str | None:
        """OPENAI_BASE_URL or CAL_API_BASE_URL when it was set but refused: its key must then not be sent to the
        default server (a local server's key to api.openai.com, a self-hosted Cal.com key to api.cal.com)."""
        if "OPENAI_BASE_URL" in self._refused and self.openai_api_key is not None:
            return "OPENAI_BASE_URL"
        if "CAL_API_BASE_URL" in self._refused and self.cal_api_key is not None:
            return "CAL_API_BASE_URL"
        return None

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
    def database_url_value(self) -> str | None:
        return self.calbot_database_url.get_secret_value() if self.calbot_database_url else None

    @property
    def openai_api_key_value(self) -> str | None:
        return self.openai_api_key.get_secret_value() if self.openai_api_key else None


def _field(error: dict[str, Any]) -> str:
    return str(error["loc"][0]) if error.get("loc") else "?"


def _describe(error: dict[str, Any], secrets: tuple[str | None, ...] = ()) -> str:
    """The sentence for one invalid value. The value is quoted only through calbot.redact (never a key, never
    credentials or query values of a URL); keys are never quoted at all."""
    var = _field(error).upper()
    raw = error.get("input")
    shown = "" if raw is None or var.endswith("_KEY") else f" (got {quoted(raw, secrets=secrets)})"
    expected = _EXPECTED.get(var, "a valid value")
    reason = (error.get("ctx") or {}).get("error")
    why = f"{reason}. It must be {expected}" if isinstance(reason, _Unusable) else f"it must be {expected}"
    return f"{var} is not valid{shown}: {why}. It is ignored until you fix it."


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; invalid values are replaced by their defaults and reported in `.problems`.

    `overrides` take precedence over the environment (tests and embedding code use them)."""
    errors: list[dict[str, Any]] = []
    dropped: dict[str, Any] = {}
    for _ in range(len(Settings.model_fields) + 1):
        try:
            settings = Settings(**{**overrides, **dropped})
            break
        except ValidationError as exc:
            for error in exc.errors():
                field = _field(error)
                if field in dropped or field not in Settings.model_fields:
                    raise  # cannot happen: defaults are valid
                errors.append(error)
                dropped[field] = Settings.model_fields[field].get_default(call_default_factory=True)
    else:  # pragma: no cover - every field can be dropped at most once
        raise RuntimeError("settings could not be loaded")

    secrets = (settings.openai_api_key_value, settings.cal_api_key_value)  # never quoted, whatever they look like
    problems = [_describe(error, secrets) for error in errors]

    key = settings.cal_api_key_value
    if key is not None and not key.startswith("cal_"):
        problems.append("CAL_API_KEY does not start with cal_: Cal.com treats it as an OAuth access token, not an "
                        "API key. Copy the key from Cal.com > Settings > Developer > API keys.")
    if not settings.cal_api_base_url.endswith("/v2"):
        problems.append(f"CAL_API_BASE_URL ({quoted(settings.cal_api_base_url, secrets=secrets)}) does not end "
                        "with /v2; calbot calls "
                        "paths such as /bookings under it, so it usually should (https://api.cal.com/v2).")
    if settings.openai_api_key is None:
        problems.append("OPENAI_API_KEY is not set: the assistant cannot answer until you set it (any key your "
                        "OPENAI_BASE_URL server accepts).")
    settings._problems = problems
    settings._refused = frozenset(field.upper() for field in dropped)
    return settings
