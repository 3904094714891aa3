"""Hold audio: a soft, looping chime pattern, synthesized (no file to ship or license).

Silence on hold makes callers think the line dropped; music tells them they are still
connected. Quiet on purpose (about -24 dBFS) so announcements stand out over it.
"""

from __future__ import annotations

import functools

import numpy as np

# A slow arpeggio of C major, A minor, F major, G major: one note every 0.6 s.
_NOTES_HZ = (261.6, 329.6, 392.0, 329.6, 220.0, 261.6, 329.6, 261.6,
             174.6, 220.0, 261.6, 220.0, 196.0, 246.9, 293.7, 246.9)  # fmt: skip
_NOTE_S = 0.6
_PEAK = 0.06 * 32767


@functools.lru_cache(maxsize=8)
def hold_loop(sample_rate: int) -> np.ndarray:
    """One loop of hold audio (about 10 s), int16 mono at `sample_rate`."""
    n = int(_NOTE_S * sample_rate)
    t = np.arange(n) / sample_rate
    # A bell-like note: fast attack, exponential decay, a quiet octave above for warmth.
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t * 4.0)
    notes = [
        envelope * (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2 * f * t))
        for f in _NOTES_HZ
    ]
    loop = np.concatenate(notes)
    return (loop / np.abs(loop).max() * _PEAK).astype(np.int16)


class HoldAudio:
    """Hands out consecutive frames of the hold loop, wrapping around."""

    def __init__(self, sample_rate: int, frame_ms: int = 20) -> None:
        self._loop = hold_loop(sample_rate)
        self._frame = sample_rate * frame_ms // 1000
        self._at = 0

    def next_frame(self) -> np.ndarray:
        end = self._at + self._frame
        if end <= self._loop.size:
            frame = self._loop[self._at : end]
        else:
            frame = np.concatenate([self._loop[self._at :], self._loop[: end - self._loop.size]])
        self._at = end % self._loop.size
        return frame
