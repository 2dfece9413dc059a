"""When the user must choose: a lookup by time that matched several meetings, or none (offering the nearest).

"Cancel my 3pm meeting" with two meetings at 3pm must not become a proposal for whichever the model lists first.
The list result says so (`ambiguous`, `ask_user`), the page asks, and code holds the line: in the turn of that
lookup, a cancel or reschedule proposal for one of those meetings is refused with a sentence telling the model to
ask. The user's answer is a new message, so the next turn may propose it. The state is in the session, so it holds
whichever process serves the next message.
"""

from __future__ import annotations

from calbot.booking.session import SessionState


def _turn(state: SessionState) -> list[int]:
    """Which turn this is: the loop counts the messages it answers, and the history grows when a turn ends (either
    alone could repeat: calls without the loop count nothing, and trimming old turns can leave the length as it was)."""
    return [state.turns_started, len(state.history)]


def require_choice(state: SessionState, uids: list[str]) -> None:
    """The user has to say which of `uids` they mean before any of them is proposed in this turn."""
    state.choice_uids, state.choice_turn = list(uids), _turn(state)


def clear_choice(state: SessionState) -> None:
    state.choice_uids, state.choice_turn = [], []


def needs_choice(state: SessionState, uid: str) -> bool:
    """True while `uid` is one of the meetings of this turn's unclear lookup."""
    return uid in state.choice_uids and state.choice_turn == _turn(state)
