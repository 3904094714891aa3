"""Real `callwright serve` workers in subprocesses, and a raw WebSocket caller that streams
silence in real time (a caller who listens), for the drain, limit and orphan tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from callwright.store.open import open_store
from tests.conftest import ADMIN_HEADERS, provision_operators

REPO = Path(__file__).resolve().parents[2]
CLINIC = "examples/clinic/agent.py"
SILENCE_20MS = b"\x00\x00" * 320  # 20 ms of 16 kHz PCM16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve_worker(
    data_dir: Path, port: int, log: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`callwright serve` in a subprocess, yielded once `/livez` answers; killed at the end."""
    full_env = {**os.environ, "CALLWRIGHT_TTS": "espeak", "CALLWRIGHT_LOG_LEVEL": "INFO"}
    full_env.update(env or {})
    # The worker's store knows the test admin's API key, which the callers below present.
    store = await open_store(data_dir / "calls.sqlite3", full_env)
    try:
        await provision_operators(store)
    finally:
        await store.close()
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callwright", "serve", "--agent", CLINIC, "--port", str(port),
            "--data-dir", str(data_dir), cwd=REPO, env=full_env, stdout=out, stderr=out,
        )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/livez") as r:
                        if r.status == 200:
                            break
                assert process.returncode is None, f"worker exited; see {log}"
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("worker never came up")
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@dataclass
class SilentCaller:
    """A native-protocol caller that streams silence in real time and keeps every event."""

    url: str
    events: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    call_id: str | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    hang_up: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(self.url, headers=ADMIN_HEADERS) as ws,
        ):
            await ws.send_str(json.dumps({"type": "start", "sample_rate": 16000}))
            sender = asyncio.create_task(self._stream(ws))
            try:
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        event = json.loads(msg.data)
                        self.events.append(event)
                        if event.get("type") == "started":
                            self.call_id = event["call_id"]
                            self.started.set()
            finally:
                sender.cancel()
                with contextlib.suppress(BaseException):
                    await sender
            self.close_code = ws.close_code

    async def _stream(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not ws.closed:
            if self.hang_up.is_set():
                await ws.send_str(json.dumps({"type": "end"}))
                return
            await ws.send_bytes(SILENCE_20MS)
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    def agent_text(self) -> str:
        return " ".join(e["text"] for e in self.events if e.get("type") == "agent_text")


async def refused_call(url: str) -> tuple[int | None, list[dict[str, Any]]]:
    """Opens a call that the server is expected to refuse; returns its close code and events."""
    events: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=ADMIN_HEADERS) as ws:
        await ws.send_str(json.dumps({"type": "start", "sample_rate": 16000}))
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                events.append(json.loads(msg.data))
        return ws.close_code, events


def terminate(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
