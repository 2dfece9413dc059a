"""python -m calbot.eval: the evaluation harness (issue 20). See calbot/eval/__init__.py and `--help`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

import openai

from calbot.config import DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_MODEL
from calbot.eval.catalog import ALL, select
from calbot.eval.report import Progress, Report, ScenarioResult
from calbot.eval.runner import Backend, TryResult, UserPlayer, run_try
from calbot.eval.scenario import Scenario
from calbot.eval.scripted import VARIANTS
from calbot.eval.user_sim import SimulatedUser


async def run_eval(scenarios: list[Scenario], backend: Backend, k: int, *, user: UserPlayer | None = None,
                   progress: Progress | None = None, parallel: int = 1) -> Report:
    """k tries of every scenario, each on a fresh calendar and chat; `parallel` dialogues at a time."""
    gate = asyncio.Semaphore(max(parallel, 1))

    async def one(scenario: Scenario, number: int) -> TryResult:
        async with gate:
            result = await run_try(scenario, backend, user)
        if progress is not None:
            progress.step(f"{scenario.name} try {number}/{k}")
        return result

    tries = await asyncio.gather(*(one(s, n) for s in scenarios for n in range(1, k + 1)))
    results = [ScenarioResult(s.name, list(tries[i * k:(i + 1) * k])) for i, s in enumerate(scenarios)]
    return Report(backend.model_name, k, results)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m calbot.eval",
        description="Scheduling dialogues against a fresh sandbox calendar each, graded by the calendar's end state "
                    "and the Cal.com requests made; reports pass^k (tau-bench). The model: any OpenAI-compatible "
                    "server (--base-url, --model; key from OPENAI_API_KEY), or --scripted.")
    p.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL") or None,
                   help=f"the model server's base URL (default: OPENAI_BASE_URL, else {DEFAULT_OPENAI_BASE_URL})")
    p.add_argument("--model", default=os.environ.get("OPENAI_MODEL") or DEFAULT_OPENAI_MODEL,
                   help="the model name (default: OPENAI_MODEL, else %(default)s)")
    p.add_argument("--k", type=int, default=4, help="tries per scenario (default %(default)s)")
    p.add_argument("--only", help="comma-separated scenario names (default: all); --list shows them")
    p.add_argument("--user-model", help="an LLM (same server) plays the user from each scenario's goal, instead of "
                                        "the scripted turns")
    p.add_argument("--json", type=Path, help="write the results as JSON to this file")
    p.add_argument("--png", type=Path, help="write a plot of pass^k by k to this PNG file (needs matplotlib)")
    p.add_argument("--scripted", action="store_true",
                   help="the project's scripted model, in process, no setup: must score 100%%")
    p.add_argument("--scripted-variant", choices=VARIANTS, default="correct",
                   help="with --scripted: a deliberately broken variant (utc-times, first-match)")
    p.add_argument("--parallel", type=int, default=1,
                   help="dialogues run at the same time (default %(default)s; a local server may prefer 1)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        for scenario in ALL:
            print(f"{scenario.name:<32} {scenario.covers}")
        return 0
    if args.k < 1:
        print("--k must be 1 or more", file=sys.stderr)
        return 2
    try:
        scenarios = select(args.only)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.scripted and args.user_model:
        print("--user-model needs a real model: the scripted one answers only the scripted turns", file=sys.stderr)
        return 2
    user: UserPlayer | None = None
    simulated: SimulatedUser | None = None
    if args.scripted:
        backend = Backend.scripted(args.scripted_variant)
    else:
        api_key = os.environ.get("OPENAI_API_KEY") or ("unused" if args.base_url else None)
        if api_key is None:
            print("Set OPENAI_API_KEY (or give --base-url of a server that needs none), or use --scripted.",
                  file=sys.stderr)
            return 2
        backend = Backend.server(args.model, args.base_url, api_key)
        problems = backend.settings("UTC").problems
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 2
        if args.user_model:
            client = openai.AsyncOpenAI(api_key=api_key, base_url=args.base_url or DEFAULT_OPENAI_BASE_URL)
            simulated = SimulatedUser(client, args.user_model)
            user = simulated.play
    logging.basicConfig(level=logging.ERROR)  # calbot's warnings (a model error, say) are graded, not printed
    progress = Progress(len(scenarios) * args.k)
    started = time.perf_counter()
    try:
        report = asyncio.run(run_eval(scenarios, backend, args.k, user=user, progress=progress,
                                        parallel=args.parallel))
    finally:
        progress.close()
    print(report.table())
    print(f"\n{len(scenarios) * args.k} dialogues in {time.perf_counter() - started:.1f} s")
    if simulated is not None:
        print(f"user model {simulated.model}: {simulated.calls} calls, {simulated.tokens} tokens (not in the table)")
    if args.json:
        report.write_json(args.json)
        print(f"wrote {args.json}")
    if args.png:
        report.write_png(args.png)
        print(f"wrote {args.png}")
    if args.scripted and args.scripted_variant == "correct" and not report.perfect:
        print("The scripted model must score 100%: the harness itself is broken.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
