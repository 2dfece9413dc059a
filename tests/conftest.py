"""Shared pytest fixtures."""

from __future__ import annotations

import stamina as _stamina

# Retries keep their attempt counts in tests but never sleep (stamina's testing mode; cap: at most 3 attempts).
_stamina.set_testing(True, attempts=3, cap=True)

# -- Cal.com OpenAPI-validated respx router (tests/openapi_spec.py) -------------------------------------------------
from collections.abc import Iterator as _Iterator

import httpx as _httpx
import pytest as _pytest
import respx as _respx

from tests.openapi_spec import is_success_envelope as _is_success_envelope
from tests.openapi_spec import validate_request as _validate_request
from tests.openapi_spec import validate_response as _validate_response


class SpecValidatingRouter(_respx.MockRouter):
    """A respx MockRouter that checks traffic against the Cal.com v2 OpenAPI document while it is sent.

    Every request goes through `validate_request` before a route answers it; every 2xx answer whose body is a
    `{"status": "success", ...}` envelope goes through `validate_response`. A mismatch raises AssertionError out of
    the httpx call (the client under test does not catch it) and is remembered in `spec_failures`, so the test also
    fails at teardown if something swallowed the exception. Set `validate_responses = False` for a test that feeds
    deliberately off-spec success bodies.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validate_responses = True
        self.spec_failures: list[str] = []

    def _check(self, check, *args) -> None:
        try:
            check(*args)
        except AssertionError as exc:
            self.spec_failures.append(str(exc))
            raise

    def _check_response(self, request: _httpx.Request, response: _httpx.Response) -> None:
        if self.validate_responses and _is_success_envelope(response):
            self._check(_validate_response, request, response)

    def handler(self, request: _httpx.Request) -> _httpx.Response:
        self._check(_validate_request, request)
        response = super().handler(request)
        self._check_response(request, response)
        return response

    async def async_handler(self, request: _httpx.Request) -> _httpx.Response:
        self._check(_validate_request, request)
        response = await super().async_handler(request)
        self._check_response(request, response)
        return response


@_pytest.fixture
def calcom_mock() -> _Iterator[SpecValidatingRouter]:
    """respx router for https://api.cal.com/v2 (assert_all_called=False) that validates every call against the spec."""
    router = SpecValidatingRouter(base_url="https://api.cal.com/v2", assert_all_called=False)
    with router:
        yield router
        failures = list(router.spec_failures)
    if failures:
        _pytest.fail(f"{len(failures)} call(s) did not match the Cal.com OpenAPI document:\n\n"
                     + "\n\n".join(failures), pytrace=False)
