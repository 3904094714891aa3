"""Removing the agent's own voice from the caller's audio (speakerphones, browsers without AEC).

We know exactly what the agent played, so the echo in the caller's channel is that reference,
delayed and scaled (a room adds reverberation we do not model). The canceller cross-correlates
recent caller audio with the reference. Where the caller's audio is almost entirely the echo
(high correlation) it is gated to silence; otherwise the echo, at the estimated delay and gain,
is subtracted. What is left is the caller's own voice, which VAD then judges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class EchoOptions:
    """Echo canceller settings.

    Attributes:
        max_delay_ms: longest echo path searched (playout lead + device + network).
        history_ms: caller audio used to estimate delay and gain.
        min_correlation: correlation needed to trust a delay/gain estimate.
        gate_correlation: correlation above which the caller's audio is taken to be only echo
            and silenced (the echo path shifts a little between replies, so subtraction alone
            leaves a residue at the start of each reply).
    """

    max_delay_ms: float = 600.0
    history_ms: float = 320.0
    min_correlation: float = 0.5
    gate_correlation: float = 0.8


class EchoCanceller:
    """Per-call echo canceller on the 16 kHz pipeline timeline."""

    def __init__(self, sample_rate: int = 16000, options: EchoOptions | None = None) -> None:
        self.options = options or EchoOptions()
        self.sample_rate = sample_rate
        self._max_delay = int(self.options.max_delay_ms * sample_rate / 1000)
        self._history = int(self.options.history_ms * sample_rate / 1000)
        size = 4 * (self._max_delay + self._history)
        self._ref = np.zeros(size, dtype=np.float32)  # ring indexed by timeline sample
        self._ref_end = 0  # timeline sample one past the newest reference sample
        self._mic = np.zeros(self._history, dtype=np.float32)
        self._mic_end = 0
        self._delay: int | None = None
        self._gain = 0.0

    def add_reference(self, samples: np.ndarray, at_ms: float) -> None:
        """Records agent audio (int16 at `sample_rate`) sent at `at_ms` on the timeline."""
        start = max(int(at_ms * self.sample_rate / 1000), self._ref_end)
        n = int(samples.size)
        if start - self._ref_end >= self._ref.size:
            self._ref[:] = 0.0
        else:
            self._zero(self._ref_end, start)
        idx = (start + np.arange(n)) % self._ref.size
        self._ref[idx] = samples.astype(np.float32)
        self._ref_end = start + n

    def _zero(self, lo: int, hi: int) -> None:
        if hi > lo:
            self._ref[(np.arange(lo, hi)) % self._ref.size] = 0.0

    def _reference(self, lo: int, hi: int) -> np.ndarray:
        """Reference samples for timeline [lo, hi); zeros where nothing was played."""
        out = np.zeros(hi - lo, dtype=np.float32)
        oldest = self._ref_end - self._ref.size
        a, b = max(lo, oldest, 0), min(hi, self._ref_end)
        if b > a:
            out[a - lo : b - lo] = self._ref[np.arange(a, b) % self._ref.size]
        return out

    @property
    def active(self) -> bool:
        """True while the agent has spoken recently enough to echo."""
        return self._ref_end > 0

    def process(self, samples: np.ndarray, start_ms: float) -> np.ndarray:
        """Returns the caller's int16 chunk starting at `start_ms` with the echo removed."""
        n = int(samples.size)
        start = round(start_ms * self.sample_rate / 1000)
        x = samples.astype(np.float32)
        self._push_mic(x)
        window = self._reference(start - self._max_delay, start + n)
        if not window.any():
            return samples
        if self._estimate(start + n) >= self.options.gate_correlation:
            return np.zeros_like(samples)
        if self._delay is None or self._gain <= 0.0:
            return samples
        echo = self._reference(start - self._delay, start - self._delay + n)
        cleaned = x - self._gain * echo
        return np.clip(np.rint(cleaned), -32768, 32767).astype(np.int16)

    def _push_mic(self, x: np.ndarray) -> None:
        if x.size >= self._mic.size:
            self._mic[:] = x[-self._mic.size :]
        else:
            self._mic = np.roll(self._mic, -x.size)
            self._mic[-x.size :] = x
        self._mic_end += int(x.size)

    def _estimate(self, end: int) -> float:
        """Finds the delay with the strongest normalized correlation, and the echo's gain.

        Returns the correlation of the caller's recent audio with the echo at that delay.
        """
        mic = self._mic
        ref = self._reference(end - mic.size - self._max_delay, end)
        if not mic.any() or not ref.any():
            return 0.0
        size = 1 << int(np.ceil(np.log2(ref.size + mic.size)))
        corr = np.fft.irfft(np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size)), size)
        corr = corr[: self._max_delay + 1]  # lag k: mic aligns with ref[k : k + len(mic)]
        energy = np.cumsum(np.concatenate([[0.0], ref.astype(np.float64) ** 2]))
        seg_energy = energy[mic.size : mic.size + corr.size] - energy[: corr.size]
        norm = np.sqrt(np.maximum(seg_energy, 1e-9) * float(np.dot(mic, mic)))
        # Lags whose reference is nearly silent would divide by almost nothing.
        score = np.where(seg_energy > 0.05 * seg_energy.max(), corr / norm, -1.0)
        lag = int(np.argmax(score))
        best = float(score[lag])
        if best < self.options.min_correlation:
            return best  # the caller is talking over it, or no echo: keep what we had
        if self._delay is not None:
            current = self._max_delay - self._delay
            if score[lag] < score[current] + 0.05:
                lag = current  # a path does not jump for a marginally better fit
        self._delay = self._max_delay - lag
        aligned = ref[lag : lag + mic.size]
        power = float(np.dot(aligned, aligned))
        if power > 0:
            gain = float(np.dot(mic, aligned)) / power
            self._gain = min(max(gain, 0.0), 4.0)
        return best
