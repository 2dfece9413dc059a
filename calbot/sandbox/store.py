"""The sandbox's bookings on disk: one SQLite file, so they survive a restart.

A booking is kept as the JSON of its Cal.com output, with status, start and end mirrored into columns for queries.
Writes run inside `write()`: a process-wide lock plus SQLite's BEGIN IMMEDIATE, so the check for a free slot and the
insert that takes it are one atomic step even with several server processes on one file. As in Cal.com (its
booking idempotency key, API-NOTES §12) a unique index also forbids two accepted bookings of one host with the same
start and end; that is the last line of defence, not the check the service relies on.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calbot.timezones import parse_instant

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    host_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bookings_by_time ON bookings (host_id, start_ms, end_ms);
CREATE UNIQUE INDEX IF NOT EXISTS one_accepted_booking_per_slot
    ON bookings (host_id, start_ms, end_ms) WHERE status = 'accepted';
"""


class DuplicateSlotError(Exception):
    """The unique index refused a second accepted booking with the same host, start and end."""


def to_ms(instant: datetime) -> int:
    return int(instant.astimezone(UTC).timestamp() * 1000)


class BookingStore:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions ----------------------------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[None]:
        """One atomic read-check-write step: nothing else (thread or process) writes in between."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- reads -----------------------------------------------------------------------------------------------------
    def next_id(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'bookings'").fetchone()
            return (row[0] if row else 0) + 1

    def get(self, uid: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM bookings WHERE uid = ?", (uid,)).fetchone()
        return json.loads(row["data"]) if row else None

    def overlapping(self, host_id: int, start: datetime, end: datetime,
                    statuses: tuple[str, ...] = ("accepted", "pending")) -> list[dict[str, Any]]:
        """The host's bookings in `statuses` that overlap [start, end)."""
        marks = ",".join("?" * len(statuses))
        with self._lock:
            rows = self._db.execute(
                f"SELECT data FROM bookings WHERE host_id = ? AND start_ms < ? AND end_ms > ? AND status IN ({marks})"
                " ORDER BY start_ms", (host_id, to_ms(end), to_ms(start), *statuses)).fetchall()
        return [json.loads(r["data"]) for r in rows]

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT data FROM bookings ORDER BY start_ms, id").fetchall()
        return [json.loads(r["data"]) for r in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM bookings").fetchone()[0]

    # -- writes (call inside write()) ------------------------------------------------------------------------------
    def insert(self, booking: dict[str, Any], host_id: int) -> None:
        try:
            self._db.execute(
                "INSERT INTO bookings (id, uid, host_id, status, start_ms, end_ms, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (booking["id"], booking["uid"], host_id, booking["status"], _ms(booking["start"]),
                 _ms(booking["end"]), json.dumps(booking)))
        except sqlite3.IntegrityError as exc:
            raise DuplicateSlotError(str(exc)) from None

    def update(self, booking: dict[str, Any]) -> None:
        self._db.execute("UPDATE bookings SET status = ?, start_ms = ?, end_ms = ?, data = ? WHERE uid = ?",
                         (booking["status"], _ms(booking["start"]), _ms(booking["end"]), json.dumps(booking),
                          booking["uid"]))

    def reset(self) -> None:
        with self.write():
            self._db.execute("DELETE FROM bookings")


def _ms(value: str) -> int:
    return to_ms(parse_instant(value))
