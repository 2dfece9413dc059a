"""`--user-model`: an LLM plays the user from the scenario's goal (tau-bench's simulated user).

The user model sees calbot's side of the chat as the other party (roles swapped: calbot's replies are its "user"
messages, its own lines are "assistant" messages) and answers with the next message the person types; CONFIRM or
DISCARD presses the button of the proposal on screen, DONE ends the dialogue. It gets the goal, the day and the zone,
never the expected end state. At most MAX_TURNS turns.
"""

from __future__ import annotations

import re
from typing import Any

import openai

from calbot.eval.runner import Dialogue
from calbot.eval.scenario import UserTurn
from calbot.timezones import format_when

MAX_TURNS = 10
BUTTON = re.compile(r"^\W*(CONFIRM|DISCARD|DONE)\W*$", re.IGNORECASE)

SYSTEM = """\
You are role-playing a person, {name}, chatting with calbot, a scheduling assistant for a Cal.com calendar. \
Stay in character; you are the person, not an assistant.
Your goal: {goal}
It is now {now}; you are in {zone}.
Write only the next message you type: short and natural, one or two sentences. Give details only as your goal says \
(if the goal gives them one at a time, wait to be asked). Never invent details your goal does not give.
When calbot shows a proposal with Confirm and Discard buttons, answer exactly CONFIRM to press Confirm or DISCARD to \
press Discard (or type a message instead, if your goal says to type).
When your goal is reached, or cannot be reached, answer exactly DONE."""


class SimulatedUser:
    def __init__(self, client: openai.AsyncOpenAI, model: str) -> None:
        self.client = client
        self.model = model
        self.calls = 0
        self.tokens = 0

    async def play(self, dialogue: Dialogue) -> None:
        scenario = dialogue.scenario
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM.format(name="Ana Diaz", goal=scenario.goal, zone=scenario.user_zone,
                                                        now=format_when(scenario.now, scenario.user_zone))},
            {"role": "user", "content": "(The chat window is open. Type your first message.)"}]
        for _ in range(MAX_TURNS):
            said = await self._ask(messages)
            turn = self.turn(said, proposal_open=dialogue.proposal_id is not None)
            if turn is None:
                return
            messages.append({"role": "assistant", "content": said})
            done = await dialogue.play(turn)
            shown = done.reply or "(no answer)"
            if dialogue.proposal_summary:
                shown += "\n[On screen: a proposal with Confirm and Discard buttons.]"
            messages.append({"role": "user", "content": shown})

    @staticmethod
    def turn(said: str, *, proposal_open: bool) -> UserTurn | None:
        """What the user model's answer does: a press, a typed message, or the end (None)."""
        match = BUTTON.match(said)
        if match is None:
            return UserTurn(kind="say", text=said) if said.strip() else None
        word = match.group(1).upper()
        if word == "DONE":
            return None
        if not proposal_open:  # nothing to press: the words go to calbot as typed
            return UserTurn(kind="say", text=said.strip())
        return UserTurn(kind="confirm" if word == "CONFIRM" else "discard")

    async def _ask(self, messages: list[dict[str, Any]]) -> str:
        answer = await self.client.chat.completions.create(model=self.model, messages=messages,  # type: ignore[arg-type]
                                                           temperature=0.7)
        self.calls += 1
        if answer.usage is not None:
            self.tokens += answer.usage.total_tokens
        return (answer.choices[0].message.content or "").strip() if answer.choices else ""
