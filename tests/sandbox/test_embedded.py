"""A fresh clone with no Cal.com key: calbot.runtime.Calendar.connect opens the embedded sandbox calendar, and a chat
books, lists, reschedules and cancels through the executor (call + confirm), the result kept in the SQLite file.
With CAL_API_KEY set, the same call talks to Cal.com and never opens the sandbox.

These run on the real clock, exactly as the app does (the sandbox applies Cal.com's default two-hour minimum notice),
so the times are picked from what check_availability offers from tomorrow on.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from calbot.booking.account import AccountError
from calbot.config import load_settings
from calbot.runtime import Calendar
from calbot.sandbox import SANDBOX_API_KEY, Sandbox
from tests.http.cal_payloads import envelope, event_type_json, me_json
from tests.sandbox.conftest import SpecCheckingTransport

CAL_VARS = ["CAL_API_KEY", "CAL_API_BASE_URL", "CAL_EVENT_TYPE_ID", "CAL_USER_EMAIL", "CAL_USER_NAME",
            "CALBOT_TIMEZONE", "CALBOT_SANDBOX_DB"]
USER = "ana@example.com"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in CAL_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)  # no ./.env from the project


@pytest.fixture(autouse=True)
def spec_checked_sandbox(monkeypatch: pytest.MonkeyPatch):
    """Every exchange between the app's client and the embedded sandbox is checked against the OpenAPI document."""
    transports: list[SpecCheckingTransport] = []

    def transport(self: Sandbox) -> SpecCheckingTransport:
        transports.append(SpecCheckingTransport(httpx.ASGITransport(app=self.server.app)))
        return transports[-1]

    monkeypatch.setattr(Sandbox, "transport", transport)
    yield transports
    failures = [f for t in transports for f in t.failures]
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


def fresh_clone_settings(db: Path):
    return load_settings(calbot_sandbox_db=str(db), cal_user_email=USER, cal_user_name="Ana Diaz")


def rows(db: Path) -> dict[str, dict]:
    """The bookings in the sandbox's SQLite file, by uid (read with plain sqlite3, not through calbot)."""
    with closing(sqlite3.connect(db)) as con:
        found = con.execute("SELECT uid, status, start_ms, data FROM bookings").fetchall()
    return {uid: {"status": status, "start_ms": start_ms, **json.loads(data)} for uid, status, start_ms, data in found}


def ms(iso_utc: str) -> int:
    return int(datetime.fromisoformat(iso_utc.replace("Z", "+00:00")).timestamp() * 1000)


async def test_without_a_key_a_chat_books_lists_moves_and_cancels_in_the_sandbox(tmp_path: Path,
                                                                                spec_checked_sandbox):
    db = tmp_path / "state" / "sandbox.db"
    settings = fresh_clone_settings(db)
    assert settings.cal_api_key is None and settings.calendar == "sandbox" and settings.calendar_notice

    calendar = await Calendar.connect(settings)
    try:
        assert calendar.is_sandbox and calendar.owns_sandbox
        assert calendar.account.owner_email != USER  # the user is an attendee, not the calendar's owner
        state = calendar.new_session()
        assert state.user.email == USER and state.user.email_verified and state.user.time_zone == "Europe/London"
        executor = calendar.executor

        # availability from tomorrow (in the user's zone) on: two free starts on two different days
        tomorrow = datetime.now(ZoneInfo(state.user.time_zone)).date() + timedelta(days=1)
        free = await executor.call(state, "check_availability", {
            "date": tomorrow.isoformat(), "end_date": (tomorrow + timedelta(days=13)).isoformat()})
        assert free["ok"] and len(free["days"]) >= 2, free
        first, second = (f"{d['date']}T{d['free_local'][0].split('-')[0]}" for d in free["days"][:2])
        assert all(date.fromisoformat(d["date"]).weekday() < 5 for d in free["days"])  # Mon-Fri only

        # book
        proposal = await executor.call(state, "book_meeting", {"start": first, "reason": "Intro call"})
        assert proposal["status"] == "awaiting_confirmation", proposal
        assert rows(db) == {}  # a proposal writes nothing
        booked = await executor.confirm(state, proposal["proposal_id"])
        assert booked["status"] == "booked", booked
        uid = booked["booking"]["uid"]
        assert booked["booking"]["start_local"] == first

        # list
        listed = await executor.call(state, "list_meetings", {})
        assert [m["uid"] for m in listed["meetings"]] == [uid]
        assert listed["meetings"][0]["untrusted"]["reason"] == "Intro call"

        # reschedule
        move = await executor.call(state, "reschedule_meeting", {"booking_uid": uid, "new_start": second})
        assert move["status"] == "awaiting_confirmation", move
        moved = await executor.confirm(state, move["proposal_id"])
        assert moved["status"] == "rescheduled" and moved["old_uid"] == uid, moved
        new_uid = moved["booking"]["uid"]
        assert new_uid != uid and moved["booking"]["start_local"] == second

        # cancel
        cancel = await executor.call(state, "cancel_meeting", {"booking_uid": new_uid, "reason": "Not needed"})
        assert cancel["status"] == "awaiting_confirmation", cancel
        cancelled = await executor.confirm(state, cancel["proposal_id"])
        assert cancelled["status"] == "cancelled", cancelled
        assert (await executor.call(state, "list_meetings", {}))["meetings"] == []
        start_utc = moved["booking"]["start_utc"]
    finally:
        await calendar.aclose()
    # every exchange went through the spec check, writes included
    sent = [(r.method, r.url.path) for t in spec_checked_sandbox for r, _ in t.exchanges]
    assert ("POST", "/v2/bookings") in sent and len(sent) >= 10, sent

    # the SQLite file holds the result
    stored = rows(db)
    assert set(stored) == {uid, new_uid}
    old, new = stored[uid], stored[new_uid]
    assert old["status"] == "cancelled" and old["rescheduledToUid"] == new_uid
    assert old["attendees"][0]["email"] == USER and old["bookingFieldsResponses"]["notes"] == "Intro call"
    assert new["status"] == "cancelled" and new["cancellationReason"] == "Not needed"
    assert new["rescheduledFromUid"] == uid and new["start_ms"] == ms(start_utc)
    assert new["metadata"]["source"] == "calbot"

    # and it survives a restart: a new connection to the same file sees the cancelled meetings
    again = await Calendar.connect(fresh_clone_settings(db))
    try:
        history = await again.executor.call(again.new_session(), "list_meetings", {"status": "cancelled"})
        assert sorted(m["uid"] for m in history["meetings"]) == sorted([uid, new_uid])
    finally:
        await again.aclose()


async def test_with_a_key_calbot_talks_to_cal_com_not_the_sandbox(tmp_path: Path, calcom_mock):
    db = tmp_path / "sandbox.db"
    me = calcom_mock.get("/me").respond(200, json=envelope(me_json()))
    types = calcom_mock.get("/event-types").respond(200, json=envelope([event_type_json()]))
    settings = load_settings(cal_api_key="cal_test_realkey123", calbot_sandbox_db=str(db), cal_user_email=USER)
    assert settings.calendar == "cal.com" and settings.calendar_notice is None

    calendar = await Calendar.connect(settings)
    try:
        assert not calendar.is_sandbox and calendar.sandbox is None
        assert calendar.account.owner_email == "hana@example.com" and calendar.account.event_type.id == 123
        assert me.call_count == 1 and types.call_count == 1
        sent: httpx.Request = me.calls.last.request
        assert sent.url.host == "api.cal.com" and sent.headers["authorization"] == "Bearer cal_test_realkey123"
        assert SANDBOX_API_KEY not in sent.headers["authorization"]
    finally:
        await calendar.aclose()
    assert not db.exists()  # the sandbox was never opened


async def test_an_unusable_sandbox_file_is_a_sentence_naming_the_variable(tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the sandbox wants a folder")
    settings = load_settings(calbot_sandbox_db=str(blocker / "sandbox.db"))
    with pytest.raises(AccountError) as caught:
        await Calendar.connect(settings)
    message = str(caught.value)
    assert "CALBOT_SANDBOX_DB" in message and "CAL_API_KEY" in message and str(blocker) in message
