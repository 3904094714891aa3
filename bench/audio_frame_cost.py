"""CPU cost per 20 ms frame of the audio core, and the delay and quality of each soxr engine.

Run from the repository root: ``python bench/audio_frame_cost.py [--frames N]``.

Prints three plain-text tables:

1. CPU time per 20 ms frame (median and p95 over N frames, after a warm-up) of the µ-law codec,
   the default streaming resampler for each rate pair a call uses, and the full phone chains.
2. The default streaming resampler's delay per rate pair: how far emitted output trails
   consumed input at a frame boundary (worst case over the run), and the frame at which the
   first output appears.
3. Every engine (soxr's, and our half-band FIR between 8 and 16 kHz) compared in 20 ms
   streaming: delay, whether output arrives every frame, alias/image rejection, response at
   3.4 kHz, and CPU per frame. This is the evidence behind the defaults chosen in
   ``callwright/audio/resample.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar, cast

import numpy as np
import soxr

# Running as a script puts bench/ (not the repo root) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callwright.audio.halfband import half_band
from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.audio.resample import (
    DEFAULT_STREAM_QUALITY,
    QUALITIES,
    Quality,
    StreamResampler,
)

STREAM_PAIRS = [(8000, 16000), (16000, 8000), (22050, 8000), (22050, 16000), (24000, 16000)]
DELAY_PAIRS = [(a, b) for a in (8000, 16000, 22050, 24000) for b in (8000, 16000, 22050, 24000)]
WARMUP_FRAMES = 200

T = TypeVar("T")
Step = Callable[[int], object]


def _speechlike(rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Noise shaped roughly like speech (pink-ish, ~-20 dBFS), so codecs see realistic values."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(rate * seconds))
    pinkish = np.convolve(white, np.ones(4) / 4, mode="same")
    return np.clip(np.rint(pinkish * 6000), -32768, 32767).astype(np.int16)


def _frames(samples: np.ndarray, frame_len: int) -> list[np.ndarray]:
    usable = samples.shape[0] - samples.shape[0] % frame_len
    return [samples[i : i + frame_len] for i in range(0, usable, frame_len)]


def _time_per_frame(step: Step, n_frames: int) -> tuple[float, float]:
    """Median and p95 of ``step(i)`` in µs, over ``n_frames`` calls after a warm-up."""
    for i in range(WARMUP_FRAMES):
        step(i)
    timings = np.empty(n_frames)
    clock = time.perf_counter_ns
    for i in range(n_frames):
        start = clock()
        step(i)
        timings[i] = clock() - start
    timings /= 1000.0
    return float(np.median(timings)), float(np.percentile(timings, 95))


def _cycle(items: Sequence[T]) -> Callable[[int], T]:
    return lambda i: items[i % len(items)]


def _resample_step(resampler: StreamResampler, frames: Sequence[np.ndarray]) -> Step:
    def step(i: int) -> object:
        return resampler.process(frames[i % len(frames)])

    return step


def cost_table(n_frames: int) -> list[tuple[str, str, str]]:
    """Per-frame CPU cost (median, p95 in µs) of each audio-core operation, default settings."""
    pcm8k = _frames(_speechlike(8000, 2.0), 160)
    pick_ulaw, pick_pcm8k = _cycle([mulaw_encode(f) for f in pcm8k]), _cycle(pcm8k)
    steps: list[tuple[str, Step]] = [
        ("µ-law decode, 8 kHz (160 B)", lambda i: mulaw_decode(pick_ulaw(i))),
        ("µ-law encode, 8 kHz (160 samples)", lambda i: mulaw_encode(pick_pcm8k(i))),
    ]
    for from_rate, to_rate in STREAM_PAIRS:
        frames = _frames(_speechlike(from_rate, 2.0), from_rate // 50)
        step = _resample_step(StreamResampler(from_rate, to_rate), frames)
        steps.append((f"stream resample {from_rate}->{to_rate}", step))
    inbound = StreamResampler(8000, 16000)
    steps.append(
        ("phone in: µ-law decode + 8k->16k", lambda i: inbound.process(mulaw_decode(pick_ulaw(i))))
    )
    outbound = StreamResampler(24000, 8000)
    pick_tts = _cycle(_frames(_speechlike(24000, 2.0), 480))
    steps.append(
        ("phone out: 24k->8k + µ-law encode", lambda i: mulaw_encode(outbound.process(pick_tts(i))))
    )
    rows = []
    for name, step in steps:
        median, p95 = _time_per_frame(step, n_frames)
        rows.append((name, f"{median:.1f}", f"{p95:.1f}"))
    return rows


def stream_delay(
    from_rate: int, to_rate: int, quality: Quality | None, seconds: float = 2.0
) -> tuple[float, int, bool]:
    """Streams 20 ms frames of speech-like noise through a :class:`StreamResampler`.

    Returns:
        Worst lag in ms, index of the first frame that produced output, and whether every
        frame after the fifth produced output.
    """
    resampler = StreamResampler(from_rate, to_rate, quality)
    worst, first, steady = 0.0, -1, True
    for index, frame in enumerate(_frames(_speechlike(from_rate, seconds), from_rate // 50)):
        produced = resampler.process(frame).shape[0]
        worst = max(worst, resampler.lag_ms)
        if produced and first < 0:
            first = index
        if index >= 5 and not produced:
            steady = False
    return worst, first, steady


def _tone(freq: float, rate: int) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(rate) / rate)


def _level_at(samples: np.ndarray, rate: int, freq: float) -> float:
    """Amplitude of ``freq`` in the middle half (least squares, so leakage does not inflate it)."""
    y = samples[samples.shape[0] // 4 : 3 * samples.shape[0] // 4]
    t = np.arange(y.shape[0]) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return max(float(np.hypot(*coef)), 1e-12)


def _engine_output(
    signal: np.ndarray, from_rate: int, to_rate: int, quality: Quality
) -> np.ndarray:
    """The engine's float64 output in 20 ms streaming, so rejection is not capped by int16."""
    if quality == "HB":
        half = half_band(from_rate, to_rate)
        chunks = [half.process(f) for f in _frames(signal, from_rate // 50)]
        return np.concatenate([*chunks, half.flush()])
    if quality == "VR":
        stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype=np.float64, vr=True)
    else:
        stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype=np.float64, quality=quality)
    chunks = [stream.resample_chunk(f) for f in _frames(signal, from_rate // 50)]
    return np.concatenate([*chunks, stream.resample_chunk(signal[:0], last=True)])


def _db(ratio: float) -> float:
    return 20.0 * float(np.log10(ratio))


def quality_table(n_frames: int) -> list[tuple[str, ...]]:
    """Delay, rejection and cost of every engine in 20 ms streaming."""
    rows: list[tuple[str, ...]] = []
    pcm8k = _frames(_speechlike(8000, 2.0), 160)
    for quality in QUALITIES:
        q = cast(Quality, quality)
        up_lag, _, up_steady = stream_delay(8000, 16000, q)
        down_lag, _, down_steady = stream_delay(16000, 8000, q)
        # The half-band FIR converts by a factor of two only: not 24 -> 8 kHz.
        tts_lag = None if q == "HB" else stream_delay(24000, 8000, q)[0]
        # Alias: tones above 4 kHz must vanish when going to 8 kHz, not fold to 8000 - f.
        alias = min(
            -_db(_level_at(_engine_output(_tone(f, 16000), 16000, 8000, q), 8000, 8000 - f))
            for f in (4400, 5000, 6000, 7000, 7600)
        )
        # Image: upsampling must not add a mirror of each tone at 8000 - f.
        image = min(
            -_db(_level_at(_engine_output(_tone(f, 8000), 8000, 16000, q), 16000, 8000 - f))
            for f in (400, 1000, 2000, 3000, 3600)
        )
        edge = _db(_level_at(_engine_output(_tone(3400, 16000), 16000, 8000, q), 8000, 3400))
        median, _ = _time_per_frame(
            _resample_step(StreamResampler(8000, 16000, q), pcm8k), n_frames // 4
        )
        rows.append(
            (
                quality,
                f"{up_lag:.2f} / {down_lag:.2f} / "
                + ("-" if tts_lag is None else f"{tts_lag:.2f}"),
                "yes" if up_steady and down_steady else "no (bursts)",
                f"{alias:.0f}",
                f"{image:.0f}",
                f"{edge:+.2f}",
                f"{median:.1f}",
            )
        )
    return rows


def _print_table(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    print(title)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print()


def main() -> None:
    """Runs the benchmark and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000, help="timed frames per row")
    args = parser.parse_args()

    _print_table(
        f"CPU per 20 ms frame ({args.frames} frames, StreamResampler's default: HB between 8 and"
        f" 16 kHz, else {DEFAULT_STREAM_QUALITY})",
        ("operation", "median µs", "p95 µs"),
        cost_table(args.frames),
    )
    delay_rows: list[tuple[str, ...]] = []
    for from_rate, to_rate in DELAY_PAIRS:
        if from_rate == to_rate:
            continue
        worst, first, steady = stream_delay(from_rate, to_rate, None)
        delay_rows.append(
            (f"{from_rate}->{to_rate}", f"{worst:.2f}", str(first), "yes" if steady else "no")
        )
    _print_table(
        "Streaming delay of StreamResampler (its default quality, 20 ms frames)",
        ("rates", "added delay ms", "first output at frame", "output every frame"),
        delay_rows,
    )
    _print_table(
        "Engines in 20 ms streaming (rejection: worst tone, alias 16k->8k, image 8k->16k;"
        " int16 output itself floors at ~96 dB)",
        (
            "quality",
            "delay ms 8->16 / 16->8 / 24->8",
            "output every frame",
            "alias rej dB",
            "image rej dB",
            "3.4 kHz dB",
            "µs/frame 8->16",
        ),
        quality_table(args.frames),
    )


if __name__ == "__main__":
    main()
