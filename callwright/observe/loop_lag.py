"""How late the event loop runs, and what the process uses: the measures of a saturated worker.

`LoopLagProbe` sleeps a fixed interval over and over and records how much later than asked it
woke up: on an idle loop that is well under a millisecond; a loop busy with other callbacks
(or starved of CPU) wakes late, and every call's 20 ms audio frames are late by as much.
`process_usage` reads the process's CPU seconds (all threads) and resident memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import time
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """A reading of the process's resource use.

    Attributes:
        cpu_s: user + system CPU seconds of every thread since the process started.
        wall_s: a monotonic clock reading taken with it (to turn two readings into a rate).
        rss_bytes: resident memory now.
    """

    cpu_s: float
    wall_s: float
    rss_bytes: int


def process_usage() -> ProcessUsage:
    """This process's CPU time and resident memory (current RSS on Linux, peak elsewhere)."""
    times = os.times()
    rss = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/statm", encoding="ascii") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    if not rss:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return ProcessUsage(times.user + times.system, time.monotonic(), rss)


def cpu_percent(before: ProcessUsage, after: ProcessUsage) -> float:
    """CPU use between two readings, in percent of one core (may exceed 100 with threads)."""
    wall = after.wall_s - before.wall_s
    return 100.0 * (after.cpu_s - before.cpu_s) / wall if wall > 0 else 0.0


class LoopLagProbe:
    """Samples event-loop lag every `interval_s` while running; keeps the last `keep` samples.

    Each sample has a sequence number, so a reader can ask for the samples it has not seen yet
    (`since`) without missing or double-counting any.

    Args:
        interval_s: how long each probe sleeps.
        keep: samples kept (at 50 ms, 1200 is one minute).
    """

    def __init__(self, interval_s: float = 0.05, keep: int = 1200) -> None:
        self.interval_s = interval_s
        self._samples: deque[tuple[int, float, float]] = deque(maxlen=keep)  # seq, t, lag s
        self._seq = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts sampling on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="loop-lag-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.interval_s)
            woke = loop.time()
            self._seq += 1
            self._samples.append((self._seq, time.time(), max(0.0, woke - asked - self.interval_s)))

    @property
    def last_seq(self) -> int:
        return self._seq

    def since(self, seq: int) -> list[tuple[int, float, float]]:
        """Samples newer than `seq`: (sequence number, unix time, lag in seconds)."""
        return [s for s in self._samples if s[0] > seq]

    def recent_ms(self, window_s: float) -> np.ndarray:
        """The lags (ms) sampled in the last `window_s` seconds."""
        cutoff = time.time() - window_s
        return np.array([lag * 1000.0 for _, t, lag in self._samples if t >= cutoff])

    def percentile_ms(self, q: float, window_s: float) -> float:
        """The `q`th percentile of the lag over the last `window_s` seconds (0 if none)."""
        lags = self.recent_ms(window_s)
        return float(np.percentile(lags, q)) if lags.size else 0.0
