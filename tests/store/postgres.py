"""A throwaway Postgres cluster for the store tests: initdb + pg_ctl from Debian's postgresql package (installed by
scripts/test.sh when run as root), in a temporary directory, on a free 127.0.0.1 port, with fsync off. initdb
refuses to run as root, so as root the cluster runs as the `postgres` user the package creates."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PostgresUnavailable(Exception):
    """Why the Postgres tests cannot run here (the sentence is the skip reason)."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise PostgresUnavailable("Postgres is not installed (/usr/lib/postgresql/*/bin/initdb not found; "
                                  "scripts/test.sh installs Debian's postgresql when run as root)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _runner() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no 'postgres' user to run initdb as") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise PostgresUnavailable("running as root and runuser is missing (initdb refuses root)")
    return [runuser, "-u", "postgres", "--"]


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yields the asyncpg URL of a fresh cluster's `postgres` database (superuser `calbot`, no password)."""
    bin_dir, runner = _bin_dir(), _runner()
    directory = Path(tempfile.mkdtemp(prefix="calbot-pg-"))
    data, log = directory / "data", directory / "log"
    if runner:
        shutil.chown(directory, "postgres")
    port = _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*runner, *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {' / '.join(tail)}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "calbot", "-A", "trust", "-E", "UTF8", "--no-sync",
            "--no-instructions")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "30", "start", "-o",
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off")
        try:
            yield f"postgresql+asyncpg://calbot@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*runner, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
