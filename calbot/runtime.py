"""Wiring: settings -> one shared Cal.com client -> account look-ups -> executor. Used by the app and from a shell.

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

from calbot.agent.account import Account, AccountError, load_account
from calbot.agent.executor import Executor
from calbot.agent.session import SessionState
from calbot.calcom import CalcomClient
from calbot.config import Settings


@dataclass
class Calendar:
    settings: Settings
    client: CalcomClient
    account: Account
    executor: Executor

    @classmethod
    async def connect(cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Calendar:
        """Open the client and look the account up once. Raises AccountError with a sentence naming the variable."""
        key = settings.cal_api_key_value
        if not key:
            raise AccountError("CAL_API_KEY is not set: create a key in Cal.com > Settings > Developer > API keys "
                               "and set CAL_API_KEY.")
        client = CalcomClient(key, settings.cal_api_base_url, transport=transport)
        try:
            account = await load_account(client, settings.cal_event_type_id)
        except BaseException:
            await client.aclose()
            raise
        return cls(settings, client, account, Executor(client, account))

    def new_session(self, time_zone: str | None = None) -> SessionState:
        """A chat whose user is CAL_USER_EMAIL / CAL_USER_NAME (verified) when set; zone: browser, setting, host."""
        return self.executor.new_session(email=self.settings.cal_user_email, name=self.settings.cal_user_name,
                                         time_zone=time_zone or self.settings.calbot_timezone)

    async def aclose(self) -> None:
        await self.client.aclose()
