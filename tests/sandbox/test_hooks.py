"""The sandbox's test hooks in-process: only with test_hooks, and faults matched as documented."""

from __future__ import annotations

import httpx

from calbot.sandbox import SANDBOX_API_KEY
from tests.sandbox.conftest import ORIGIN

ME = {"cal-api-version": "2024-08-13", "Authorization": f"Bearer {SANDBOX_API_KEY}"}


async def test_without_the_test_flag_no_hook_exists(make_sandbox):
    sandbox = make_sandbox(test_hooks=False)
    async with httpx.AsyncClient(base_url=ORIGIN, transport=sandbox.transport()) as http:
        for method, path in [("GET", "/_sandbox/state"), ("POST", "/_sandbox/reset"), ("GET", "/_sandbox/faults"),
                             ("POST", "/_sandbox/faults"), ("GET", "/_sandbox/requests")]:
            assert (await http.request(method, path, json={"status": 500})).status_code == 404, path
        assert (await http.get("/health")).json() == {"status": "ok", "calendar": "sandbox"}
        assert (await http.get("/v2/me", headers=ME)).status_code == 200  # and no fault was installed


async def test_a_fault_matches_its_method_in_any_case_and_only_that_method(make_sandbox):
    sandbox = make_sandbox()
    async with httpx.AsyncClient(base_url=ORIGIN, transport=sandbox.transport()) as http:
        added = await http.post("/_sandbox/faults", json={"method": "get", "path": "^/v2/me$", "status": 503})
        assert added.status_code == 201 and added.json()["faults"][0]["method"] == "GET"
        assert (await http.post("/v2/me", headers=ME)).status_code == 404  # another method: untouched, no route
        faulted = await http.get("/v2/me", headers=ME)
        assert faulted.status_code == 503
        assert faulted.json()["error"]["code"] == "ServiceUnavailableException"
        assert (await http.get("/v2/me", headers=ME)).status_code == 200  # used up
        assert (await http.get("/_sandbox/faults")).json() == {"faults": []}
        seen = [(r["method"], r["path"], r["status"]) for r in (await http.get("/_sandbox/requests")).json()["requests"]]
        assert seen == [("POST", "/v2/me", 404), ("GET", "/v2/me", 503), ("GET", "/v2/me", 200)]
