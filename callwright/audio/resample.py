"""Sample-rate conversion for call audio (8000, 16000, 22050 and 24000 Hz), built on soxr.

Two entry points:

* :func:`resample` converts a whole buffer (a prompt read from disk, a finished TTS clip).
  Latency is irrelevant there, so it defaults to soxr's linear-phase ``"HQ"`` engine.
* :class:`StreamResampler` converts a live stream frame by frame, keeping filter state between
  frames so that frame edges do not click.

Choosing the streaming engine (numbers from ``bench/audio_frame_cost.py``, 20 ms frames;
delay = worst-case lag of emitted output behind consumed input for 8→16 / 16→8 / 24→8 kHz;
rejection = worst alias of 4.4-7.6 kHz tones at 16→8 kHz / worst image of 0.4-3.6 kHz tones
at 8→16 kHz, measured on the engine's float output):

=======  ==================  ==============  ============================================
quality  delay (ms)          rejection (dB)  notes
=======  ==================  ==============  ============================================
VHQ      110 / 110 / 152     229 / 191       output comes in ~100 ms bursts every 5 frames
HQ       115 / 115 / 73      148 / 143       same bursts
MQ       117 / 117 / 75      148 / 117       same bursts
LQ       61 / 61 / 40        148 / 113       bursts; also -7.9 dB at 3.4 kHz (narrow band)
QQ       0.25 / 0.12 / 0     0 / 8           no anti-alias filter: 6 kHz folds onto 2 kHz
VR       30 / 15 / 25        120 / 126       output every frame; flat to ±0.001 dB
=======  ==================  ==============  ============================================

(int16 output cannot resolve more than ~96 dB, so VHQ, HQ, MQ and VR all reject aliases
completely as far as call audio is concerned; they differ in delay.)

The fixed-ratio engines release output in blocks (nothing for 4 frames, then ~100 ms at once),
so each conversion adds 60-150 ms; a turn crosses two (caller in, agent out), which would eat
200+ ms of the response budget. QQ has no delay but no filter either, which is unacceptable
when downsampling TTS (sibilants above 4 kHz fold audibly into the phone band). soxr's
variable-rate engine (``vr=True``), run at a fixed ratio, emits output every frame with
10-30 ms of delay and ~120 dB rejection, so it is the default (``"VR"``). Its costs: the
delay is still 10-30 ms rather than QQ's ~0; when downsampling its phase is not quite linear
(group delay rises from 0.23 ms at low frequencies to ~1.4 ms at 3.6 kHz for 16→8 kHz),
which is inaudible and irrelevant to speech recognition but means its output is not
sample-identical to :func:`resample` with ``"HQ"``; its CPU cost is ~2x HQ's (12 vs 6 µs per
frame, negligible); and ``vr`` is marked experimental in python-soxr and needs soxr >= 1.1.

Between 8 and 16 kHz (a phone line and the pipeline: every frame of every call) streams use
``"HB"`` instead, a linear-phase half-band FIR of our own (`audio/halfband.py`): 3.2 / 3.1 ms
of delay (8→16 / 16→8) against VR's 30 / 15, flat to ±0.001 dB up to 3.6 kHz, at least 79 dB
of rejection from 4.4 kHz, and about as cheap (14 / 18 µs a frame here, VR 20 / 16.5). The
caller's audio crosses 8→16 kHz before the VAD hears it, so its 27 ms less delay come off
every reply. It only converts by a factor of two; other pairs stay on VR.

Conversion runs in float32 and is rounded and clipped to int16 here rather than inside soxr:
soxr's int16 path adds TPDF dither, which turns digital silence into ±1 LSB noise that energy
based VAD and silence detection would then see.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import soxr

from callwright.audio.halfband import HalfBandDown, HalfBandUp, half_band, is_half_band_pair

Quality = Literal["VHQ", "HQ", "MQ", "LQ", "QQ", "VR", "HB"]
QUALITIES: tuple[str, ...] = get_args(Quality)
DEFAULT_STREAM_QUALITY: Quality = "VR"
DEFAULT_ONESHOT_QUALITY: Quality = "HQ"


def _check_rate(rate: int, name: str) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer number of Hz, got {rate!r}")


def _check_quality(quality: str) -> Quality:
    normalized = quality.upper()
    if normalized not in QUALITIES:
        raise ValueError(f"quality must be one of {', '.join(QUALITIES)}; got {quality!r}")
    return normalized  # type: ignore[return-value]


def _check_samples(samples: npt.NDArray[np.int16]) -> None:
    if samples.dtype != np.int16:
        raise TypeError(f"expected int16 samples, got {samples.dtype}")
    if samples.ndim != 1:
        raise ValueError(f"expected mono (1-D) samples, got shape {samples.shape}")


def _to_int16(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    # Filter overshoot on near-full-scale input exceeds int16; clip so it saturates, not wraps.
    # The ufuncs themselves: np.clip's Python wrapper costs more than the work on 320 samples.
    np.rint(samples, out=samples)
    np.maximum(samples, -32768.0, out=samples)
    np.minimum(samples, 32767.0, out=samples)
    return samples.astype(np.int16)


def default_stream_quality(from_rate: int, to_rate: int) -> Quality:
    """The half-band FIR where the rates differ by a factor of two, else soxr's VR engine."""
    return "HB" if is_half_band_pair(from_rate, to_rate) else DEFAULT_STREAM_QUALITY


def _make_stream(
    from_rate: int, to_rate: int, quality: Quality
) -> soxr.ResampleStream | HalfBandUp | HalfBandDown:
    if quality == "HB":
        return half_band(from_rate, to_rate)
    if quality != "VR":
        return soxr.ResampleStream(from_rate, to_rate, 1, dtype=np.float32, quality=quality)
    try:
        # The quality argument is ignored by libsoxr's variable-rate engine.
        return soxr.ResampleStream(from_rate, to_rate, 1, dtype=np.float32, vr=True)
    except TypeError as exc:
        raise RuntimeError(
            f"resampling quality 'VR' needs soxr>=1.1 (installed: {soxr.__version__}); "
            "upgrade soxr or pass another quality"
        ) from exc


def resample(
    samples: npt.NDArray[np.int16],
    from_rate: int,
    to_rate: int,
    quality: Quality = DEFAULT_ONESHOT_QUALITY,
) -> npt.NDArray[np.int16]:
    """Resamples a whole int16 mono buffer.

    Args:
        samples: 1-D int16 samples at ``from_rate``.
        from_rate: input sample rate in Hz.
        to_rate: output sample rate in Hz.
        quality: soxr engine, see the module docstring. ``"HQ"`` is linear-phase with >130 dB
            rejection; pass ``"VR"`` to get exactly what :class:`StreamResampler` produces.

    Returns:
        ``round(len(samples) * to_rate / from_rate)`` int16 samples, time-aligned with the
        input. When the rates are equal, ``samples`` itself is returned (no copy).

    Raises:
        TypeError: if ``samples`` is not int16.
        ValueError: for a non-1-D input, a non-positive rate or an unknown quality.
    """
    _check_samples(samples)
    _check_rate(from_rate, "from_rate")
    _check_rate(to_rate, "to_rate")
    checked = _check_quality(quality)
    if from_rate == to_rate:
        return samples
    if samples.size == 0:
        return np.zeros(0, dtype=np.int16)
    if checked == "HB":
        out = half_band(from_rate, to_rate).resample_chunk(samples.astype(np.float32), True)
    elif checked == "VR":
        stream = _make_stream(from_rate, to_rate, checked)
        out = stream.resample_chunk(samples.astype(np.float32), last=True)
    else:
        out = soxr.resample(samples.astype(np.float32), from_rate, to_rate, quality=checked)
    return _to_int16(np.asarray(out, dtype=np.float32))


class StreamResampler:
    """Converts a live int16 stream between two sample rates, one frame at a time.

    Filter state carries across calls, so feeding 20 ms frames gives the same samples as
    feeding the whole signal at once (no clicks at frame edges). Output sizes may vary from
    call to call by a sample, and the first call(s) return less than a full frame while the
    filter fills; :attr:`lag_ms` says how far output trails input. When the rates are equal
    every call returns its input unchanged (no copy).

    Not thread-safe: use one instance per stream direction.

    Args:
        from_rate: input sample rate in Hz.
        to_rate: output sample rate in Hz.
        quality: the engine. By default ``"HB"`` (the half-band FIR: 3 ms of delay) where the
            rates differ by a factor of two and soxr's ``"VR"`` elsewhere (10-30 ms, ~120 dB
            rejection); soxr's fixed-ratio ones delay output by up to ~115 ms in 20 ms
            streaming. See the module docstring for the measurements.
    """

    def __init__(self, from_rate: int, to_rate: int, quality: Quality | None = None) -> None:
        _check_rate(from_rate, "from_rate")
        _check_rate(to_rate, "to_rate")
        self._from_rate = from_rate
        self._to_rate = to_rate
        self._quality = _check_quality(quality or default_stream_quality(from_rate, to_rate))
        self._stream = (
            None if from_rate == to_rate else _make_stream(from_rate, to_rate, self._quality)
        )
        self._consumed = 0
        self._emitted = 0

    @property
    def from_rate(self) -> int:
        return self._from_rate

    @property
    def to_rate(self) -> int:
        return self._to_rate

    @property
    def quality(self) -> Quality:
        return self._quality

    @property
    def lag_ms(self) -> float:
        """How much audio has gone in but not yet come out, in ms (0 after a flush)."""
        if self._stream is None:
            return 0.0
        expected = self._consumed * self._to_rate / self._from_rate
        return max(0.0, 1000.0 * (expected - self._emitted) / self._to_rate)

    def process(self, samples: npt.NDArray[np.int16], last: bool = False) -> npt.NDArray[np.int16]:
        """Resamples the next chunk of the stream.

        Args:
            samples: the next 1-D int16 samples at ``from_rate`` (any length, including 0).
            last: True for the final chunk: the filter tail is returned too and the resampler
                is reset, ready for a new, unrelated stream.

        Returns:
            The int16 output that is ready, at ``to_rate``.

        Raises:
            TypeError: if ``samples`` is not int16.
            ValueError: if ``samples`` is not 1-D.
        """
        _check_samples(samples)
        if self._stream is None:
            return samples
        out = self._stream.resample_chunk(samples.astype(np.float32), last=last)
        if last:
            self.reset()
        else:
            self._consumed += samples.shape[0]
            self._emitted += out.shape[0]
        return _to_int16(out)

    def flush(self) -> npt.NDArray[np.int16]:
        """Ends the stream: returns the samples still inside the filter and resets."""
        return self.process(np.zeros(0, dtype=np.int16), last=True)

    def reset(self) -> None:
        """Drops buffered audio and filter state without producing output."""
        if self._stream is not None:
            self._stream.clear()
        self._consumed = 0
        self._emitted = 0
