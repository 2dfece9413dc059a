"""One exception hierarchy: every error calbot raises on purpose is a CalbotError (issue 16)."""

from __future__ import annotations

import pytest

from calbot.booking.account import AccountError
from calbot.booking.slots import StartRefused
from calbot.calcom import errors as calcom_errors
from calbot.errors import CalbotError
from calbot.timezones import AmbiguousLocalTimeError, NonexistentLocalTimeError, TimeInputError, UnknownTimeZoneError
from calbot.validation import InvalidEmailError
from calbot.web_guard import OriginError

CALCOM_ERRORS = [value for value in vars(calcom_errors).values()
                 if isinstance(value, type) and issubclass(value, BaseException)]


@pytest.mark.parametrize("error", [AccountError, TimeInputError, UnknownTimeZoneError, NonexistentLocalTimeError,
                                   AmbiguousLocalTimeError, StartRefused, InvalidEmailError, OriginError,
                                   *CALCOM_ERRORS], ids=lambda e: e.__name__)
def test_every_error_calbot_raises_on_purpose_is_a_calbot_error(error: type[BaseException]) -> None:
    assert issubclass(error, CalbotError)


@pytest.mark.parametrize("error", [TimeInputError, InvalidEmailError, OriginError], ids=lambda e: e.__name__)
def test_input_errors_are_still_value_errors(error: type[BaseException]) -> None:
    """pydantic turns a ValueError raised in a validator into a validation error with the sentence: kept."""
    assert issubclass(error, ValueError)


def test_store_errors_are_calbot_errors() -> None:
    from calbot.store import StaleSessionError, StoreError, StoreUnavailableError
    for error in (StoreError, StaleSessionError, StoreUnavailableError):
        assert issubclass(error, CalbotError)
