"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, on a free loopback port.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user
(Debian's package creates it) via `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from callwright.store.postgres import PostgresCallStore
from callwright.store.sqlite import SqliteCallStore


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL server binaries not found; run ./run.sh setup")
    return Path(initdb).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """Starts a fresh cluster; yields the DSN of its `callwright` database; removes it after."""
    bindir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="callwright-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
    port = _free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "callwright", "--auth=trust"]
    subprocess.run(_as_owner(initdb), check=True, capture_output=True, timeout=120)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log")]
    subprocess.run(
        _as_owner([*pg_ctl, "-w", "start"]), check=True, capture_output=True, timeout=120
    )
    try:
        admin = f"postgresql://callwright@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE callwright")
        yield f"postgresql://callwright@127.0.0.1:{port}/callwright"
    finally:
        subprocess.run(
            _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def reset_database(dsn: str) -> None:
    """Drops every table, so the next store starts from an empty schema."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


# Either call store: the contract tests run on both.
AnyStore = SqliteCallStore | PostgresCallStore
