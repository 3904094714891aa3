"""`callwright serve --processes 2`: two real worker processes share one port with
SO_REUSEPORT, each a worker of its own in the store, and SIGTERM stops them all cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import aiohttp

from callwright.cli import _without_option
from tests.security.worker_process import CLINIC, REPO, free_port

METRICS_TOKEN = "processes-test-token"


def test_the_processes_option_is_not_passed_on_to_the_workers() -> None:
    argv = ["serve", "--agent", "a.py", "--processes", "3", "--port=9", "--processes=2"]
    assert _without_option(argv, "--processes") == ["serve", "--agent", "a.py", "--port=9"]


async def _pids_answering(port: int, want: int) -> dict[int, dict]:
    """Polls `/v1/load` on new connections until `want` processes have answered."""
    seen: dict[int, dict] = {}
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    connector = aiohttp.TCPConnector(force_close=True)  # a new connection, a new draw
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(1500):
            try:
                async with http.get(f"http://127.0.0.1:{port}/v1/load", headers=headers) as r:
                    if r.status == 200:
                        body = await r.json()
                        seen[int(body["pid"])] = body
            except aiohttp.ClientError:
                pass
            if len(seen) >= want:
                return seen
            await asyncio.sleep(0.2)
    raise AssertionError(f"only {len(seen)} processes answered")


async def test_two_worker_processes_share_the_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CALLWRIGHT_TTS": "espeak",
        "CALLWRIGHT_METRICS_TOKEN": METRICS_TOKEN,
        "CALLWRIGHT_WORKER_ID": "box",
        "CALLWRIGHT_DRAIN_SECONDS": "5",
    }
    log = tmp_path / "serve.log"
    with log.open("ab") as out:
        supervisor = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callwright", "serve", "--agent", CLINIC, "--processes", "2",
            "--port", str(port), "--data-dir", str(tmp_path), cwd=REPO, env=env,
            stdout=out, stderr=out,
        )  # fmt: skip
    try:
        answers = await _pids_answering(port, 2)
        assert supervisor.pid not in answers  # the workers answer, not the supervisor
        db = sqlite3.connect(tmp_path / "calls.sqlite3")
        try:
            workers = {row[0] for row in db.execute("SELECT worker_id FROM workers")}
        finally:
            db.close()
        assert workers == {"box/0", "box/1"}, workers
        supervisor.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(supervisor.wait(), 60)
        assert code == 0, log.read_text()[-3000:]
        # On SQLite each process's handoff queue is its own: said loudly, with the way out.
        assert "each process has a handoff queue" in log.read_text()
        assert "CALLWRIGHT_DATABASE_URL" in log.read_text()
        for pid in answers:  # both workers are gone, not orphaned
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            raise AssertionError(f"worker process {pid} outlived the supervisor")
        db = sqlite3.connect(tmp_path / "calls.sqlite3")
        try:
            left = list(db.execute("SELECT worker_id FROM workers"))
        finally:
            db.close()
        assert left == []  # each retired itself on the way out
    finally:
        if supervisor.returncode is None:
            supervisor.kill()
            await supervisor.wait()
