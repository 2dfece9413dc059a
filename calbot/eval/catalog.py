"""Every scenario of the evaluation harness, by name (the order of the table)."""

from __future__ import annotations

from calbot.eval import scenarios_book, scenarios_change
from calbot.eval.scenario import Scenario

ALL: list[Scenario] = [*scenarios_book.SCENARIOS, *scenarios_change.SCENARIOS]
BY_NAME: dict[str, Scenario] = {scenario.name: scenario for scenario in ALL}
if len(BY_NAME) != len(ALL):  # pragma: no cover - a catalogue mistake
    raise ValueError("two scenarios share a name")


def select(names: str | None) -> list[Scenario]:
    """The scenarios named (comma-separated), or all; ValueError naming an unknown one."""
    if not names:
        return list(ALL)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in wanted]
