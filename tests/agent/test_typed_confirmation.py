"""Typed confirmation (issue 19): a plain yes or no typed while one proposal is open is the Confirm or Discard
button, decided by code without the model; anything else goes to the model and withdraws the proposal as before."""

from __future__ import annotations

import asyncio

from calbot.agent.loop import ProposalAnswered, ProposalWithdrawn
from calbot.chat import ChatService
from calbot.store.memory import MemoryStore
from tests.agent.conftest import assert_history_valid, bookings_in, calendar_requests
from testing.openai_fake import call, say

BOOK = call("book_meeting", start="2026-11-24T15:00", reason="budget review")


async def propose(service, model, state, events):
    model.on_user("book", BOOK)
    result = await service.handle_message(state, "book me tomorrow at 3pm about the budget review", events)
    assert result.outcome == "proposal"
    events.clear()
    return result.proposal


async def test_a_plain_yes_books_without_asking_the_model(service, model, sandbox, events):
    state = service.new_state()
    proposal = await propose(service, model, state, events)
    calls = model.calls_count

    result = await service.handle_message(state, "Yes please!", events)

    assert result.outcome == "typed_answer" and model.calls_count == calls
    [answered] = events.of(ProposalAnswered)
    assert (answered.proposal_id, answered.button, answered.outcome["status"]) == (proposal.id, "Confirm", "booked")
    assert len(calendar_requests(sandbox, "POST", "/v2/bookings")) == 1 and len(bookings_in(sandbox)) == 1
    assert state.proposal is None
    assert state.history[-2] == {"role": "user", "content": "Yes please!"}
    assert state.history[-1]["content"].startswith("[The user pressed Confirm] Booked")
    assert_history_valid(state.history)


async def test_a_plain_no_discards_without_asking_the_model(service, model, sandbox, events):
    state = service.new_state()
    proposal = await propose(service, model, state, events)
    calls = model.calls_count

    await service.handle_message(state, "no thanks", events)

    assert model.calls_count == calls
    [answered] = events.of(ProposalAnswered)
    assert (answered.button, answered.outcome["status"]) == ("Discard", "discarded")
    assert bookings_in(sandbox) == [] and state.proposal is None and state.pending_function is None
    assert (await service.confirm(state, proposal.id))["status"] == "discarded"  # a late click writes nothing
    assert bookings_in(sandbox) == []
    assert_history_valid(state.history)


async def test_yes_with_no_open_proposal_and_anything_else_go_to_the_model(service, model, sandbox, events):
    state = service.new_state()
    model.on_user(r"^yes$", say("Yes to what? Tell me what to book."))
    await service.handle_message(state, "yes", events)
    assert events.of(ProposalAnswered) == [] and model.calls_count == 1

    await propose(service, model, state, events)
    model.on_user("4pm", call("book_meeting", start="2026-11-24T16:00", reason="budget review"))
    result = await service.handle_message(state, "yes but at 4pm", events)
    assert events.of(ProposalAnswered) == [] and isinstance(events.all[0], ProposalWithdrawn)
    assert result.outcome == "proposal" and bookings_in(sandbox) == []


async def test_typed_yes_in_one_process_and_a_click_in_another_book_once(make_settings, model, sandbox, clock,
                                                                        events):
    store = MemoryStore()
    a, b = (ChatService(make_settings(), model_client=model.client(), sandbox=sandbox, clock=clock, store=store)
            for _ in range(2))
    try:
        model.on_user("book", BOOK)
        turn = await a.send("chat-1", "book me tomorrow at 3pm about the budget review", events)
        clicked, typed = await asyncio.gather(b.press_confirm("chat-1", turn.proposal.id),
                                              a.send("chat-1", "yes", events))
        assert len(bookings_in(sandbox)) == 1
        assert len(calendar_requests(sandbox, "POST", "/v2/bookings")) == 1
        saved = await a.load_chat("chat-1")
        assert saved.finished_proposals[turn.proposal.id]["status"] == "booked"
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_typed_yes_whose_chat_changed_meanwhile_keeps_its_booking(make_settings, model, sandbox, clock,
                                                                         events, monkeypatch):
    """Another process answers a message of this chat while the typed yes is being carried out: the yes's save is
    stale, and its outcome is merged into the newer chat (never lost: the booking was made)."""
    store = MemoryStore()
    a, b = (ChatService(make_settings(), model_client=model.client(), sandbox=sandbox, clock=clock, store=store)
            for _ in range(2))
    try:
        model.on_user("book", BOOK)
        model.on_user("hello", say("Hello."))
        turn = await a.send("chat-1", "book me tomorrow at 3pm about the budget review", events)
        original = a.confirm

        async def confirm_while_b_answers(state, proposal_id):
            outcome = await original(state, proposal_id)
            await b.send("chat-1", "hello", events)
            return outcome

        monkeypatch.setattr(a, "confirm", confirm_while_b_answers)
        await a.send("chat-1", "yes", events)

        saved = await a.load_chat("chat-1")
        outcome = saved.finished_proposals[turn.proposal.id]
        assert outcome["status"] == "booked" and saved.proposal is None
        assert outcome["booking"]["uid"] in saved.made_booking_uids
        texts = [m.get("content") for m in saved.history]
        assert "hello" in texts and "yes" in texts
        assert sum(str(t).startswith("[The user pressed Confirm]") for t in texts) == 1
        assert len(bookings_in(sandbox)) == 1
    finally:
        await a.aclose()
        await b.aclose()
