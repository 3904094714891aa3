"""A person at the handoff console, scripted from Python (docs/handoff.md's protocol).

Not a fake of anything external: it speaks our own console protocol, the way the console
page does, so spoken-call tests can sign someone in, watch the queue and pick calls up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from tests.conftest import OPERATOR_PASSWORD, http_base


@dataclass
class ConsoleClient:
    """One signed-in person: queue snapshots, events and caller audio, as received."""

    ws: aiohttp.ClientWebSocketResponse
    events: list[dict[str, Any]] = field(default_factory=list)
    audio: list[np.ndarray] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def _receive(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.audio.append(np.frombuffer(msg.data, dtype="<i2"))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(json.loads(msg.data))
                self._changed.set()

    async def wait_for(self, kind: str, timeout_s: float = 30.0, **match: Any) -> dict[str, Any]:
        """The first event of `kind` whose fields include `match` (waiting for it if needed)."""

        def found() -> dict[str, Any] | None:
            return next(
                (
                    e
                    for e in self.events
                    if e.get("type") == kind and all(e.get(k) == v for k, v in match.items())
                ),
                None,
            )

        async with asyncio.timeout(timeout_s):
            while (event := found()) is None:
                self._changed.clear()
                await self._changed.wait()
        return event

    async def waiting_call(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """The first call that shows up waiting in the queue."""
        async with asyncio.timeout(timeout_s):
            while True:
                for event in reversed(self.events):
                    if event.get("type") == "queue" and event["waiting"]:
                        return dict(event["waiting"][0])
                self._changed.clear()
                await self._changed.wait()

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def speak(self, samples: np.ndarray, frame: int = 320) -> None:
        """Streams 16 kHz audio in real time, like a microphone."""
        for start in range(0, samples.size, frame):
            await self.ws.send_bytes(samples[start : start + frame].astype("<i2").tobytes())
            await asyncio.sleep(frame / 16000)


@contextlib.asynccontextmanager
async def console(ws_url: str, name: str = "Dana") -> AsyncIterator[ConsoleClient]:
    """Signs `name` in to the console of the server at `ws_url` and opens the console socket."""
    base = http_base(ws_url)
    # unsafe=True: the test server is an IP address, whose cookies aiohttp drops by default.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        signin = {"name": name, "password": OPERATOR_PASSWORD}  # a supervisor of conftest
        async with http.post(f"{base}/v1/auth/signin", json=signin) as response:
            assert response.status == 200, await response.text()
        async with http.ws_connect(f"{base}/v1/console/ws") as ws:
            client = ConsoleClient(ws)
            receiver = asyncio.create_task(client._receive())
            try:
                await client.wait_for("queue")
                yield client
            finally:
                receiver.cancel()
                with contextlib.suppress(BaseException):
                    await receiver
