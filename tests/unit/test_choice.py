"""calbot.booking.choice: the turn of an unclear lookup, and only that turn, refuses a pick without the user's word."""

from __future__ import annotations

from calbot.booking.session import SessionState
from calbot.booking.choice import clear_choice, needs_choice, require_choice


def chat_of(turns: int) -> SessionState:
    state = SessionState()
    for n in range(turns):
        state.history += [{"role": "user", "content": f"message {n}"}, {"role": "assistant", "content": "ok"}]
    return state


def test_only_the_meetings_of_this_turns_lookup_wait_for_the_user():
    state = chat_of(1)
    state.answering("cancel my 3pm meeting")
    require_choice(state, ["dentist", "standup"])
    assert needs_choice(state, "dentist") and needs_choice(state, "standup") and not needs_choice(state, "other")
    clear_choice(state)  # a later lookup in the same turn found exactly one
    assert not needs_choice(state, "dentist")


def test_a_new_turn_ends_the_wait_even_when_trimming_kept_the_history_as_long():
    """A chat at the stored-history bound: the turn's messages are added and the oldest turn dropped, so the history
    is as long as before; the user's answer is still a new turn."""
    state = chat_of(60)
    state.answering("cancel my 3pm meeting")
    require_choice(state, ["dentist", "standup"])
    state.answering(None)
    state.history = state.history[2:] + [{"role": "user", "content": "cancel my 3pm meeting"},
                                         {"role": "assistant", "content": "Which one?"}]
    state.answering("the dentist")
    assert not needs_choice(state, "dentist")


def test_the_wait_survives_a_round_trip_through_the_store():
    state = chat_of(2)
    state.answering("cancel my 3pm meeting")
    require_choice(state, ["dentist"])
    again = SessionState.from_json(state.to_json())
    assert needs_choice(again, "dentist")
