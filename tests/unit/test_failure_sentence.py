"""The generic failure sentence (a bug or an unexpected exception in calbot's own code) is defined once, in
calbot/explain.py (issue 16): the chat turn, a Confirm and the page's hooks all use that definition."""

from __future__ import annotations

from pathlib import Path

from calbot.explain import SOMETHING_WENT_WRONG, explain

ROOT = Path(__file__).resolve().parents[2]
WORDS = "went wrong on calbot's side"


def test_the_sentence_is_written_out_only_in_explain() -> None:
    sources = [ROOT / "app.py", *sorted((ROOT / "calbot").rglob("*.py"))]
    writing_it = [str(path.relative_to(ROOT)) for path in sources
                  if SOMETHING_WENT_WRONG in (text := path.read_text(encoding="utf-8"))
                  or f"Something {WORDS}; nothing was changed" in text]
    assert writing_it == ["calbot/explain.py"]


def test_it_is_the_sentence_for_an_unexpected_exception() -> None:
    assert explain(KeyError("proposal")) == SOMETHING_WENT_WRONG
    assert SOMETHING_WENT_WRONG.startswith(f"Something {WORDS};")
