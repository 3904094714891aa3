"""Streaming 2:1 and 1:2 rate conversion (8 <-> 16 kHz) with one linear-phase half-band FIR.

A phone call converts every 20 ms frame between the line's 8 kHz and the pipeline's 16 kHz
(the caller's audio, and the agent's own audio as the echo canceller's reference). soxr's
variable-rate engine does it with 30 ms (8 -> 16 kHz) and 15 ms (16 -> 8 kHz) of delay; at
exactly twice or half the rate a half-band filter needs far less: every other tap is zero, so
one phase of the polyphase filter is a plain delay and the other a single short convolution,
and its delay is the filter's half length (3.2 ms here). Taking 30 ms off the caller's path
takes it off every reply's time to first audio.

The filter: a Kaiser-windowed sinc with its cutoff at a quarter of the higher rate, 103 taps,
flat to ±0.001 dB up to 3.6 kHz and at least 79 dB down from 4.4 kHz (at 16 kHz;
`bench/audio_frame_cost.py` measures it beside soxr's engines). µ-law itself resolves about
38 dB, so nothing the filter leaves is audible on the line.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import numpy.typing as npt

# Half the number of nonzero taps of the filter's convolving phase; the filter has 4K-1 taps.
_K = 26
_BETA = 7.9  # Kaiser window shape: about 80 dB of stopband at this length


def _design() -> npt.NDArray[np.float64]:
    """The half-band low-pass at the higher rate, unit gain at DC."""
    taps = 4 * _K - 1
    offsets = np.arange(taps) - (taps - 1) / 2
    h = 0.5 * np.sinc(offsets / 2) * np.kaiser(taps, _BETA)
    # Each polyphase branch sums to exactly one half: the centre tap is 0.5 by construction,
    # the even taps are scaled to it, so neither phase of the upsampler has a gain of its own.
    h[0::2] *= 0.5 / h[0::2].sum()
    return h


_FILTER = _design()
# y[2n] of the upsampler and the decimator's convolution use the even taps; of the odd taps
# only the centre one is not zero (that is what makes the filter half-band).
_EVEN = _FILTER[0::2].copy()  # 2K taps
_CENTRE = float(_FILTER[2 * _K - 1])  # 0.5
# The filter's delay, in samples of the higher rate.
DELAY_SAMPLES = 2 * _K - 1


Samples = npt.NDArray[np.float32]


def _zeros(size: int) -> Samples:
    return np.zeros(size, dtype=np.float32)


class _Stream(ABC):
    """soxr.ResampleStream's interface, so StreamResampler can hold either."""

    _skip: int  # leading output still to drop: it only fills the filter

    def _drop_lead(self, out: Samples) -> Samples:
        """`out` less what is left of the leading output that only fills the filter."""
        if not self._skip:
            return out
        cut = min(self._skip, out.size)
        self._skip -= cut
        return out[cut:]

    @abstractmethod
    def process(self, samples: Samples) -> Samples:
        """The next chunk converted."""

    @abstractmethod
    def flush(self) -> Samples:
        """The filter's tail, then a fresh stream."""

    @abstractmethod
    def reset(self) -> None:
        """Forgets the stream."""

    def resample_chunk(self, samples: Samples, last: bool = False) -> Samples:
        """The next chunk converted; with `last`, the filter's tail too, then a fresh stream."""
        out = self.process(samples)
        return np.concatenate((out, self.flush())) if last else out

    def clear(self) -> None:
        """Forgets the stream."""
        self.reset()


class HalfBandUp(_Stream):
    """Doubles the rate of a float stream; output is time-aligned with the input (the first
    chunk comes out short by the filter's delay, `flush` returns it)."""

    def __init__(self) -> None:
        self._taps = (2.0 * _EVEN).astype(np.float32)
        self.reset()

    def reset(self) -> None:
        """Forgets the stream."""
        self._history = _zeros(2 * _K - 1)
        self._skip = DELAY_SAMPLES  # leading output that only fills the filter

    def process(self, samples: Samples) -> Samples:
        """The next chunk (any length) at twice the rate: 2 * len(samples) samples, less the
        part of the filter's delay not yet emitted."""
        if samples.size == 0:
            return _zeros(0)
        buffer = np.concatenate((self._history, samples.astype(np.float32, copy=False)))
        out = np.empty(2 * samples.size, dtype=np.float32)
        # Even outputs: the convolving phase; odd outputs: the input delayed by K-1 samples.
        out[0::2] = np.convolve(buffer, self._taps, "valid")
        start = self._history.size - (_K - 1)
        out[1::2] = buffer[start : start + samples.size]
        self._history = buffer[-self._history.size :]
        return self._drop_lead(out)

    def flush(self) -> Samples:
        """The filter's tail (what the delay still holds), then a fresh stream."""
        held = DELAY_SAMPLES - self._skip
        tail = self.process(_zeros(_K))[:held]
        self.reset()
        return tail


class HalfBandDown(_Stream):
    """Halves the rate of a float stream, filtering out what the lower rate cannot carry;
    output sample n is input sample 2n filtered (time-aligned)."""

    def __init__(self) -> None:
        self._taps = _EVEN.astype(np.float32)
        self.reset()

    def reset(self) -> None:
        """Forgets the stream."""
        self._odd = _zeros(2 * _K - 1)  # past odd-indexed inputs
        self._even = _zeros(_K - 1)  # past even-indexed inputs
        self._pending = _zeros(0)  # a sample waiting for its pair
        self._skip = _K - 1  # leading output that only fills the filter
        self._consumed = 0

    def process(self, samples: Samples) -> Samples:
        """The next chunk (any length) at half the rate."""
        self._consumed += samples.size
        if self._pending.size:
            samples = np.concatenate((self._pending, samples))
        pairs = samples.size // 2
        self._pending = samples[2 * pairs :].astype(np.float32)
        if pairs == 0:
            return _zeros(0)
        odd = np.concatenate((self._odd, samples[1 : 2 * pairs : 2]), dtype=np.float32)
        even = np.concatenate((self._even, samples[0 : 2 * pairs : 2]), dtype=np.float32)
        # y[n] = sum_k h[2k] x[2n+1-2k] + h[2K-1] x[2n-2K+2]: centred on x[2n-2K+2], so
        # skipping the first K-1 outputs aligns output n with input 2n.
        out = np.convolve(odd, self._taps, "valid")
        out += np.float32(_CENTRE) * even[:pairs]
        self._odd = odd[-self._odd.size :]
        self._even = even[-self._even.size :]
        return self._drop_lead(out)

    def flush(self) -> Samples:
        """The filter's tail, so that the whole stream gives round(len / 2) samples."""
        total = round(self._consumed / 2)
        emitted = (self._consumed - self._pending.size) // 2 - (_K - 1 - self._skip)
        tail = self.process(_zeros(2 * _K))[: max(0, total - emitted)]
        self.reset()
        return tail


def is_half_band_pair(from_rate: int, to_rate: int) -> bool:
    """The rates differ by exactly a factor of two (8 <-> 16 kHz, 24 <-> 48 kHz)."""
    return from_rate == 2 * to_rate or to_rate == 2 * from_rate


def half_band(from_rate: int, to_rate: int) -> HalfBandUp | HalfBandDown:
    """The stream that converts `from_rate` to `to_rate`.

    Raises:
        ValueError: the rates do not differ by a factor of two.
    """
    if not is_half_band_pair(from_rate, to_rate):
        raise ValueError(
            f"resampling quality 'HB' converts by a factor of two only, not {from_rate} -> "
            f"{to_rate} Hz"
        )
    return HalfBandUp() if to_rate > from_rate else HalfBandDown()
