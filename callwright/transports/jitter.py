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
"""

from __future__ import annotations

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
