"""How long transcriptions wait for a recogniser shared by every call: the sign it is full.

An embedded recogniser runs one utterance at a time per worker thread, and every caller turn
needs one. When calls speak faster than it transcribes, requests queue, and each turn's end is
decided that much later (the end of a turn waits for its words). The event loop stays on time
meanwhile, so neither its lag nor the call count shows it; the wait in the queue does.

A request is counted from when it is queued to when a worker starts it. `wait_ms` is the
larger of the waits' 95th percentile over a recent window and the age of the oldest request
still waiting, so a queue that has stopped moving shows at once. Workers start requests on
their own threads, hence the lock.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

# Waits kept for the percentile: a few seconds of a busy worker's turns.
KEEP = 512


class QueueWaits:
    """The waits of one recogniser's requests before a worker started them.

    Args:
        clock: monotonic seconds (injectable for tests).
        keep: how many started requests' waits are kept.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, keep: int = KEEP) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = itertools.count()
        self._waiting: dict[int, float] = {}  # token → when it was queued
        self._started: deque[tuple[float, float]] = deque(maxlen=keep)  # (start, wait s)

    def queued(self) -> int:
        """A request joined the queue; returns its token for `started` or `left`."""
        token = next(self._tokens)
        with self._lock:
            self._waiting[token] = self._clock()
        return token

    def started(self, token: int) -> None:
        """A worker started the request (called on the worker's thread)."""
        now = self._clock()
        with self._lock:
            queued_at = self._waiting.pop(token, None)
            if queued_at is not None:
                self._started.append((now, now - queued_at))

    def left(self, token: int) -> None:
        """The request will not be started (cancelled, or skipped at its deadline)."""
        with self._lock:
            self._waiting.pop(token, None)

    def wait_ms(self, window_s: float) -> float:
        """The 95th percentile of the waits of requests started in the last `window_s`, or
        the age of the oldest request still waiting if that is longer (0 when idle)."""
        now = self._clock()
        with self._lock:
            recent = [wait for at, wait in self._started if now - at <= window_s]
            oldest = min(self._waiting.values(), default=now)
        p95 = float(np.percentile(recent, 95)) if recent else 0.0
        return 1000.0 * max(p95, now - oldest)
