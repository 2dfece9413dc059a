"""`python -m bench`: measure calbot against its performance targets (see bench/__init__.py and README
"Performance"). Run from the repository root with the project's virtualenv:

    .venv/bin/python -m bench                 # every figure, as a table beside its target
    .venv/bin/python -m bench --json          # the same figures as one JSON object on stdout
    .venv/bin/python -m bench --quick         # fewer turns and 10 concurrent chats (what CI runs, via pytest)

The concurrent chats run twice: single-user (no data layer) and with sign-in on (Chainlit's data layer writing every
message to calbot's database), each with the app's CPU per turn.

Progress goes to stderr. The exit code is 0 whether or not the targets are met (the table says which are not);
it is 1 when the bench itself fails (a flow does not complete, the app does not start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests.fakes` and `calbot` are imported from the repository root
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.concurrency import ConcurrencyError, run_concurrency  # noqa: E402
from bench.flows import BenchError, run_flows  # noqa: E402
from bench.growth import plot, run_growth  # noqa: E402
from bench.overhead import measure_overhead  # noqa: E402

DEFAULT_OUT = ROOT / "bench" / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--quick", action="store_true",
                        help="fewer overhead turns and 10 concurrent chats (every figure is still measured)")
    parser.add_argument("--delay", type=float, default=1.0, help="the model's delay in the concurrency run (s)")
    parser.add_argument("--clients", type=int, default=None, help="concurrent chats (default 100, quick 10)")
    parser.add_argument("--turns", type=int, default=None, help="measured overhead turns (default 300, quick 30)")
    parser.add_argument("--no-concurrency", action="store_true", help="skip the chainlit runs (figures: null)")
    parser.add_argument("--no-data-layer", action="store_true",
                        help="skip only the concurrency run with sign-in and the data layer on (its figures: null)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where prompt_size.png goes")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list each flow's Cal.com requests")
    args = parser.parse_args(argv)
    args.clients = args.clients if args.clients is not None else (10 if args.quick else 100)
    args.turns = args.turns if args.turns is not None else (30 if args.quick else 300)
    if args.clients < 1 or args.turns < 1 or args.delay < 0:
        parser.error("--clients and --turns must be at least 1, --delay not negative")
    return args


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    progress("bench: the four tasks (book, list, cancel by time, reschedule by time) ...")
    flows = asyncio.run(run_flows())
    seconds["flows"] = time.perf_counter() - started

    progress("bench: one 50-turn chat, with and without the history bound ...")
    mark = time.perf_counter()
    bounded, unbounded = asyncio.run(run_growth())
    png = plot([run for run in (bounded, unbounded) if run is not None], args.out / "prompt_size.png")
    seconds["prompt_growth"] = time.perf_counter() - mark

    progress(f"bench: own overhead over {args.turns} turns ...")
    mark = time.perf_counter()
    overhead = asyncio.run(measure_overhead(args.turns, warmup=10 if args.quick else 20))
    seconds["overhead"] = time.perf_counter() - mark

    concurrency = None
    if not args.no_concurrency:
        progress(f"bench: {args.clients} concurrent chats through `chainlit run`, model after {args.delay:g} s ...")
        mark = time.perf_counter()
        concurrency = run_concurrency(args.clients, args.delay)
        seconds["concurrency"] = time.perf_counter() - mark
    signed_in = None
    if not args.no_concurrency and not args.no_data_layer:
        progress(f"bench: the same {args.clients} chats signed in (sign-in and Chainlit's data layer on) ...")
        mark = time.perf_counter()
        signed_in = run_concurrency(args.clients, args.delay, sign_in=True)
        seconds["concurrency_signed_in"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started

    book = flows["book"]
    figures: dict[str, Any] = {
        "llm_calls": {
            "book_until_proposal": book.model_calls_until_proposal,
            "book_after_confirm": book.model_calls_after_confirm,
            "list": flows["list"].model_calls_until_proposal,
            "cancel_by_time": flows["cancel_by_time"].model_calls_until_proposal,
            "reschedule_by_time": flows["reschedule_by_time"].model_calls_until_proposal,
        },
        "calcom_calls": {
            "book": len(book.calcom),
            "cancel_by_time": len(flows["cancel_by_time"].calcom),
            "reschedule_by_time": len(flows["reschedule_by_time"].calcom),
        },
        "prompt_growth_50_vs_5": round(bounded.ratio, 3),
        "overhead_ms_p50": round(overhead.percentile(50), 3),
        "overhead_ms_p99": round(overhead.percentile(99), 3),
        "store_ms_p50": round(overhead.store_percentile(50), 3),
        "concurrent100_p95_s": concurrency.as_dict()["turn_p95_s"] if concurrency else None,
        # the app's CPU per turn in that run (data layer off), and in the same run signed in (data layer on)
        "app_cpu_ms_per_turn": concurrency.as_dict()["app_cpu_ms_per_turn"] if concurrency else None,
        "app_cpu_ms_per_turn_data_layer": signed_in.as_dict()["app_cpu_ms_per_turn"] if signed_in else None,
        "concurrent100_data_layer_p95_s": signed_in.as_dict()["turn_p95_s"] if signed_in else None,
        "quick": args.quick,
        "targets": report.targets(args.delay),
        "details": {
            "flows": {name: flow.as_dict() for name, flow in flows.items()},
            "prompt_growth": {**bounded.as_dict(),
                              "without_bound": unbounded.as_dict() if unbounded is not None else None,
                              "plot": str(png)},
            "overhead": overhead.as_dict(),
            "concurrency": concurrency.as_dict() if concurrency else None,
            "concurrency_signed_in": signed_in.as_dict() if signed_in else None,
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
        },
    }
    figures["met"] = report.met(figures)
    return figures


def verbose_lines(figures: dict[str, Any]) -> list[str]:
    lines = ["", "Cal.com requests per task (start-up look-ups excluded; the ones before | are until the proposal):"]
    for name, flow in figures["details"]["flows"].items():
        until = len(flow["calcom_requests_until_proposal"])
        requests = flow["calcom_requests"]
        shown = ", ".join(requests[:until]) + (" | " + ", ".join(requests[until:]) if requests[until:] else "")
        lines.append(f"  {name}: {len(requests)}: {shown or '-'} (model calls: {flow['model_calls_until_proposal']}"
                     f" + {flow['model_calls_after_confirm']} after Confirm; outcome {flow['outcome']})")
    growth = figures["details"]["prompt_growth"]
    lines.append(f"prompt chars per turn (bounded={growth['bound_history']}): {growth['prompt_chars']}")
    if growth["without_bound"]:
        lines.append(f"prompt chars per turn without the bound: {growth['without_bound']['prompt_chars']}")
    lines.append(f"reference at turn 50: {growth['resolution']}")
    lines.append(f"overhead: {figures['details']['overhead']}")
    lines.append(f"concurrency: {figures['details']['concurrency']}")
    lines.append(f"concurrency signed in: {figures['details']['concurrency_signed_in']}")
    return lines


def summary_lines(figures: dict[str, Any]) -> list[str]:
    details = figures["details"]
    lines = []
    missed = [key for key, ok in figures["met"].items() if ok is False]
    lines.append(f"targets missed: {', '.join(missed)}" if missed else "every target measured is met")
    typed = details["flows"]["book_typed_identity"]
    if typed["outcome"] != "proposal":
        lines.append(f"note: a new user's book message with name and email ended in {typed['outcome']!r}: "
                     f"{(typed.get('last_tool_result') or {}).get('error', '')}")
    growth = details["prompt_growth"]
    if growth["bound_history"] is None:
        lines.append("note: calbot has no Agent.bound_history yet: the prompt growth is the unbounded behaviour")
    elif growth["without_bound"]:
        lines.append(f"prompt growth without the bound: {growth['without_bound']['ratio_50_vs_5']}x "
                     f"(turn 50: {growth['without_bound']['turn50_chars']} chars, with the bound: "
                     f"{growth['turn50_chars']})")
    for key, name in (("concurrency", "concurrency"), ("concurrency_signed_in", "concurrency signed in")):
        if not details.get(key):
            continue
        c = details[key]
        lines.append(f"{name}: {c['completed']}/{c['clients']} turns completed; p50 {c['turn_p50_s']} s, "
                     f"p95 {c['turn_p95_s']} s, max {c['turn_max_s']} s (first token p95 {c['first_token_p95_s']} s)"
                     + (f"; app CPU {c['app_cpu_ms_per_turn']} ms per turn" if c.get("app_cpu_ms_per_turn") else "")
                     + (f" ({c['app_cpu_ms_per_turn_settled']} once the app is quiet)"
                        if c.get("app_cpu_ms_per_turn_settled") else "")
                     + (f"; saved {c['saved_rows']}" if c.get("saved_rows") else "")
                     + (f"; sign-in {c['sign_in_all_s']} s, then connect {c['connect_all_s']} s"
                        if c.get("signed_in") else "")
                     + (f"; errors: {c['errors']}" if c["errors"] else ""))
    lines.append(f"plot: {growth['plot']}; took {details['seconds']['total']:.1f} s"
                 + (" (quick mode)" if figures["quick"] else ""))
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        figures = measure(args)
    except (BenchError, ConcurrencyError) as exc:
        progress(f"bench failed: {exc}")
        return 1
    if args.json:
        print(json.dumps(figures, indent=None if not args.verbose else 2))
        return 0
    print(report.table(figures))
    print("\n".join(summary_lines(figures)))
    if args.verbose:
        print("\n".join(verbose_lines(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
