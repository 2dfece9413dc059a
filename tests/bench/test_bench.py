"""`python -m bench --quick --json` keeps working: it runs every scenario (the four tasks, the 50-turn chat with and
without the history bound, the overhead turns, 10 concurrent chats through `chainlit run`, single-user and again
signed in with Chainlit's data layer on) and prints one JSON object with every figure, and writes the prompt-size
plot.

Structure only: no figure is compared with its target here (timings depend on the machine; the bench's table says
whether the targets are met), only that each figure is there, has a sane type and that every flow completed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.cpu import process_cpu_seconds

ROOT = Path(__file__).resolve().parents[2]
FLOW_KEYS = {"book_until_proposal", "book_after_confirm", "list", "cancel_by_time", "reschedule_by_time"}
CALCOM_KEYS = {"book", "cancel_by_time", "reschedule_by_time"}


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_positive_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def test_quick_bench_prints_every_figure_and_writes_the_plot(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    completed = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", "--out", str(tmp_path)],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, f"stdout:\n{completed.stdout[-3000:]}\nstderr:\n{completed.stderr[-3000:]}"
    figures = json.loads(completed.stdout)

    assert set(figures) >= {"llm_calls", "calcom_calls", "prompt_growth_50_vs_5", "overhead_ms_p50",
                            "overhead_ms_p99", "concurrent100_p95_s"}
    assert set(figures["llm_calls"]) == FLOW_KEYS and all(map(_is_count, figures["llm_calls"].values()))
    assert set(figures["calcom_calls"]) == CALCOM_KEYS and all(map(_is_count, figures["calcom_calls"].values()))
    for key in ("prompt_growth_50_vs_5", "overhead_ms_p50", "overhead_ms_p99", "concurrent100_p95_s",
                "app_cpu_ms_per_turn", "app_cpu_ms_per_turn_data_layer", "concurrent100_data_layer_p95_s"):
        assert _is_positive_number(figures[key]), (key, figures[key])
    assert figures["overhead_ms_p50"] <= figures["overhead_ms_p99"]
    assert figures["quick"] is True
    assert set(figures["met"]) >= {f"llm_calls.{k}" for k in FLOW_KEYS} | {
        "concurrent100_p95_s", "app_cpu_ms_per_turn", "app_cpu_ms_per_turn_data_layer"}

    details = figures["details"]
    # every task ran to its end: the proposal showed and Confirm did what it proposed; the list was answered
    flows = details["flows"]
    assert {name: flow["outcome"] for name, flow in flows.items() if name != "book_typed_identity"} == {
        "book": "proposal", "list": "answered", "cancel_by_time": "proposal", "reschedule_by_time": "proposal"}
    assert [flows[name]["confirm_status"] for name in ("book", "cancel_by_time", "reschedule_by_time")] == [
        "booked", "cancelled", "rescheduled"]
    assert figures["llm_calls"]["book_until_proposal"] >= 1 and figures["llm_calls"]["list"] >= 2

    growth = details["prompt_growth"]
    assert len(growth["prompt_chars"]) == 50 and all(map(_is_positive_number, growth["prompt_chars"]))
    assert isinstance(growth["resolves"], bool)
    if growth["without_bound"] is not None:
        assert len(growth["without_bound"]["prompt_chars"]) == 50

    assert details["overhead"]["turns"] == 30
    # the turns went through the session store (SQLite): its time is measured, and more than nothing
    assert _is_positive_number(figures["store_ms_p50"]) and "store_ms_p50" in figures["met"]
    assert figures["store_ms_p50"] <= details["overhead"]["store_p99_ms"]
    concurrency = details["concurrency"]
    assert concurrency["clients"] == 10 and concurrency["completed"] == 10, concurrency
    assert concurrency["model_requests"] == 10, concurrency  # one model call per chat: a plain sentence
    # the app's CPU per turn (Linux /proc): measured, and more than nothing (ten turns cannot be free)
    assert _is_positive_number(concurrency["app_cpu_ms_per_turn"]), concurrency
    assert figures["app_cpu_ms_per_turn"] == concurrency["app_cpu_ms_per_turn"]
    assert concurrency["signed_in"] is False and concurrency["saved_rows"] is None
    assert concurrency["app_cpu_ms_per_turn_settled"] >= concurrency["app_cpu_ms_per_turn"]
    # the same run signed in (one account, each client through POST /login, the socket carrying the cookie): every
    # turn completed, and Chainlit's data layer wrote each chat (the warm-up's too) and its messages
    signed_in = details["concurrency_signed_in"]
    assert signed_in["signed_in"] is True and signed_in["errors"] == [], signed_in
    assert signed_in["clients"] == 10 and signed_in["completed"] == 10, signed_in
    assert signed_in["model_requests"] == 10, signed_in
    assert _is_positive_number(signed_in["app_cpu_ms_per_turn"]), signed_in
    assert figures["app_cpu_ms_per_turn_data_layer"] == signed_in["app_cpu_ms_per_turn"]
    assert figures["concurrent100_data_layer_p95_s"] == signed_in["turn_p95_s"]
    assert signed_in["app_cpu_ms_per_turn_settled"] >= signed_in["app_cpu_ms_per_turn"]
    assert _is_positive_number(signed_in["sign_in_all_s"]) and concurrency["sign_in_all_s"] is None
    assert signed_in["saved_rows"]["threads"] == 11, signed_in  # ten chats and the warm-up
    assert signed_in["saved_rows"]["steps"] >= 2 * 11, signed_in  # at least the message and the answer of each

    plot = tmp_path / "prompt_size.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert growth["plot"] == str(plot)


def test_process_cpu_seconds_counts_this_process_and_grows_with_work():
    """The concurrency run's app CPU figure: CPU time of a process by pid, all threads."""
    before = process_cpu_seconds(os.getpid())
    assert before is not None and before > 0
    sum(i * i for i in range(2_000_000))  # some CPU work
    after = process_cpu_seconds(os.getpid())
    assert after - before > 0.01
    assert process_cpu_seconds(2**22 + 12345) is None  # no such process
