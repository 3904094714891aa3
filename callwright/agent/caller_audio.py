"""A rolling buffer of the caller's audio, addressable by audio-timeline milliseconds."""

from __future__ import annotations

import numpy as np


class CallerAudio:
    """Keeps the last `keep_ms` of caller audio at one sample rate.

    Frames are appended in order; gaps (lost frames) are filled with silence so sample
    positions stay tied to the timeline.
    """

    def __init__(self, sample_rate: int = 16000, keep_ms: float = 40_000.0) -> None:
        self.sample_rate = sample_rate
        self._keep = int(keep_ms * sample_rate / 1000)
        self._chunks: list[np.ndarray] = []
        self._first_sample = 0  # absolute index of the first sample held
        self._total = 0  # absolute index one past the last sample held

    def _index(self, ms: float) -> int:
        return round(ms * self.sample_rate / 1000)

    def append(self, samples: np.ndarray, timestamp_ms: float) -> None:
        """Adds samples that start at `timestamp_ms`."""
        start = self._index(timestamp_ms)
        if start > self._total:
            self._chunks.append(np.zeros(start - self._total, dtype=np.int16))
            self._total = start
        elif start < self._total:
            samples = samples[self._total - start :]  # overlap: keep what we already have
        if samples.size:
            self._chunks.append(samples.astype(np.int16, copy=False))
            self._total += int(samples.size)
        self._trim()

    def _trim(self) -> None:
        excess = (self._total - self._first_sample) - self._keep
        while excess > 0 and self._chunks:
            head = self._chunks[0]
            if head.size <= excess:
                self._chunks.pop(0)
                self._first_sample += int(head.size)
                excess -= int(head.size)
            else:
                self._chunks[0] = head[excess:]
                self._first_sample += excess
                excess = 0

    def extract(self, start_ms: float, end_ms: float) -> np.ndarray:
        """Returns the held samples between two timeline positions (clipped to what is held)."""
        lo = max(self._index(start_ms), self._first_sample)
        hi = min(self._index(end_ms), self._total)
        if hi <= lo or not self._chunks:
            return np.zeros(0, dtype=np.int16)
        held = np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks = [held]
        return held[lo - self._first_sample : hi - self._first_sample].copy()
