"""Wiring: settings -> one shared Cal.com client -> account look-ups -> executor. Used by the app and from a shell.

Without CAL_API_KEY the client talks to the built-in sandbox calendar in-process (httpx.ASGITransport, the sandbox's
own key, bookings in CALBOT_SANDBOX_DB): the client code path is the one used against Cal.com, only the transport
differs.

    >>> from calbot.config import load_settings
    >>> from calbot.runtime import Calendar
    >>> calendar = await Calendar.connect(load_settings())
    >>> state = calendar.new_session()
    >>> await calendar.executor.call(state, "check_availability", {"date": "2026-11-24"})
    >>> await calendar.aclose()
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from calbot.booking.account import Account, AccountError, load_account
from calbot.booking.executor import Executor
from calbot.booking.session import SessionState
from calbot.calcom import CalcomClient
from calbot.calcom.budget import CALCOM_KEY_LIMIT, RateBudget
from calbot.config import Settings
from calbot.explain import refused_server
from calbot.redact import quoted, shown
from calbot.sandbox import EMBEDDED_BASE_URL, Sandbox, SandboxConfig, SandboxHost


@dataclass
class Calendar:
    settings: Settings
    client: CalcomClient
    account: Account
    executor: Executor
    sandbox: Sandbox | None = None  # set when this is the built-in sandbox calendar
    owns_sandbox: bool = False  # opened by connect(), so closed by aclose()

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox is not None

    @classmethod
    async def connect(cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None,
                      sandbox: Sandbox | None = None) -> Calendar:
        """Open the client and look the account up once. Raises AccountError with a sentence naming the variable.

        Without CAL_API_KEY this opens the sandbox calendar (or uses `sandbox`, for tests)."""
        key = settings.cal_api_key_value
        owns_sandbox = False
        base_url = None  # CAL_API_BASE_URL, for sentences that name it (not the sandbox's in-process address)
        if key and "CAL_API_BASE_URL" in settings.refused:
            raise AccountError(refused_server("CAL_API_BASE_URL"))  # never the self-hosted key to api.cal.com
        if key:
            base_url = settings.cal_api_base_url
            client = CalcomClient(key, settings.cal_api_base_url, transport=transport,
                                  budget=RateBudget(CALCOM_KEY_LIMIT))
        else:
            if sandbox is None:
                owns_sandbox = True
                try:
                    sandbox = Sandbox.open(settings.calbot_sandbox_db, config=SandboxConfig(
                        host=SandboxHost(time_zone=settings.calbot_timezone or SandboxHost().time_zone)))
                except Exception as exc:  # sqlite3 errors, unwritable directory, ...
                    path = quoted(settings.calbot_sandbox_db, limit=300)  # never a key pasted there
                    reason = shown(getattr(exc, "strerror", None) or str(exc)) or type(exc).__name__
                    raise AccountError(f"The sandbox calendar could not open {path} ({reason}). Set "
                                       "CALBOT_SANDBOX_DB to a writable file path, or set CAL_API_KEY to use "
                                       "Cal.com.") from None
            # The sandbox's own limit (Cal.com's 120 unless configured; 0: none, as in the tests and the bench).
            client = CalcomClient(sandbox.config.api_key, EMBEDDED_BASE_URL, transport=sandbox.transport(),
                                  budget=RateBudget(sandbox.config.rate_limit or None))
        try:
            account = await load_account(client, settings.cal_event_type_id, base_url=base_url)
        except BaseException:
            await client.aclose()
            if owns_sandbox and sandbox is not None:
                sandbox.close()
            raise
        return cls(settings, client, account, Executor(client, account), sandbox, owns_sandbox)

    def new_session(self, time_zone: str | None = None) -> SessionState:
        """A chat whose user is CAL_USER_EMAIL / CAL_USER_NAME (verified) when set; zone: browser, setting, host."""
        return self.executor.new_session(email=self.settings.cal_user_email, name=self.settings.cal_user_name,
                                         time_zone=time_zone or self.settings.calbot_timezone)

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.owns_sandbox and self.sandbox is not None:
            self.sandbox.close()
