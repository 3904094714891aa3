"""`callwright load` against a real server: a two-step ramp of spoken phone calls (Twilio
protocol, the embedded models), the callers in their own process, the table, JSON and plot."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.config import SecuritySettings
from callwright.server.app import create_app
from callwright.telephony.settings import TelephonySettings
from tests.conftest import provision_operators

ROOT = Path(__file__).resolve().parent.parent
AUTH_TOKEN = "load-test-auth-token"
SCRAPE_TOKEN = "load-test-scrape-token-0123456789"


@contextlib.asynccontextmanager
async def phone_server(stack: AgentStack) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    telephony = TelephonySettings(twilio_auth_token=AUTH_TOKEN, public_base_url=url)
    security = SecuritySettings(metrics_token=SCRAPE_TOKEN)
    await provision_operators(stack.store)
    runner = web.AppRunner(create_app(stack, telephony, security=security))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield url
    finally:
        await runner.cleanup()


async def test_load_ramps_spoken_phone_calls_and_reports_each_step(
    stack: AgentStack, tmp_path: Path
) -> None:
    async with phone_server(stack) as url:
        # The load endpoint needs a credential, like /metrics.
        async with aiohttp.ClientSession() as http, http.get(f"{url}/v1/load") as r:
            assert r.status == 401
        out, plot = tmp_path / "load.json", tmp_path / "load.png"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callwright", "load", "--url", url,
            "--twilio-auth-token", AUTH_TOKEN, "--metrics-token", SCRAPE_TOKEN,
            "--calls", "2", "--step-calls", "1", "--step-seconds", "14",
            "--line", "What are your opening hours?", "--line", "Is there parking?",
            "--line", "Thank you.", "--voice", "espeak:en-us+f3@150",
            "--out", str(out), "--plot", str(plot),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
        )  # fmt: skip
        stdout, _ = await asyncio.wait_for(process.communicate(), 150)
    text = stdout.decode()
    assert process.returncode == 0, text
    assert "capacity:" in text
    report = json.loads(out.read_text())
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    steps = report["steps"]
    assert [s["target_calls"] for s in steps] == [1, 2]
    by_outcome = report["calls"]["by_outcome"]
    assert report["calls"]["placed"] >= 2
    assert not {"failed", "refused", "dropped"} & set(by_outcome), report["steps"]
    # The agent answered: TTFA was measured at the phone, and its frames were timed.
    assert sum(s["ttfa_ms"]["n"] for s in steps) >= 1
    assert all(s["frame_lag_ms"]["n"] > 0 for s in steps)
    # The server's own figures came through /v1/load: from this process, not the callers'.
    assert report["server"]["pid"] == os.getpid() != process.pid
    assert all(s["server_loop_lag_ms"]["n"] > 0 for s in steps)
    # ...the wait for its embedded recogniser among them (the stack's Whisper has a queue).
    assert all(s["server_stt_wait_ms"]["n"] > 0 for s in steps)
    assert all(s["server_cpu_percent"] is not None for s in steps)
    assert steps[-1]["live_calls_max"] == 2
