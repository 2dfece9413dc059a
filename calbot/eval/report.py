"""What a run reports: the table per scenario, pass^1..pass^k, the JSON file, the PNG plot, and the progress line.

JSON: {"model", "k", "scenarios": [{"name", "passes", "tries", ...}], "pass_hat": {"1": x, ..., "k": y}}; each
scenario also carries its mean model calls, tokens (null when the server gave no usage) and seconds per try, the
grader's sentences for the tries that failed, and the first failed try's dialogue turn by turn (what the user typed or
pressed, model calls, tokens, Cal.com requests, what calbot answered), to see what went wrong.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any, TextIO

from calbot.eval.grading import pass_hat
from calbot.eval.runner import TryResult


@dataclass
class ScenarioResult:
    name: str
    tries: list[TryResult] = field(default_factory=list)

    @property
    def passes(self) -> int:
        return sum(t.passed for t in self.tries)

    @property
    def model_calls(self) -> float:
        return mean(t.model_calls for t in self.tries)

    @property
    def tokens(self) -> float | None:
        known = [t.tokens for t in self.tries if t.tokens is not None]
        return mean(known) if known else None

    @property
    def seconds(self) -> float:
        return mean(t.seconds for t in self.tries)

    @property
    def first_failed_dialogue(self) -> list[dict[str, Any]]:
        return next((t.log for t in self.tries if not t.passed), [])

    @property
    def failures(self) -> list[str]:
        return [f"try {n}: {'; '.join(t.failures)}" for n, t in enumerate(self.tries, 1) if not t.passed]


@dataclass
class Report:
    model: str
    k: int
    scenarios: list[ScenarioResult]

    def pass_hats(self) -> dict[str, float]:
        outcomes = {s.name: (s.passes, len(s.tries)) for s in self.scenarios}
        return {str(n): pass_hat(outcomes, n) for n in range(1, self.k + 1)}

    @property
    def perfect(self) -> bool:
        return all(s.passes == len(s.tries) for s in self.scenarios)

    def as_json(self) -> dict[str, Any]:
        return {"model": self.model, "k": self.k,
                "scenarios": [{"name": s.name, "passes": s.passes, "tries": len(s.tries),
                               "model_calls": round(s.model_calls, 2),
                               "tokens": None if s.tokens is None else round(s.tokens, 1),
                               "seconds": round(s.seconds, 3), "failures": s.failures,
                               "failed_dialogue": s.first_failed_dialogue} for s in self.scenarios],
                "pass_hat": {n: round(v, 4) for n, v in self.pass_hats().items()}}

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")

    def table(self) -> str:
        width = max([len("scenario"), *(len(s.name) for s in self.scenarios)])
        lines = [f"{'scenario':<{width}}  passed  rate   calls  tokens   seconds",
                 f"{'-' * width}  ------  -----  -----  -------  -------"]
        for s in self.scenarios:
            tokens = "-" if s.tokens is None else f"{s.tokens:.0f}"
            lines.append(f"{s.name:<{width}}  {s.passes:>2}/{len(s.tries):<3}  {s.passes / len(s.tries):>5.0%}  "
                         f"{s.model_calls:>5.1f}  {tokens:>7}  {s.seconds:>7.2f}")
        lines.append("")
        lines.append(f"model {self.model}, {len(self.scenarios)} scenarios, k={self.k}")
        lines += [f"pass^{n}: {v:.3f}" for n, v in self.pass_hats().items()]
        failed = [(s.name, f) for s in self.scenarios for f in s.failures]
        if failed:
            lines.append("")
            lines.append("failures:")
            lines += [f"  {name} {failure}" for name, failure in failed]
        return "\n".join(lines)

    def write_png(self, path: Path) -> None:
        """pass^k by k, with matplotlib's Agg backend (no display needed)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        hats = self.pass_hats()
        ks = [int(n) for n in hats]
        figure, axes = plt.subplots(figsize=(6, 4))
        axes.plot(ks, list(hats.values()), marker="o")
        axes.set_xticks(ks)
        axes.set_ylim(0, 1.05)
        axes.set_xlabel("k")
        axes.set_ylabel("pass^k")
        axes.set_title(f"calbot eval: {self.model} ({len(self.scenarios)} scenarios)")
        axes.grid(True, alpha=0.3)
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)


class Progress:
    """A one-line progress bar on stderr: `[#####.....] 12/41 try 1/4 book-one-message`."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 24) -> None:
        self.total, self.done, self.width = total, 0, width
        self.stream = stream if stream is not None else sys.stderr

    def step(self, label: str) -> None:
        self.done += 1
        filled = self.width * self.done // max(self.total, 1)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {label:<48}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
