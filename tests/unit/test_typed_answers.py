"""Typed confirmation's grammar (calbot/booking/answers.py, issue 19): only a plain yes or no decides; anything else
goes to the model."""

from __future__ import annotations

import pytest

from calbot.booking.answers import typed_answer


@pytest.mark.parametrize("text", [
    "yes", "Yes!", "yes please", "Yes, please.", "confirm", "Confirm please", "do it", "go ahead", "ok", "OK book it",
    "ok, book it", "book it please", "yep 👍", "sure", "yes confirm", "thanks, yes",
    "Ja bitte", "oui", "sí, por favor", "va bene", "sim", "  YES  ",
])
def test_a_plain_yes_confirms_a_booking(text: str) -> None:
    assert typed_answer(text, "book") == "confirm"


@pytest.mark.parametrize("text", ["move it", "yes, move it", "reschedule it please", "ok"])
def test_a_plain_yes_confirms_a_move(text: str) -> None:
    assert typed_answer(text, "reschedule") == "confirm"


@pytest.mark.parametrize("text", ["no", "No.", "nope", "no thanks", "discard", "cancel that", "never mind",
                                  "forget it", "nein", "non merci", "no gracias", "não"])
def test_a_plain_no_discards_a_booking(text: str) -> None:
    assert typed_answer(text, "book") == "discard"


@pytest.mark.parametrize("text", [
    "yes but at 4pm", "no, make it 4pm instead", "book it for Friday", "what about tomorrow?", "yes yes",
    "please", "thanks", "", "   ", "🙂", "is it free?", "yes and cancel my 3pm", "ok " * 9,
    "book it", "move it",  # the verb of another action
])
def test_anything_else_goes_to_the_model(text: str) -> None:
    assert typed_answer(text, "cancel") is None


@pytest.mark.parametrize("text", ["cancel it", "cancel that", "cancel"])
def test_cancel_it_answers_a_cancel_proposal_neither_way(text: str) -> None:
    assert typed_answer(text, "cancel") is None
    assert typed_answer(text, "book") == "discard"


def test_yes_confirms_a_cancel_proposal_and_no_discards_it() -> None:
    assert typed_answer("yes please", "cancel") == "confirm"
    assert typed_answer("no", "cancel") == "discard"
