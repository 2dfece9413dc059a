"""What every test folder and the bench share: the fixed clock and a clean environment.

- FIXED_NOW: Monday 23 November 2026, 08:00 UTC (09:00 in Berlin; the sandbox host works 09:00-17:00 Europe/London,
  so the whole working day is still ahead). Every test that freezes time uses this instant.
- clear_settings_env(monkeypatch): no CAL_*/CALBOT_*/OPENAI_*/CHAINLIT_* variable of the developer's shell reaches
  the settings a test loads (SETTING_PREFIXES; processes started by tests drop the same ones).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

FIXED_NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SETTING_PREFIXES = ("CAL_", "CALBOT_", "OPENAI_", "CHAINLIT_")


def clear_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name, raising=False)
