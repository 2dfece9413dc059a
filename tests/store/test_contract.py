"""The SessionStore contract, on every store (memory, SQLite, Postgres)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from calbot.booking.session import SessionState, User
from calbot.store import ChatSummary, SessionStore, StaleSessionError, StoreError
from calbot.store.base import TITLE_LENGTH
from calbot.store.memory import MemoryStore
from tests.store.conftest import FakeClock, OpenStore

SQL_ONLY = pytest.mark.backends("sqlite", "postgres")


def chat(owner: str | None = None, text: str = "book 30 minutes tomorrow at 3pm", **changes: object) -> SessionState:
    return SessionState(owner=owner, history=[{"role": "user", "content": text},
                                              {"role": "assistant", "content": "Done."}],
                        user=User(email=owner, email_verified=owner is not None), **changes)  # type: ignore[arg-type]


async def test_every_store_is_a_session_store(open_store: OpenStore) -> None:
    assert isinstance(await open_store(), SessionStore)


async def test_round_trip(open_store: OpenStore, clock: FakeClock) -> None:
    store = await open_store()
    state = chat("ana@example.com", pending_function="book_meeting", pending_arguments={"start": "15:00"})
    state.remember_made("uid-1")
    assert await store.load(state.chat_id) is None

    saved = await store.save(state, 0)
    assert saved.version == 1 and saved.last_activity == clock.now  # the store stamps the save
    assert state.version == 0  # the caller's object is left as it was
    loaded = await store.load(state.chat_id)
    assert loaded == saved
    assert loaded is not None and loaded.to_dict() == {**state.to_dict(), "version": 1,
                                                       "last_activity": clock.now.isoformat().replace("+00:00", "Z")}

    loaded.history.append({"role": "user", "content": "and another"})  # a loaded copy is not the stored one
    assert (await store.load(state.chat_id)) == saved


async def test_each_save_bumps_the_version(open_store: OpenStore, clock: FakeClock) -> None:
    store = await open_store()
    state = await store.save(chat(), 0)
    for version in (2, 3, 4):
        clock.advance(5)
        state.history.append({"role": "user", "content": f"turn {version}"})
        state = await store.save(state, state.version)
        assert state.version == version and state.last_activity == clock.now
    loaded = await store.load(state.chat_id)
    assert loaded is not None and loaded.version == 4 and loaded.history[-1]["content"] == "turn 4"


async def test_a_stale_version_is_refused_and_nothing_is_written(open_store: OpenStore) -> None:
    store = await open_store()
    first = await store.save(chat(), 0)
    ours = first.model_copy(deep=True)
    theirs = first.model_copy(deep=True)
    theirs.history.append({"role": "user", "content": "theirs"})
    await store.save(theirs, 1)  # another turn saved first: version 2

    ours.history.append({"role": "user", "content": "ours"})
    with pytest.raises(StaleSessionError) as caught:
        await store.save(ours, 1)
    assert isinstance(caught.value, StoreError) and caught.value.chat_id == first.chat_id
    with pytest.raises(StaleSessionError):
        await store.save(ours, 5)  # a version from the future is just as wrong
    loaded = await store.load(first.chat_id)
    assert loaded is not None and loaded.version == 2 and loaded.history[-1]["content"] == "theirs"


async def test_creating_a_chat_that_exists_or_updating_one_that_does_not_is_stale(open_store: OpenStore) -> None:
    store = await open_store()
    state = await store.save(chat(), 0)
    with pytest.raises(StaleSessionError):
        await store.save(state, 0)  # a second "new chat" with the same id
    never_saved = chat()
    with pytest.raises(StaleSessionError):
        await store.save(never_saved, 1)  # deleted or swept meanwhile: not silently re-created
    assert await store.load(never_saved.chat_id) is None


async def test_only_one_of_many_concurrent_saves_of_a_version_wins(open_store: OpenStore) -> None:
    store = await open_store()
    base = await store.save(chat(), 0)
    copies = [base.model_copy(deep=True, update={"pending_function": f"f{i}"}) for i in range(10)]
    results = await asyncio.gather(*(store.save(copy, 1) for copy in copies), return_exceptions=True)
    winners = [result for result in results if isinstance(result, SessionState)]
    assert len(winners) == 1
    assert all(isinstance(result, StaleSessionError) for result in results if result not in winners)
    assert await store.load(base.chat_id) == winners[0]


async def test_a_proposal_is_claimed_once(open_store: OpenStore) -> None:
    store = await open_store()
    assert await store.claim_proposal("chat-1", "p-1") is True
    assert await store.claim_proposal("chat-1", "p-1") is False
    assert await store.claim_proposal("chat-1", "p-2") is True  # another proposal
    assert await store.claim_proposal("chat-2", "p-1") is True  # the same id in another chat


async def test_many_concurrent_claims_have_exactly_one_winner(open_store: OpenStore) -> None:
    store = await open_store()
    results = await asyncio.gather(*(store.claim_proposal("chat-1", "p-1") for _ in range(25)))
    assert results.count(True) == 1


@SQL_ONLY
async def test_two_stores_over_one_database_share_chats_and_claims(open_store: OpenStore) -> None:
    """Two SqlStores = two engines, as two processes would have: a claim or a save in one counts in the other."""
    first, second = await open_store(), await open_store()
    results = await asyncio.gather(*(store.claim_proposal("chat-1", "p-1") for store in [first, second] * 10))
    assert results.count(True) == 1

    state = await first.save(chat(), 0)
    assert await second.load(state.chat_id) == state
    await second.save(state, 1)
    with pytest.raises(StaleSessionError):
        await first.save(state, 1)


async def test_list_shows_the_owners_chats_newest_first(open_store: OpenStore, clock: FakeClock) -> None:
    store = await open_store()
    saved = []
    for text in ["first chat", "second chat", "third chat"]:
        clock.advance(60)
        saved.append(await store.save(chat("ana@example.com", text), 0))
    await store.save(chat("bob@example.com", "bob's"), 0)
    await store.save(chat(None, "anonymous"), 0)
    clock.advance(60)
    saved[0] = await store.save(saved[0], 1)  # the first chat goes on: now the newest

    listed = await store.list("ana@example.com")
    assert [item.title for item in listed] == ["first chat", "third chat", "second chat"]
    assert listed[0] == ChatSummary(chat_id=saved[0].chat_id, owner="ana@example.com", title="first chat",
                                    last_activity=clock.now, version=2)
    assert [item.title for item in await store.list("bob@example.com")] == ["bob's"]
    assert await store.list("carol@example.com") == []


async def test_a_long_first_message_makes_a_short_title(open_store: OpenStore) -> None:
    store = await open_store()
    await store.save(chat("ana@example.com", "  book   a meeting " + "x" * 300), 0)
    await store.save(SessionState(owner="ana@example.com"), 0)  # nothing typed yet
    titles = sorted(item.title for item in await store.list("ana@example.com"))
    assert titles[0] == "" and len(titles[1]) == TITLE_LENGTH
    assert titles[1].startswith("book a meeting xxx") and titles[1].endswith("…")


async def test_delete(open_store: OpenStore) -> None:
    store = await open_store()
    kept, gone = await store.save(chat("ana@example.com"), 0), await store.save(chat("ana@example.com"), 0)
    assert await store.claim_proposal(gone.chat_id, "p-1")
    await store.delete(gone.chat_id)
    await store.delete("no-such-chat")  # nothing to delete is not an error
    assert await store.load(gone.chat_id) is None
    assert await store.load(kept.chat_id) == kept
    assert [item.chat_id for item in await store.list("ana@example.com")] == [kept.chat_id]
    with pytest.raises(StaleSessionError):
        await store.save(gone, 1)  # a turn that loaded it before the delete does not bring it back


async def test_sweep_removes_expired_anonymous_chats_and_keeps_fresh_and_owned_ones(open_store: OpenStore,
                                                                                   clock: FakeClock) -> None:
    store = await open_store(ttl=3600)
    start = clock.now
    old_anonymous = await store.save(chat(None), 0)
    old_owned = await store.save(chat("ana@example.com"), 0)
    assert await store.claim_proposal(old_anonymous.chat_id, "p-1")
    clock.advance(1800)
    fresh_anonymous = await store.save(chat(None), 0)

    assert await store.sweep(start + timedelta(seconds=3599)) == 0  # not yet an hour since the first save
    assert await store.sweep(start + timedelta(seconds=3601)) == 1
    assert await store.load(old_anonymous.chat_id) is None
    assert await store.load(fresh_anonymous.chat_id) == fresh_anonymous
    assert await store.load(old_owned.chat_id) == old_owned  # chats with an owner do not expire by default
    assert await store.claim_proposal(old_anonymous.chat_id, "p-1") is True  # its claims went with it

    assert await store.sweep(start + timedelta(seconds=1800 + 3601)) == 1
    assert await store.load(fresh_anonymous.chat_id) is None


async def test_sweep_expires_owned_chats_after_the_owner_ttl_when_one_is_set(open_store: OpenStore,
                                                                            clock: FakeClock) -> None:
    store = await open_store(ttl=60, owner_ttl=86400)
    owned = await store.save(chat("ana@example.com"), 0)
    assert await store.sweep(clock.now + timedelta(hours=23)) == 0
    assert await store.sweep(clock.now + timedelta(hours=25)) == 1
    assert await store.load(owned.chat_id) is None


async def test_a_save_after_a_while_keeps_a_chat_alive(open_store: OpenStore, clock: FakeClock) -> None:
    store = await open_store(ttl=3600)
    state = await store.save(chat(None), 0)
    clock.advance(3000)
    state = await store.save(state, 1)
    assert await store.sweep(clock.now + timedelta(seconds=1000)) == 0
    assert await store.load(state.chat_id) == state


def test_memory_store_default_ttl_is_an_hour() -> None:
    assert MemoryStore().ttl == timedelta(hours=1)
