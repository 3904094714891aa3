"""Sliding-window counters for sign-in failures and outbound calls, bounded in memory."""

from __future__ import annotations

import time
from collections import OrderedDict, deque


class SlidingWindow:
    """Counts events per key over the last `window_s` seconds.

    Args:
        limit: events allowed per key in the window.
        window_s: the window's length.
        max_keys: keys remembered at most; the least recently used are forgotten first, so a
            flood of distinct keys (addresses, names) cannot exhaust memory.
    """

    def __init__(self, limit: int, window_s: float, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self._max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            while len(self._events) > self._max_keys:
                self._events.popitem(last=False)
        self._events.move_to_end(key)
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def retry_after(self, key: str, now: float | None = None) -> float | None:
        """Seconds until `key` may act again, or None if it is under its limit."""
        now = time.monotonic() if now is None else now
        events = self._recent(key, now)
        if len(events) < self.limit:
            return None
        return max(0.0, events[0] + self.window_s - now)

    def add(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        events = self._recent(key, now)
        events.append(now)
        while len(events) > self.limit:  # only the newest `limit` matter
            events.popleft()

    def clear(self, key: str) -> None:
        self._events.pop(key, None)
