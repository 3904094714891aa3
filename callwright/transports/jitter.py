"""Reordering inbound telephony media: duplicates dropped, late frames dropped, gaps bounded.

Telephony platforms number their media frames (Twilio and Telnyx `media.chunk`, counting up
from 1). Over a real network frames can arrive late, in bursts, twice, or out of order
(Telnyx says so explicitly). The buffer releases frames strictly in chunk order:

* in-order frames leave at once (no added delay on a healthy stream);
* a frame older than what already left, or one already held, is a duplicate or too late and
  is dropped (its audio time has passed: playing it now would shift the timeline);
* a missing frame is waited for while at most `depth` later frames are held; after that the
  buffer gives up on it and moves on, so a lost frame costs at most `depth` frames of delay
  and the delay never grows. The session fills the hole with silence from the timestamps.

`WallClockClamp` keeps the timestamps honest: a frame stamped far ahead of the time the stream
has actually been running would make the session allocate the whole jump as silence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class JitterStats:
    """What the buffer did to the stream."""

    released: int = 0
    duplicates: int = 0
    late: int = 0
    skipped: int = 0  # chunk numbers given up on (lost frames)
    early: int = 0  # frames that arrived while an earlier one was still missing


class JitterBuffer(Generic[T]):
    """Releases items in sequence order.

    Args:
        depth: how many later items may be held while waiting for a missing one.
    """

    def __init__(self, depth: int = 3) -> None:
        if depth < 0:
            raise ValueError("depth must be >= 0")
        self._depth = depth
        self._next: int | None = None
        self._held: dict[int, T] = {}
        self.stats = JitterStats()

    @property
    def held(self) -> int:
        """Items waiting for an earlier one."""
        return len(self._held)

    def push(self, seq: int, item: T) -> list[T]:
        """Adds one item; returns the items that are now ready, in order."""
        if self._next is None:
            self._next = seq
        if seq < self._next:
            self.stats.late += 1
            return []
        if seq in self._held:
            self.stats.duplicates += 1
            return []
        if seq > self._next:
            self.stats.early += 1
        self._held[seq] = item
        return self._release()

    def _release(self) -> list[T]:
        assert self._next is not None
        out: list[T] = []
        while True:
            if self._next in self._held:
                out.append(self._held.pop(self._next))
                self._next += 1
                continue
            if len(self._held) > self._depth:
                # Waited long enough for the missing one(s): skip to the oldest held item.
                oldest = min(self._held)
                self.stats.skipped += oldest - self._next
                self._next = oldest
                continue
            break
        self.stats.released += len(out)
        return out

    def flush(self) -> list[T]:
        """Releases everything held, in order (at the end of the stream)."""
        out = [self._held[k] for k in sorted(self._held)]
        if self._held:
            self._next = max(self._held) + 1
        self._held.clear()
        self.stats.released += len(out)
        return out


class WallClockClamp:
    """Pulls back stream timestamps that run ahead of the wall clock.

    A frame may be stamped at most `ahead_ms` after the time elapsed since the clamp was
    made (the stream's start). A later stamp is moved back to that limit, and every later
    frame shifts with it, so the timeline stays contiguous and a forged jump costs nothing.

    Args:
        ahead_ms: how far ahead of the wall clock a stamp may be (network bursts, buffering).
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, ahead_ms: float = 1000.0, clock: Callable[[], float] = time.monotonic):
        self._ahead_ms = ahead_ms
        self._clock = clock
        self._origin = clock()
        self._shift_ms = 0.0
        self.clamped = 0  # frames pulled back

    def __call__(self, timestamp_ms: float) -> float:
        """The timestamp to use for a frame stamped `timestamp_ms`."""
        stamp = timestamp_ms - self._shift_ms
        limit = (self._clock() - self._origin) * 1000.0 + self._ahead_ms
        if stamp > limit:
            self._shift_ms += stamp - limit
            self.clamped += 1
            return limit
        return stamp
