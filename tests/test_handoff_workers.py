"""Two workers on one PostgreSQL: a call waiting on worker A is picked up from a console on
worker B, in queue order, and the person and the caller hear each other across the workers.

Real servers (the shared models, each worker with its own store connection and desk), a real
PostgreSQL cluster, the console protocol, and callers on the native WebSocket who press 0
(no spoken audio: the caller sends tones).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import numpy as np

from callwright.agent.stack import AgentStack
from callwright.handoff.pg_desk import PostgresDesk
from callwright.store.postgres import PostgresCallStore
from tests.conftest import ADMIN_HEADERS, finished_call, serve
from tests.fakes.console import ConsoleClient, console
from tests.pg_cluster import reset_database

RATE = 16000
FRAME = RATE // 50  # 20 ms


def tone(hz: float, seconds: float, amplitude: int = 8000) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def loud(chunks: list[np.ndarray]) -> np.ndarray:
    """The stretch of `chunks` from its first to its last loud sample (a tone, not the
    silence or hold audio around it); empty if nothing is loud."""
    if not chunks:
        return np.zeros(0, np.int16)
    samples = np.concatenate(chunks)
    [loud_at] = np.nonzero(np.abs(samples.astype(np.int32)) > 1000)
    return samples[loud_at[0] : loud_at[-1] + 1] if loud_at.size else samples[:0]


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(samples.size, 1 / RATE)[int(np.argmax(spectrum))])


@dataclasses.dataclass
class Caller:
    """A caller on the native WebSocket: sends audio in real time (silence unless told)."""

    ws: aiohttp.ClientWebSocketResponse
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    audio: list[np.ndarray] = dataclasses.field(default_factory=list)
    changed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    to_send: list[np.ndarray] = dataclasses.field(default_factory=list)

    async def receive(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.audio.append(np.frombuffer(msg.data, dtype="<i2"))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(json.loads(msg.data))
            self.changed.set()
        self.changed.set()

    async def send_audio(self) -> None:
        loop = asyncio.get_running_loop()
        started, frames = loop.time(), 0
        while not self.ws.closed:
            pending = np.concatenate(self.to_send) if self.to_send else np.zeros(0, np.int16)
            frame, rest = pending[:FRAME], pending[FRAME:]
            self.to_send = [rest] if rest.size else []
            frame = np.pad(frame, (0, FRAME - frame.size))
            with contextlib.suppress(ConnectionError):
                await self.ws.send_bytes(frame.astype("<i2").tobytes())
            frames += 1
            await asyncio.sleep(max(0.0, started + frames * 0.02 - loop.time()))

    async def wait(self, check: Callable[[], bool], timeout_s: float = 60.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not check():
                self.changed.clear()
                await self.changed.wait()

    def event(self, kind: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("type") == kind), None)


@contextlib.asynccontextmanager
async def caller(url: str) -> AsyncIterator[Caller]:
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=ADMIN_HEADERS) as ws:
        await ws.send_str(json.dumps({"type": "start", "sample_rate": RATE}))
        line = Caller(ws)
        tasks = [asyncio.create_task(line.receive()), asyncio.create_task(line.send_audio())]
        try:
            await line.wait(lambda: line.event("started") is not None)
            yield line
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def places(line: Caller) -> list[int]:
    """The places in line the caller was told, in order."""
    return [int(e["position"]) for e in line.events if e.get("type") == "queue_position"]


async def press_zero(line: Caller) -> None:
    for digit in "0#":  # "#" ends the keypad entry at once
        await line.ws.send_str(json.dumps({"type": "dtmf", "digit": digit}))


async def queue_of(dana: ConsoleClient, count: int, since: int = 0) -> list[dict[str, Any]]:
    """The first queue snapshot with `count` calls waiting, among the events from `since`."""
    async with asyncio.timeout(60.0):
        while True:
            for event in dana.events[since:]:
                if event.get("type") == "queue" and len(event["waiting"]) == count:
                    return list(event["waiting"])
            dana._changed.clear()
            await dana._changed.wait()


@contextlib.asynccontextmanager
async def worker(stack: AgentStack, dsn: str, worker_id: str) -> AsyncIterator[AgentStack]:
    """The stack as one worker of the deployment: its own store connection and desk."""
    store = await PostgresCallStore.open(dsn)
    await store.register_worker(worker_id)
    # No heartbeat task runs here: a slow machine must not make the workers look dead.
    desk = await PostgresDesk.open(store, stale_after_s=3600.0)
    try:
        yield dataclasses.replace(stack, store=store, desk=desk)
    finally:
        await desk.close()
        await store.close()


async def test_a_call_waiting_on_one_worker_is_taken_by_a_console_on_another(
    stack: AgentStack, postgres_dsn: str
) -> None:
    await asyncio.to_thread(reset_database, postgres_dsn)
    async with (
        worker(stack, postgres_dsn, "worker-a") as stack_a,
        worker(stack, postgres_dsn, "worker-b") as stack_b,
        serve(stack_a) as url_a,
        serve(stack_b) as url_b,
        console(url_b, "Dana") as dana,
        caller(url_a) as first,
    ):
        await press_zero(first)
        assert [w["position"] for w in await queue_of(dana, 1)] == [1]
        async with caller(url_a) as second:
            await press_zero(second)
            waiting = await queue_of(dana, 2)
            ids = [str(first.event("started")["call_id"]), str(second.event("started")["call_id"])]  # type: ignore[index]
            assert [(w["call_id"], w["position"]) for w in waiting] == [(ids[0], 1), (ids[1], 2)]

            # Dana, on B, takes the first in line: it is on A.
            seen = len(dana.events)
            await dana.send({"type": "pickup", "call_id": waiting[0]["call_id"]})
            picked = await dana.wait_for("picked_up")
            assert picked["call_id"] == ids[0]
            escalation = picked["packet"]["escalation"]
            assert (escalation["trigger"], escalation["reason"]) == (
                "explicit_request",
                "the caller pressed 0",
            )
            await first.wait(lambda: first.event("human_joined") is not None)
            moved = await queue_of(dana, 1, since=seen)  # the second moved up
            assert [(w["call_id"], w["position"]) for w in moved] == [(ids[1], 1)]
            # ... and its caller, on A, heard of it (the pickup happened on B).
            await second.wait(lambda: places(second) == [2, 1])
            assert places(first) == [1]

            # The caller's line reaches Dana on B; Dana's microphone reaches the caller on A.
            heard_before = len(dana.audio)
            first.to_send.append(tone(300.0, 1.5))
            # Waits for the tone itself (silence sent before it may still be on its way).
            async with asyncio.timeout(60.0):
                while loud(dana.audio[heard_before:]).size < RATE // 2:
                    dana._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(dana._changed.wait(), 0.5)
            assert abs(dominant_hz(loud(dana.audio[heard_before:])) - 300.0) < 20.0
            said_before = len(first.audio)
            await dana.speak(tone(700.0, 1.0))
            await first.wait(lambda: loud(first.audio[said_before:]).size >= RATE // 2)
            assert abs(dominant_hz(loud(first.audio[said_before:])) - 700.0) < 20.0

            await dana.send({"type": "end_call"})
            await dana.wait_for("released", how="end_call")
            await second.ws.send_str(json.dumps({"type": "end"}))
        detail = await finished_call(stack_a, ids[0], timeout_s=30.0)
        second_detail = await finished_call(stack_a, ids[1], timeout_s=30.0)
    joined = [dict(e.data) for e in detail.events if e.kind == "human_joined"]
    assert joined == [{"human": "Dana"}]
    assert (detail.record.outcome, detail.record.end_reason) == ("escalated", "ended by Dana")
    queued = [dict(e.data) for e in second_detail.events if e.kind == "queued"]
    assert queued == [{"position": 2}]
    moved_up = [dict(e.data) for e in second_detail.events if e.kind == "queue_position"]
    assert moved_up == [{"position": 1}]
