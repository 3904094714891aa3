"""A small numpy echo canceller: delay and gain by cross-correlation, then subtraction.

The echo is taken to be the reference, delayed and scaled (a room adds reverberation this
does not model; `echo_webrtc` does). `EchoPathTracker` cross-correlates recent caller audio
with the reference to find the delay and gain; `echo_webrtc` uses it too, to align the
reference before AEC3 sees it. The canceller here gates the caller's audio to silence where it
is almost entirely the echo (high correlation) and otherwise subtracts the echo at the
estimated delay and gain. What is left is the caller's own voice, which VAD then judges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from callwright.agent.echo import ReferenceLine


@dataclass(frozen=True, slots=True)
class EchoOptions:
    """Echo path and canceller settings.

    Attributes:
        max_delay_ms: longest echo path searched (playout lead + device + network).
        history_ms: caller audio used to estimate delay and gain.
        min_correlation: correlation needed to trust a delay/gain estimate.
        gate_correlation: correlation above which the caller's audio is taken to be only echo
            and silenced (the echo path shifts a little between replies, so subtraction alone
            leaves a residue at the start of each reply).
        recent_ms: the newest caller audio, also checked on its own for being only echo: when
            the echo path shifts in the middle of a reply (a stalled sender, a jitter buffer
            that grew), the whole history matches no single delay for a while, but the audio
            since the shift already matches the new one.
    """

    max_delay_ms: float = 600.0
    history_ms: float = 320.0
    min_correlation: float = 0.5
    gate_correlation: float = 0.8
    recent_ms: float = 100.0


class EchoPathTracker:
    """Follows the echo's delay and gain from the caller's recent audio and the reference.

    The far end's playout buffer fills differently for each reply, so the delay moves a little
    from one reply to the next; the estimate follows it within one history window.
    """

    def __init__(self, line: ReferenceLine, options: EchoOptions) -> None:
        self.options = options
        self._line = line
        rate = line.sample_rate
        self.max_delay = int(options.max_delay_ms * rate / 1000)
        self._mic = np.zeros(int(options.history_ms * rate / 1000), dtype=np.float32)
        self._recent = min(int(options.recent_ms * rate / 1000), self._mic.size)
        self.delay: int | None = None  # samples from the reference to its echo
        self.gain = 0.0

    def push_mic(self, x: np.ndarray) -> None:
        """Adds caller audio (float32) to the history window."""
        if x.size >= self._mic.size:
            self._mic[:] = x[-self._mic.size :]
        else:  # shifted in place: no new array per frame
            self._mic[: -x.size] = self._mic[x.size :]
            self._mic[-x.size :] = x

    def _scores(
        self, mic: np.ndarray, end: int, whitened: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray] | None:
        """Normalized correlation of `mic` (ending at `end`) with the reference at every lag
        (lag k: `mic` aligns with the returned reference's [k : k + len(mic)]), the same
        whitened (GCC-PHAT; None unless `whitened`: it costs an FFT), and that reference;
        None when either is silent."""
        if not mic.any():
            return None  # checked first: the reference span costs more
        ref = self._line.span(end - mic.size - self.max_delay, end)
        if not ref.any():
            return None
        # Only lags 0..max_delay are read and `ref` is `mic` plus that much longer, so an FFT
        # as long as `ref` has no wrap-around there; a 5-smooth length is as fast as a power
        # of two and about half the size of the next one above `ref` + `mic`.
        size = _fast_length(ref.size)
        cross = np.fft.rfft(ref, size) * np.conj(np.fft.rfft(mic, size))
        corr = np.fft.irfft(cross, size)[: self.max_delay + 1]
        # Speech is periodic, so the plain correlation also peaks a pitch period either side
        # of the true delay; whitening the spectrum leaves one sharp peak at the echo path.
        phat = (
            np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-9), size)[: self.max_delay + 1]
            if whitened
            else None
        )
        energy = np.cumsum(np.concatenate([[0.0], ref.astype(np.float64) ** 2]))
        seg_energy = energy[mic.size : mic.size + corr.size] - energy[: corr.size]
        norm = np.sqrt(np.maximum(seg_energy, 1e-9) * float(np.dot(mic, mic)))
        # Lags whose reference is nearly silent would divide by almost nothing.
        loud = seg_energy > 0.05 * seg_energy.max()
        peaks = None if phat is None else np.where(loud, phat, -np.inf)
        return np.where(loud, corr / norm, -1.0), peaks, ref

    def only_echo(self, end: int) -> bool:
        """Whether the caller's recent audio is the echo and nothing else: the whole history
        or, after the path shifted mid-reply, its newest part alone correlates almost fully."""
        return self.echo_likeness(end) >= self.options.gate_correlation

    def echo_likeness(self, end: int) -> float:
        """How closely the caller's recent audio follows the echo (the best correlation of the
        whole history, or of its newest part when that alone is not at the gate); 0.0 when
        either side is silent. `only_echo` is this against `gate_correlation`."""
        best = self.estimate(end)
        if best >= self.options.gate_correlation:
            return best
        found = self._scores(self._mic[-self._recent :], end, whitened=False)
        return best if found is None else max(best, float(found[0].max()))

    def estimate(self, end: int) -> float:
        """Updates delay and gain from the history ending at timeline sample `end`.

        Returns the correlation of the caller's recent audio with the echo at that delay.
        """
        mic = self._mic
        found = self._scores(mic, end)
        if found is None:
            return 0.0
        score, phat, ref = found
        assert phat is not None  # whitened
        lag = int(np.argmax(phat))
        best = float(score[lag])
        if best < self.options.min_correlation:
            return best  # the caller is talking over it, or no echo: keep what we had
        if self.delay is not None:
            current = self.max_delay - self.delay
            if score[lag] < score[current] + 0.05:
                lag = current  # a path does not jump for a marginally better fit
        self.delay = self.max_delay - lag
        aligned = ref[lag : lag + mic.size]
        power = float(np.dot(aligned, aligned))
        if power > 0:
            gain = float(np.dot(mic, aligned)) / power
            self.gain = min(max(gain, 0.0), 4.0)
        return best

    def still_fits(self, end: int) -> bool:
        """Whether removing the held echo still makes the recent caller audio quieter by about
        the echo's energy.

        A real echo path does (that is what cancelling means, even while the caller talks
        over it); an estimate that no longer describes the line makes it louder.
        """
        if self.delay is None:
            return False
        echo = self._line.span(end - self._mic.size - self.delay, end - self.delay)
        # Judged where the echo would be: a window that is mostly the caller's speech before
        # the agent's reply reaches them would otherwise hide a mismatch in its last frames.
        mic, echo = self._mic[echo != 0.0], self.gain * echo[echo != 0.0]
        residual = mic - echo
        # Removing a true echo takes away about its own energy (the caller's voice does not
        # correlate with it); a chance likeness of two voices takes away far less.
        removed = float(np.dot(mic, mic)) - float(np.dot(residual, residual))
        return removed >= 0.5 * float(np.dot(echo, echo))

    def forget(self) -> None:
        """Drops the estimate; the next one starts afresh."""
        self.delay, self.gain = None, 0.0


class CorrelationEchoCanceller:
    """Per-call echo canceller on the 16 kHz pipeline timeline."""

    def __init__(self, sample_rate: int = 16000, options: EchoOptions | None = None) -> None:
        self.options = options or EchoOptions()
        self.sample_rate = sample_rate
        span = options_span(self.options, sample_rate)
        self._line = ReferenceLine(sample_rate, 4 * span / sample_rate)
        self._path = EchoPathTracker(self._line, self.options)

    def add_reference(self, samples: np.ndarray, at_ms: float) -> None:
        """Records agent audio (int16 at `sample_rate`) sent at `at_ms` on the timeline."""
        self._line.add(samples, at_ms)

    @property
    def active(self) -> bool:
        """True while the agent has spoken recently enough to echo."""
        return self._line.end > 0

    def process(self, samples: np.ndarray, start_ms: float) -> np.ndarray:
        """Returns the caller's int16 chunk starting at `start_ms` with the echo removed."""
        n = int(samples.size)
        start = round(start_ms * self.sample_rate / 1000)
        x = samples.astype(np.float32)
        self._path.push_mic(x)
        window = self._line.span(start - self._path.max_delay, start + n)
        if not window.any():
            return samples
        if self._path.only_echo(start + n):
            return np.zeros_like(samples)
        delay, gain = self._path.delay, self._path.gain
        if delay is None or gain <= 0.0:
            return samples
        if not self._path.still_fits(start + n):
            # The estimate outlived the echo (the caller left the speakerphone, or it was a
            # chance match): subtracting it now would add the agent's voice to the caller's
            # audio, where it would be heard as the caller speaking. Estimate afresh.
            self._path.forget()
            return samples
        echo = self._line.span(start - delay, start - delay + n)
        cleaned = x - gain * echo
        if float(np.dot(cleaned, cleaned)) > float(np.dot(x, x)):
            # Louder than what came in: the echo is not where the estimate says (the path
            # just shifted), and subtracting would add the agent's voice, not remove it.
            return samples
        return np.clip(np.rint(cleaned), -32768, 32767).astype(np.int16)


def _fast_length(n: int) -> int:
    """The smallest 2^a 3^b 5^c at least `n`: a length numpy's FFT handles at full speed."""
    best = 1 << max(0, (n - 1).bit_length())
    fives = 1
    while fives < best:
        threes = fives
        while threes < best:
            m = threes
            while m < n:
                m *= 2
            best = min(best, m)
            threes *= 3
        fives *= 5
    return best


def options_span(options: EchoOptions, sample_rate: int) -> int:
    """Samples of reference the delay search reads back (longest delay plus history)."""
    return int((options.max_delay_ms + options.history_ms) * sample_rate / 1000)
