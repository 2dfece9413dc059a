"""The AccountStore on SQLite and Postgres: add, get, list, passwords, zones, disable, remove, and authenticate with
its throttling on a fake clock."""

from __future__ import annotations

import logging

import pytest
from argon2 import PasswordHasher

from calbot.accounts import AccountError, AccountStore, LoginThrottled
from tests.accounts.conftest import FAST
from tests.store.conftest import FakeClock

PASSWORD = "correct horse battery"


async def test_add_get_list_and_the_errors(store: AccountStore) -> None:
    added = await store.add("Ana@Example.COM", PASSWORD, name="Ana", time_zone="US/Eastern")
    assert added.email == "ana@example.com" and added.time_zone == "America/New_York" and not added.disabled
    assert await store.get("ANA@example.com") == added
    assert [a.email for a in await store.list()] == ["ana@example.com"]
    with pytest.raises(AccountError, match="already exists"):
        await store.add("ana@example.com", PASSWORD)
    with pytest.raises(AccountError, match="not a valid email"):
        await store.add("not-an-email", PASSWORD)
    with pytest.raises(AccountError, match="time zone"):
        await store.add("bo@example.com", PASSWORD, time_zone="localtime")
    with pytest.raises(AccountError, match="empty"):
        await store.add("bo@example.com", "")
    with pytest.raises(AccountError, match="at least 8"):
        await store.add("bo@example.com", "short")
    assert await store.count_active() == 1


async def test_password_zone_disable_remove(store: AccountStore) -> None:
    await store.add("ana@example.com", PASSWORD)
    await store.set_password("ana@example.com", "another password")
    assert await store.authenticate("ana@example.com", PASSWORD, "1.2.3.4") is None
    assert (await store.authenticate("ana@example.com", "another password", "1.2.3.4")) is not None
    await store.set_time_zone("ana@example.com", "Europe/Berlin")
    assert (await store.get("ana@example.com")).time_zone == "Europe/Berlin"  # type: ignore[union-attr]
    await store.disable("ana@example.com")
    assert await store.count_active() == 0
    assert await store.authenticate("ana@example.com", "another password", "1.2.3.4") is None
    await store.remove("ana@example.com")
    assert await store.get("ana@example.com") is None
    for change in (store.disable("ana@example.com"), store.remove("ana@example.com"),
                   store.set_password("ana@example.com", PASSWORD)):
        with pytest.raises(AccountError, match="no account"):
            await change


async def test_five_failures_for_an_email_throttle_it_and_a_success_clears_them(store: AccountStore,
                                                                                clock: FakeClock) -> None:
    await store.add("ana@example.com", PASSWORD)
    for n in range(5):
        assert await store.authenticate("ana@example.com", "wrong password", f"10.0.0.{n}") is None
        clock.advance(60)
    with pytest.raises(LoginThrottled) as caught:
        await store.authenticate("ana@example.com", PASSWORD, "10.0.0.9")
    assert caught.value.wait_seconds == 15 * 60 - 5 * 60
    clock.advance(caught.value.wait_seconds)  # the first failure leaves the window
    assert await store.authenticate("ana@example.com", PASSWORD, "10.0.0.9") is not None
    for _ in range(4):  # the success cleared the email's failures: four more do not throttle
        assert await store.authenticate("ana@example.com", "wrong password", "10.0.0.10") is None
    assert await store.authenticate("ana@example.com", PASSWORD, "10.0.0.11") is not None


async def test_five_failures_from_one_client_throttle_it_across_emails(store: AccountStore) -> None:
    await store.add("ana@example.com", PASSWORD)
    for n in range(5):
        assert await store.authenticate(f"nobody{n}@example.com", "whatever1", "6.6.6.6") is None
    with pytest.raises(LoginThrottled):
        await store.authenticate("ana@example.com", PASSWORD, "6.6.6.6")
    assert await store.authenticate("ana@example.com", PASSWORD, "7.7.7.7") is not None


async def test_throttling_holds_across_processes(accounts_url: str, clock: FakeClock) -> None:
    first = await AccountStore.open(accounts_url, clock=clock, hasher=FAST)
    second = await AccountStore.open(accounts_url, clock=clock, hasher=FAST)
    try:
        await first.add("ana@example.com", PASSWORD)
        for _ in range(5):
            await first.authenticate("ana@example.com", "wrong password", "1.1.1.1")
        with pytest.raises(LoginThrottled):
            await second.authenticate("ana@example.com", PASSWORD, "2.2.2.2")
    finally:
        await first.close()
        await second.close()


async def test_unknown_email_is_verified_against_a_dummy_hash(store: AccountStore, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    original = store._verify
    monkeypatch.setattr(store, "_verify", lambda digest, password: seen.append(digest) or original(digest, password))
    assert await store.authenticate("nobody@example.com", PASSWORD, "1.1.1.1") is None
    assert seen and seen[0].startswith("$argon2")


async def test_an_old_hash_is_replaced_on_login(accounts_url: str, clock: FakeClock) -> None:
    weak = await AccountStore.open(accounts_url, clock=clock, hasher=FAST)
    await weak.add("ana@example.com", PASSWORD)
    await weak.close()
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    store = await AccountStore.open(accounts_url, clock=clock, hasher=stronger)
    try:
        assert await store.authenticate("ana@example.com", PASSWORD, "1.1.1.1") is not None
        async with store.engine.connect() as conn:
            import sqlalchemy as sa
            digest = await conn.scalar(sa.text("SELECT password_hash FROM accounts"))
        assert not stronger.check_needs_rehash(digest)
    finally:
        await store.close()


async def test_nothing_about_the_password_or_hash_is_logged(store: AccountStore,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await store.add("ana@example.com", PASSWORD)
    await store.authenticate("ana@example.com", "wrong password", "1.1.1.1")
    await store.authenticate("ana@example.com", PASSWORD, "1.1.1.1")
    text = caplog.text
    assert PASSWORD not in text and "wrong password" not in text and "$argon2" not in text
