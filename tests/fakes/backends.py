"""Run one test suite against two Cal.com backends: "respx" (FakeCalcom behind the spec-validating `calcom_mock`
router of tests/conftest.py) and "sandbox" (calbot's sandbox calendar in-process over httpx.ASGITransport, every
exchange checked against the OpenAPI document by SpecCheckingTransport). Both offer the same test helpers.

    # `backend` (params "respx", "sandbox") comes from tests/conftest.py
    @pytest.fixture
    def fake(backend, request):
        yield from open_fake(backend, NOW, request)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.fakes.calcom_fake import FakeCalcom
from tests.fakes.sandbox_calcom import SandboxCalcom

BACKENDS = ["respx", "sandbox"]
AnyFake = FakeCalcom | SandboxCalcom


def open_fake(backend: str, now: datetime, request: pytest.FixtureRequest) -> Iterator[AnyFake]:
    """The generator body of a `fake` fixture for `backend`."""
    if backend == "respx":
        fake = FakeCalcom(now=now)
        fake.install(request.getfixturevalue("calcom_mock"))  # fails the test on off-spec traffic
        yield fake
        return
    sandbox = SandboxCalcom(now)
    try:
        yield sandbox
    finally:
        sandbox.close()
    if sandbox.spec_failures:
        pytest.fail(f"{len(sandbox.spec_failures)} exchange(s) did not match the Cal.com OpenAPI document:\n\n"
                    + "\n\n".join(sandbox.spec_failures), pytrace=False)
