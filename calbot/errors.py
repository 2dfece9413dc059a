"""The root of calbot's exceptions: every error calbot raises on purpose is a CalbotError, and its `str()` is a
sentence that can be shown as it is (it names what to change) or turned into one by calbot.explain.

    CalbotError
    ├── CalcomError            Cal.com could not do what was asked (calbot.calcom.errors: network, API, budget)
    ├── AccountError           the Cal.com account cannot be used as configured (calbot.booking.account)
    ├── TimeInputError         a date, time or zone that cannot be used (calbot.timezones; also a ValueError)
    ├── InvalidEmailError      an email address that cannot be used (calbot.validation; also a ValueError)
    └── OriginError            a value that is not a web origin (calbot.web_guard; also a ValueError)

A front door catches CalbotError for the sentences it knows and treats anything else as a bug (logged, and the one
generic sentence shown).
"""

from __future__ import annotations


class CalbotError(Exception):
    """Base class of the errors calbot raises on purpose."""
