"""Load-aware readiness: `/readyz` fails while the worker is full (calls, event-loop lag, CPU)
or draining, and `/v1/load` reports the figures (the real handlers; no models needed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callwright.config import LimitSettings
from callwright.observe.metrics import CallMetrics
from callwright.server.admission import ADMISSION, Admission
from callwright.server.app import ready
from callwright.server.load import WORKER_LOAD, WorkerLoad, get_load
from callwright.stt.queue_waits import QueueWaits


class Call:
    async def end(self, line: str | None, outcome: str) -> None:
        return None


async def client_for(
    limits: LimitSettings, stt: Any = None, metrics: CallMetrics | None = None
) -> tuple[TestClient[Any, Any], WorkerLoad]:
    app = web.Application()
    admission = Admission(limits.max_calls, None)
    app[ADMISSION] = admission
    load = WorkerLoad(admission, limits, metrics, stt=stt)
    app[WORKER_LOAD] = load
    app.router.add_get("/readyz", ready)
    app.router.add_get("/v1/load", get_load)
    client = TestClient(TestServer(app))
    await client.start_server()
    await load.start()
    return client, load


@pytest.fixture
async def worker() -> AsyncIterator[tuple[TestClient[Any, Any], WorkerLoad]]:
    # Loop lag off here: a loaded test machine must not fail the checks of the call count.
    limits = LimitSettings(max_calls=2, ready_max_loop_lag_ms=None, load_window_s=1.0)
    client, load = await client_for(limits)
    yield client, load
    await load.stop()
    await client.close()


async def test_readyz_fails_when_every_line_is_taken_and_recovers(
    worker: tuple[TestClient[Any, Any], WorkerLoad],
) -> None:
    client, load = worker
    r = await client.get("/readyz")
    assert r.status == 200 and (await r.json())["full"] == []
    with load.admission.call(Call()):
        assert (await client.get("/readyz")).status == 200  # one of two lines
        load.admission.reserve("CA-answered", ttl_s=30.0)  # a webhook answered, stream to come
        r = await client.get("/readyz")
        body = await r.json()
        assert r.status == 503 and body["status"] == "full" and body["full"] == ["max_calls"]
        load.admission.release("CA-answered")
        assert (await client.get("/readyz")).status == 200


async def test_readyz_fails_while_the_event_loop_runs_late() -> None:
    limits = LimitSettings(max_calls=None, ready_max_loop_lag_ms=400.0, load_window_s=1.0)
    client, load = await client_for(limits)
    try:
        await asyncio.sleep(0.3)
        # Callbacks that hold the loop for 600 ms at a time: every probe wakes that late.
        for _ in range(4):
            time.sleep(0.6)  # noqa: ASYNC251 (the point: a callback that blocks the loop)
            await asyncio.sleep(0)
        r = await client.get("/readyz")
        body = await r.json()
        assert r.status == 503 and body["full"] == ["loop_lag"], body
        # Once the window holds only on-time samples, the worker is ready again.
        for _ in range(20):
            await asyncio.sleep(0.5)
            if (await client.get("/readyz")).status == 200:
                break
        else:
            raise AssertionError("the worker never became ready again")
    finally:
        await load.stop()
        await client.close()


async def test_readyz_fails_over_the_cpu_threshold() -> None:
    limits = LimitSettings(max_calls=None, ready_max_cpu_percent=5.0, load_window_s=1.0)
    client, load = await client_for(limits)
    try:
        deadline = time.monotonic() + 1.2
        while time.monotonic() < deadline:  # busy: ~100 % of a core, in steps
            sum(range(20_000))
            await asyncio.sleep(0)
        r = await client.get("/readyz")
        body = await r.json()
        assert r.status == 503 and "cpu" in body["full"], body
    finally:
        await load.stop()
        await client.close()


class QueuedRecognizer:
    """A recognizer with a queue (as the embedded Whisper has), its waits on a test clock."""

    name = "queued"
    sample_rate = 16000

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits = QueueWaits(lambda: self.now)

    def queue_wait_ms(self, window_s: float) -> float:
        return self.waits.wait_ms(window_s)


def stt_wait_gauge(metrics: CallMetrics) -> float:
    """The exported `callwright_stt_queue_wait_seconds`."""
    (value,) = [
        line.split()[1]
        for line in metrics.render().decode().splitlines()
        if line.startswith("callwright_stt_queue_wait_seconds ")
    ]
    return float(value)


async def test_readyz_fails_while_transcriptions_wait_for_the_recognizer() -> None:
    stt = QueuedRecognizer()
    limits = LimitSettings(max_calls=None, ready_max_loop_lag_ms=None, ready_max_stt_wait_ms=300.0)
    metrics = CallMetrics()
    client, load = await client_for(limits, stt, metrics)
    try:
        token = stt.waits.queued()
        stt.now += 0.2
        assert (await client.get("/readyz")).status == 200  # 200 ms: keeping up
        stt.now += 0.2
        r = await client.get("/readyz")
        body = await r.json()
        assert r.status == 503 and body["full"] == ["stt_backlog"], body
        assert (await (await client.get("/v1/load")).json())["stt_wait_ms"] == 400.0
        # The load's one-second tick sets the gauge (later on a loaded machine: up to 10 s).
        for _ in range(50):
            await asyncio.sleep(0.2)
            if stt_wait_gauge(metrics) > 0:
                break
        assert stt_wait_gauge(metrics) == pytest.approx(0.4)
        stt.waits.started(token)  # it started after 400 ms; the window still holds that wait
        assert (await client.get("/readyz")).status == 503
        stt.now += limits.load_window_s + 0.1  # the window has moved past it
        assert (await client.get("/readyz")).status == 200
    finally:
        await load.stop()
        await client.close()


async def test_draining_wins_over_everything(
    worker: tuple[TestClient[Any, Any], WorkerLoad],
) -> None:
    client, load = worker
    load.admission.draining = True
    r = await client.get("/readyz")
    assert r.status == 503 and (await r.json())["status"] == "draining"


async def test_load_endpoint_gives_each_lag_sample_once(
    worker: tuple[TestClient[Any, Any], WorkerLoad],
) -> None:
    client, _ = worker
    await asyncio.sleep(0.4)
    first = await (await client.get("/v1/load")).json()
    seqs = [s[0] for s in first["lag_samples"]]
    assert seqs and seqs == sorted(seqs) and first["last_seq"] == seqs[-1]
    await asyncio.sleep(0.3)
    second = await (await client.get("/v1/load", params={"since": str(first["last_seq"])})).json()
    assert second["lag_samples"] and all(s[0] > first["last_seq"] for s in second["lag_samples"])
    assert first["live_calls"] == 0 and first["max_calls"] == 2
    assert first["rss_bytes"] > 10 * 2**20 and first["cpu_seconds"] > 0
    assert (await client.get("/v1/load", params={"since": "x"})).status == 400


def test_thresholds_are_read_from_the_environment() -> None:
    limits = LimitSettings.from_env(
        {
            "CALLWRIGHT_READY_MAX_LOOP_LAG_MS": "0",
            "CALLWRIGHT_READY_MAX_CPU_PERCENT": "180",
            "CALLWRIGHT_LOAD_WINDOW_SECONDS": "10",
            "CALLWRIGHT_READY_MAX_STT_WAIT_MS": "450",
        }
    )
    assert limits.ready_max_stt_wait_ms == 450.0
    assert (
        LimitSettings.from_env({"CALLWRIGHT_READY_MAX_STT_WAIT_MS": "0"}).ready_max_stt_wait_ms
        is None
    )
    assert limits.ready_max_loop_lag_ms is None
    assert limits.ready_max_cpu_percent == 180.0
    assert limits.load_window_s == 10.0
    assert LimitSettings.from_env({}).ready_max_loop_lag_ms == 250.0


async def test_a_drain_waits_for_the_streams_of_answered_calls() -> None:
    # The worker answered a webhook (it holds a line) and has one live call: the drain is
    # over only once that call ended and the held line's stream started.
    admission = Admission(None, None)
    admission.reserve("CA-answered", ttl_s=60.0)
    live = Call()
    with admission.call(live):
        idle = asyncio.create_task(admission.wait_idle(60.0))
        await asyncio.sleep(0.3)
    await asyncio.sleep(0.3)
    assert not idle.done()  # the call ended, but the answered call's stream is still to come
    with admission.call(Call()):
        admission.release("CA-answered")  # its stream started here
        await asyncio.sleep(0.3)
        assert not idle.done()
    assert await asyncio.wait_for(idle, 30) is True
    assert await admission.wait_idle(0.0) is True
