"""The worker's load: live calls, CPU, memory and event-loop lag; `/v1/load` and readiness.

A worker is full when it holds `max_calls` calls (live or with a line held for a stream still
to come), when its event loop runs late (p95 lag over the load window above
`ready_max_loop_lag_ms`: every call's 20 ms frames are then late), when its CPU is above
`ready_max_cpu_percent`, or when transcriptions wait for its embedded recogniser longer than
`ready_max_stt_wait_ms` (every turn's end is then late, though the loop is on time).
`/readyz` fails while it is full or draining, so a balancer sends new calls elsewhere. A
worker at its line limit answers a call that still reaches it with the busy line; the other
reasons only steer the balancer.

`GET /v1/load` (the scrape token or a viewer) gives the same figures as JSON, plus the raw
loop-lag samples newer than `?since=N`, so a load generator can compute exact percentiles per
step of its ramp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from typing import Any

import numpy as np
from aiohttp import web

from callwright.config import LimitSettings
from callwright.observe.loop_lag import LoopLagProbe, ProcessUsage, cpu_percent, process_usage
from callwright.observe.metrics import CallMetrics
from callwright.server.admission import ADMISSION, STREAM_STARTED, Admission
from callwright.store.base import CallStore
from callwright.stt.base import HasQueue, SpeechToText

log = logging.getLogger(__name__)

_TICK_S = 1.0
_MAX_SAMPLES_PER_ANSWER = 1200


class WorkerLoad:
    """Samples the worker's load while the app runs and says whether it is full.

    Args:
        admission: the worker's live calls and drain state.
        limits: the thresholds (`LimitSettings`).
        metrics: gauges to keep current (loop lag, CPU, memory), if given.
        store: the call store, to free lines held for streams another worker started.
        stt: the worker's shared recognizer; its queue counts if it has one (`HasQueue`).
    """

    def __init__(
        self,
        admission: Admission,
        limits: LimitSettings,
        metrics: CallMetrics | None = None,
        store: CallStore | None = None,
        stt: SpeechToText | None = None,
    ) -> None:
        self.admission = admission
        self.store = store
        self._queue = stt if isinstance(stt, HasQueue) else None
        self.limits = limits
        self.metrics = metrics
        self.probe = LoopLagProbe()
        keep = max(2, int(limits.load_window_s / _TICK_S) + 1)
        self._usage: deque[ProcessUsage] = deque([process_usage()], maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.probe.start()
        self._task = asyncio.create_task(self._tick(), name="worker-load")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.probe.stop()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            self._usage.append(process_usage())
            try:
                await self.release_streams_started_elsewhere()
            except Exception:
                log.exception("checking the store for streams started elsewhere failed")
            if self.metrics is not None:
                self.metrics.worker_load(
                    self.loop_lag_p95_ms(),
                    self.cpu_percent(),
                    self._usage[-1].rss_bytes,
                    self.stt_wait_ms(),
                )

    async def release_streams_started_elsewhere(self) -> int:
        """Frees the lines held for answered calls whose stream another worker started."""
        if self.store is None:
            return 0
        freed = 0
        for ref in self.admission.reserved_refs():
            if await self.store.take_handover(STREAM_STARTED + ref) is not None:
                self.admission.release(ref)
                freed += 1
        return freed

    def loop_lag_p95_ms(self) -> float:
        return self.probe.percentile_ms(95, self.limits.load_window_s)

    def cpu_percent(self) -> float:
        """CPU over the load window, in percent of one core."""
        now = process_usage()
        return cpu_percent(self._usage[0], now)

    def full_reasons(self) -> list[str]:
        """Why the worker takes no more calls now (empty: it has room)."""
        reasons = []
        admission, limits = self.admission, self.limits
        if admission.max_calls is not None and admission.live + admission.reserved >= (
            admission.max_calls
        ):
            reasons.append("max_calls")
        lag_cap = limits.ready_max_loop_lag_ms
        if lag_cap is not None and self.loop_lag_p95_ms() > lag_cap:
            reasons.append("loop_lag")
        cpu_cap = limits.ready_max_cpu_percent
        if cpu_cap is not None and self.cpu_percent() > cpu_cap:
            reasons.append("cpu")
        wait_cap = limits.ready_max_stt_wait_ms
        if wait_cap is not None and self.stt_wait_ms() > wait_cap:
            reasons.append("stt_backlog")
        return reasons

    def stt_wait_ms(self) -> float:
        """How long transcriptions waited for the recognizer over the load window (0: no queue)."""
        if self._queue is None:
            return 0.0
        return self._queue.queue_wait_ms(self.limits.load_window_s)

    def snapshot(self) -> dict[str, Any]:
        """The load as JSON-ready figures."""
        admission = self.admission
        usage = process_usage()
        lags = self.probe.recent_ms(self.limits.load_window_s)
        return {
            "live_calls": admission.live,
            "reserved": admission.reserved,
            "max_calls": admission.max_calls,
            "draining": admission.draining,
            "full": self.full_reasons(),
            "loop_lag_ms": {
                "p50": round(float(_pct(lags, 50)), 2),
                "p95": round(float(_pct(lags, 95)), 2),
                "max": round(float(lags.max()) if lags.size else 0.0, 2),
                "window_s": self.limits.load_window_s,
            },
            "cpu_percent": round(self.cpu_percent(), 1),
            "stt_wait_ms": round(self.stt_wait_ms(), 1),
            "cpu_seconds": round(usage.cpu_s, 3),
            "cpu_count": os.cpu_count() or 1,
            "rss_bytes": usage.rss_bytes,
            "pid": os.getpid(),
        }


def _pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else 0.0


WORKER_LOAD = web.AppKey("worker_load", WorkerLoad)


async def get_load(request: web.Request) -> web.Response:
    """The worker's load, and the loop-lag samples after `?since=N` (seq, unix time, lag ms)."""
    load = request.app[WORKER_LOAD]
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        raise web.HTTPBadRequest(text="since must be a whole number") from None
    samples = load.probe.since(since)[-_MAX_SAMPLES_PER_ANSWER:]
    body = load.snapshot()
    body["lag_samples"] = [[seq, round(t, 3), round(lag * 1000.0, 2)] for seq, t, lag in samples]
    body["last_seq"] = load.probe.last_seq
    return web.json_response(body)


def register(
    app: web.Application,
    limits: LimitSettings,
    metrics: CallMetrics | None,
    store: CallStore | None = None,
    stt: SpeechToText | None = None,
) -> None:
    """Adds `/v1/load` and samples the load while the app runs."""
    load = WorkerLoad(app[ADMISSION], limits, metrics, store, stt)
    app[WORKER_LOAD] = load

    async def on_startup(app: web.Application) -> None:
        await load.start()

    async def on_cleanup(app: web.Application) -> None:
        await load.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get("/v1/load", get_load)
