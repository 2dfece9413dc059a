"""The bench model over HTTP in a process of its own, so that the socket.io clients of the concurrency run and the
model do not share one interpreter (and its GIL) and neither slows the other down.

    python -m bench.model_server --delay 1.0 --ready FILE [--stats FILE]

Writes its base URL (http://127.0.0.1:P/v1) to the --ready file once it listens; on SIGTERM or SIGINT it stops and
writes {"requests": N, "errors": [...]} to the --stats file.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

from bench.brain import bench_model
from bench.harness import USER_ZONE
from tests.fakes.openai_fake import ModelServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.model_server")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before every answer")
    parser.add_argument("--ready", type=Path, required=True, help="file to write the base URL to")
    parser.add_argument("--stats", type=Path, help="file to write the request count to at the end")
    args = parser.parse_args(argv)

    model, _ = bench_model(datetime.now(UTC), USER_ZONE, delay=args.delay)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ModelServer(model) as server:
        temporary = args.ready.with_suffix(".tmp")
        temporary.write_text(server.base_url)
        temporary.replace(args.ready)
        stop.wait()
    if args.stats:
        args.stats.write_text(json.dumps({"requests": model.calls_count,
                                          "errors": [repr(e) for e in model.errors]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
