"""The evaluation harness checks itself (issue 20): the scripted model scores 100% on every scenario, deliberately
broken variants of it score visibly lower, the JSON has the documented shape, and the other paths (a model over HTTP,
an LLM playing the user, the token meter) work. This quick scripted run is the CI check of the harness."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from calbot.eval.__main__ import main, run_eval
from calbot.eval.catalog import ALL, BY_NAME, select
from calbot.eval.runner import Backend, run_try
from calbot.eval.user_sim import SimulatedUser
from testing.openai_fake import ModelServer, ScriptedModel, call, say

BOOK = call("book_meeting", start="2026-11-24T15:00", reason="budget review")


def test_there_are_at_least_30_scenarios_covering_the_issue() -> None:
    assert len(ALL) >= 30
    covers = " ".join(s.covers for s in ALL)
    for topic in ("booking with details given over several turns", "a taken slot", "EU, clocks go forward",
                  "EU, clocks go back", "US, clocks go forward", "US, clocks go back", "another zone than the host",
                  "with one match", "with two matches", "with no match", "moving by relative dates",
                  "someone else's booking", "title carries an instruction", "notes carry an instruction",
                  "off-topic", "changes their mind before Confirm", "typed yes/no"):
        assert topic in covers, topic
    kinds = Counter(turn.kind for s in ALL for turn in s.turns)
    assert kinds["confirm"] >= 20 and kinds["discard"] >= 3


def test_the_scripted_model_scores_100_percent_and_the_json_has_the_documented_shape(tmp_path: Path,
                                                                                     capsys) -> None:
    out, png = tmp_path / "eval.json", tmp_path / "eval.png"
    assert main(["--scripted", "--k", "1", "--json", str(out), "--png", str(png)]) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"model", "k", "scenarios", "pass_hat"}
    assert report["model"] == "scripted" and report["k"] == 1
    assert [s["name"] for s in report["scenarios"]] == [s.name for s in ALL]
    failed = {s["name"]: s["failures"] for s in report["scenarios"] if s["passes"] != s["tries"]}
    assert failed == {}
    assert all({"name", "passes", "tries"} <= set(s) and s["tries"] == 1 for s in report["scenarios"])
    assert report["pass_hat"] == {"1": 1.0}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr()
    assert "pass^1: 1.000" in printed.out
    assert f"{len(ALL)}/{len(ALL)}" in printed.err  # the progress bar ran to the end


async def test_a_model_that_converts_local_times_to_utc_scores_visibly_lower() -> None:
    report = await run_eval(ALL, Backend.scripted("utc-times"), 1)
    failed = {s.name for s in report.scenarios if s.passes == 0}
    assert report.pass_hats()["1"] < 0.5
    assert {"book-one-message", "dst-us-spring", "zone-user-in-tokyo", "move-push-tuesday-by-an-hour"} <= failed
    assert "off-topic-weather" not in failed  # nothing to convert: the same as the right model


async def test_a_model_that_acts_on_the_first_match_cancels_the_wrong_meeting() -> None:
    report = await run_eval(ALL, Backend.scripted("first-match"), 1)
    failed = {s.name: s.failures for s in report.scenarios if s.passes == 0}
    assert set(failed) == {"cancel-3pm-two-matches", "cancel-by-title"}
    assert report.pass_hats()["1"] < 1.0
    assert "cancelled bookings start at" in failed["cancel-by-title"][0].split(": ", 1)[1]
    [by_title] = [s for s in report.as_json()["scenarios"] if s["name"] == "cancel-by-title"]
    asked, pressed = by_title["failed_dialogue"]  # what went wrong, turn by turn
    assert asked["user"] == "Cancel the design review on Thursday" and asked["model_calls"] == 2
    assert "Cancel the meeting standup" in asked["reply"] and "sandbox" not in asked["reply"]
    assert pressed == {**pressed, "user": "[presses Confirm]", "graded_as": "confirm", "model_calls": 0,
                       "calcom": ["GET /v2/bookings/standup", "POST /v2/bookings/standup/cancel"]}


async def test_k_tries_give_pass_hat_up_to_k_and_calls_and_tokens_are_counted() -> None:
    report = await run_eval(select("book-over-several-turns,typed-yes"), Backend.scripted(), 3)
    assert report.pass_hats() == {"1": 1.0, "2": 1.0, "3": 1.0}
    over_turns, typed_yes = report.scenarios
    assert [len(s.tries) for s in report.scenarios] == [3, 3]
    assert over_turns.model_calls == 4  # ask, book (needs details), ask, book
    assert typed_yes.model_calls == 1  # the typed yes is decided by code, without the model
    assert over_turns.tokens is not None and over_turns.tokens > typed_yes.tokens > 0
    assert [t.kind for t in typed_yes.tries[0].transcript.turns] == ["message", "confirm"]


async def test_a_model_over_http_with_an_llm_playing_the_user() -> None:
    assistant, user_model = ScriptedModel(), ScriptedModel()
    assistant.on_user("15:00", BOOK)
    user_model.on_request(lambda r: len(r.messages) == 2, say("Book 30 minutes tomorrow at 15:00 about the budget"))
    user_model.on_request(lambda r: "Confirm and Discard buttons" in r.messages[-1]["content"], say("CONFIRM"))
    user_model.on_request(lambda r: True, say("DONE"))
    simulated = SimulatedUser(user_model.client(), "user-sim")
    with ModelServer(assistant) as server:
        result = await run_try(BY_NAME["book-one-message"], Backend.server("scripted", server.base_url, "sk-test"),
                               simulated.play)
    assert result.passed, result.failures
    assert [t.kind for t in result.transcript.turns] == ["message", "confirm"]
    assert result.model_calls == 1 and result.tokens is not None and result.tokens > 0
    assert assistant.requests[0].body["stream_options"] == {"include_usage": True}
    assert "budget review" in user_model.requests[0].messages[0]["content"]  # the goal, not the expected state
    assert simulated.calls == 3


async def test_a_user_who_gives_up_fails_the_grade() -> None:
    user_model = ScriptedModel()
    user_model.on_request(lambda r: True, say("DONE"))
    result = await run_try(BY_NAME["book-one-message"], Backend.scripted(), SimulatedUser(user_model.client(), "u").play)
    assert not result.passed
    assert result.failures[0].startswith("live bookings start at []")


@pytest.mark.parametrize("argv", [["--scripted", "--user-model", "x"], ["--scripted", "--only", "nope"],
                                  ["--scripted", "--k", "0"]])
def test_wrong_arguments_are_refused(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.strip()


def test_any_openai_compatible_server_by_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A model that only ever says "OK." books nothing: it passes the off-topic scenario and fails the booking."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    lazy, out = ScriptedModel(), tmp_path / "eval.json"
    with ModelServer(lazy) as server:
        code = main(["--base-url", server.base_url, "--model", "lazy-1", "--k", "2", "--parallel", "2",
                     "--only", "book-one-message,off-topic-weather", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["model"] == "lazy-1" and lazy.requests[0].model == "lazy-1"
    assert [(s["name"], s["passes"], s["tries"]) for s in report["scenarios"]] == [
        ("book-one-message", 0, 2), ("off-topic-weather", 2, 2)]
    assert report["pass_hat"] == {"1": 0.5, "2": 0.5}
    assert "live bookings start at []" in capsys.readouterr().out


async def test_a_try_that_breaks_fails_and_the_run_goes_on() -> None:
    async def broken_user(dialogue) -> None:
        raise RuntimeError("the user model's server went away")

    report = await run_eval(select("typed-yes,typed-no"), Backend.scripted(), 1, user=broken_user)
    assert [s.passes for s in report.scenarios] == [0, 0]
    assert "the dialogue stopped: RuntimeError" in report.scenarios[0].failures[0]


def test_the_scripted_run_fails_loudly_when_it_is_not_100_percent(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The harness checks itself: a scenario whose expected end state is wrong makes the scripted run exit 1."""
    wrong = BY_NAME["typed-yes"].model_copy(update={"end": BY_NAME["typed-no"].end})
    monkeypatch.setattr("calbot.eval.__main__.select", lambda names: [wrong])
    assert main(["--scripted", "--k", "1"]) == 1
    printed = capsys.readouterr()
    assert "the harness itself is broken" in printed.err and "pass^1: 0.000" in printed.out
