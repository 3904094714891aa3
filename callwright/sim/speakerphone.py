"""A speakerphone on the caller's own clock: the agent's audio plays as it arrives, and leaks
back into the microphone a fixed time later.

A phone plays and records on its audio device's clock, whatever its software is doing: the
audio it received plays from its arrival (after what is still playing), and the microphone
captures each instant once. The simulator's sender, though, is a task on a shared event loop
and may build a frame late; taking the echo from "the next frame of playback" at that point
would move the echo by however late the sender was, an echo path no phone has. Here playback
is scheduled on the clock when audio arrives, and each microphone frame takes the leak of the
instant it stands for.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class SpeakerphoneEcho:
    """The device's playback schedule and the leak it sends into the microphone.

    Args:
        gain: linear gain of the leak.
        delay_ms: time from the loudspeaker to the microphone (and the device's own latency).
        sample_rate: rate of the audio both ways.
    """

    def __init__(self, gain: float, delay_ms: float, sample_rate: int) -> None:
        self.gain = gain
        self.sample_rate = sample_rate
        self._delay_s = delay_ms / 1000.0
        self._playing: deque[tuple[float, np.ndarray]] = deque()  # (start time, samples)
        self._play_end = 0.0

    def received(self, samples: np.ndarray, at_s: float) -> None:
        """Agent audio that arrived at `at_s` (monotonic): it plays after what is queued."""
        start = max(at_s, self._play_end)
        self._playing.append((start, samples.astype(np.float32)))
        self._play_end = start + samples.size / self.sample_rate

    def clear(self, at_s: float) -> None:
        """The device dropped what it had not played yet at `at_s` (a `clear`)."""
        kept: deque[tuple[float, np.ndarray]] = deque()
        for start, samples in self._playing:
            if start < at_s:
                kept.append((start, samples[: int((at_s - start) * self.sample_rate)]))
        self._playing = kept
        self._play_end = min(self._play_end, at_s)

    def mix(self, frame: np.ndarray, captured_at_s: float) -> np.ndarray:
        """`frame` (int16), captured from `captured_at_s` on, with the leak heard meanwhile."""
        rate, n = self.sample_rate, int(frame.size)
        lo = captured_at_s - self._delay_s
        hi = lo + n / rate
        leak = np.zeros(n, np.float32)
        for start, samples in self._playing:
            end = start + samples.size / rate
            if end <= lo or start >= hi:
                continue
            first = max(0, round((lo - start) * rate))
            at = max(0, round((start - lo) * rate))
            count = min(samples.size - first, n - at)
            if count > 0:
                leak[at : at + count] += samples[first : first + count]
        while self._playing and self._playing[0][0] + self._playing[0][1].size / rate < lo - 1.0:
            self._playing.popleft()  # played more than a second before anything still asked for
        mixed = frame.astype(np.float32) + self.gain * leak
        return np.clip(np.round(mixed), -32768, 32767).astype(np.int16)
