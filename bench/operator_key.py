"""An admin API key for a benchmark's own server: the simulated callers and the API reads
need one (`callwright keys create`, run against the server's data directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def create_bench_key(data_dir: str) -> str:
    """Creates an admin key in `data_dir`'s store and exports it as CALLWRIGHT_API_KEY."""
    env = {**os.environ, "CALLWRIGHT_DATA_DIR": data_dir}
    env.pop("CALLWRIGHT_DATABASE_URL", None)
    command = [sys.executable, "-m", "callwright", "keys", "create", "--role", "admin"]
    done = subprocess.run(
        [*command, "--name", "bench"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    key = done.stdout.strip()
    os.environ["CALLWRIGHT_API_KEY"] = key
    return key
