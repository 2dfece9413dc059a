"""A plain yes or no typed on the page (issue 19) is shown exactly as the button's press: the proposal loses its
buttons and says what was answered, the outcome follows, and the model is not asked."""

from __future__ import annotations

import chainlit as cl

from calbot.channels import chainlit_app as app
from tests.app.test_app import BOOKED_START_UTC, bookings, open_proposal


async def test_typing_yes_books_once_and_shows_it_as_a_press(page, chat, model, sandbox):
    page.attach()
    proposal = await open_proposal(page, model)
    calls, mark = model.calls_count, page.mark()

    await app.on_message(cl.Message(content="yes please"))

    [made] = bookings(sandbox)
    assert made["start"].startswith(BOOKED_START_UTC)
    assert model.calls_count == calls
    assert proposal.actions == [] and "You answered **Confirm**" in proposal.content
    [result] = page.messages_since(mark)
    assert "Booked" in result.content and "Europe/Berlin" in result.content
    assert page.unexpected == []


async def test_typing_no_discards_and_says_so(page, chat, model, sandbox):
    page.attach()
    proposal = await open_proposal(page, model)
    mark = page.mark()

    await app.on_message(cl.Message(content="no"))

    assert bookings(sandbox) == []
    assert proposal.actions == [] and "You answered **Discard**" in proposal.content
    assert [m.content for m in page.messages_since(mark)] == ["Discarded: nothing was changed."]
