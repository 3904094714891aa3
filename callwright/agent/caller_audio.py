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

    def last_speech_ms(self, start_ms: float, vad_end_ms: float, after_ms: float = 200.0) -> float:
        """Where the caller's last speech sample is, near where the VAD said speech ended.

        The VAD decides on 32 ms windows and lags or leads the voice by a window or two (a
        quiet final consonant, its own hangover). Here speech is any 10 ms block louder than
        2 % of the utterance's loudest block and three times the line's noise (measured in
        the pause the VAD heard after `vad_end_ms + after_ms`), as a caller measuring their
        own speech counts it.

        Args:
            start_ms: start of the utterance.
            vad_end_ms: the VAD's end of speech.
            after_ms: how far past it speech may still be found.

        Returns:
            The end of the last loud block, or `vad_end_ms` when the audio is not held.
        """
        block = self.sample_rate // 100
        first_held = max(self._index(start_ms), self._first_sample)
        audio = self.extract(start_ms, 1000.0 * self._total / self.sample_rate)
        n = audio.size // block
        search = min(n, round((vad_end_ms + after_ms - start_ms) / 10.0))
        if search < 2:
            return vad_end_ms
        peaks = np.abs(audio[: n * block].astype(np.int32)).reshape(n, block).max(axis=1)
        floor = 0.02 * float(peaks[:search].max())
        pause = peaks[search:]
        if pause.size >= 5:
            floor = max(floor, 3.0 * float(np.median(pause)))
        loud = np.flatnonzero(peaks[:search] > floor)
        if loud.size == 0:
            return vad_end_ms
        return 1000.0 * (first_held + (int(loud[-1]) + 1) * block) / self.sample_rate

    def extract(self, start_ms: float, end_ms: float) -> np.ndarray:
        """Returns the held samples between two timeline positions (clipped to what is held)."""
        lo = max(self._index(start_ms), self._first_sample)
        hi = min(self._index(end_ms), self._total)
        if hi <= lo or not self._chunks:
            return np.zeros(0, dtype=np.int16)
        held = np.concatenate(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks = [held]
        return held[lo - self._first_sample : hi - self._first_sample].copy()
