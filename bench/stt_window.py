"""Whisper compute time and accuracy: speech-length encoder window vs. Whisper's 30 s window.

Synthesises varied sentences with espeak-ng in two voices, transcribes each one with every
configuration and prints median / p95 compute time and word error rate.

Run from the repository root:

    .venv/bin/python -m bench.stt_window [--no-base] [--base-full] [--phone]
        [--min-windows 12,8,6]

`--min-windows` adds a tiny.en speech-window row per shortest encoder input (seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import re
from dataclasses import dataclass

import numpy as np

from callwright.audio.resample import resample
from callwright.sim.espeak import espeak_clip
from callwright.stt.whisper import WhisperOptions, WhisperStt

SENTENCES = (
    "Yes, please.",
    "No thanks.",
    "Sure, go ahead.",
    "Please cancel my subscription.",
    "I need to change my delivery address.",
    "Hello, I am calling about my order.",
    "Thank you very much for your help.",
    "My name is John and I live in London.",
    "The meeting has been moved to next week.",
    "I would like to speak to someone in customer service.",
    "Could you please send me an email with the details of my booking?",
    "I bought a new phone last month, but the screen stopped working after a few days, "
    "so I would like to return it and get my money back as soon as possible.",
)
VOICES = ("en-us+f2", "en-us")


@dataclass(frozen=True)
class Clip:
    text: str
    voice: str
    audio: np.ndarray


@dataclass(frozen=True)
class Row:
    label: str
    median_ms: float
    p95_ms: float
    wer: float
    utterances: int


def speak(text: str, voice: str, phone: bool) -> np.ndarray:
    """espeak-ng speech as int16 at 16 kHz; through an 8 kHz band first if `phone`."""
    if not phone:
        return espeak_clip(text, 16000, voice)
    return resample(espeak_clip(text, 8000, voice), 8000, 16000)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def edit_distance(hypothesis: list[str], reference: list[str]) -> int:
    row = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        previous, row[0] = row[0], i
        for j, hyp_word in enumerate(hypothesis, start=1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word)),
            )
    return row[-1]


async def measure(label: str, options: WhisperOptions, clips: list[Clip], verbose: bool) -> Row:
    """Transcribes every clip one at a time, as a single call would."""
    stt = WhisperStt.load(options)
    try:
        await stt.warm_up()
        compute: list[float] = []
        errors = 0
        reference_words = 0
        for clip in clips:
            transcript = await stt.transcribe(clip.audio)
            compute.append(transcript.compute_ms)
            reference = words(clip.text)
            distance = edit_distance(words(transcript.text), reference)
            errors += distance
            reference_words += len(reference)
            if verbose and distance:
                print(f"  {label} [{clip.voice}] {clip.text!r} -> {transcript.text!r}")
    finally:
        stt.close()
    return Row(
        label=label,
        median_ms=float(np.median(compute)),
        p95_ms=float(np.percentile(compute, 95)),
        wer=errors / reference_words,
        utterances=len(clips),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-base", action="store_true", help="skip Whisper base")
    parser.add_argument("--base-full", action="store_true", help="also run base, full window")
    parser.add_argument("--phone", action="store_true", help="pass audio through 8 kHz first")
    parser.add_argument("--verbose", action="store_true", help="print every wrong transcript")
    parser.add_argument(
        "--min-windows", default="", help="shortest speech windows to compare, e.g. 12,8,6"
    )
    args = parser.parse_args()

    clips = [Clip(t, v, speak(t, v, args.phone)) for v in VOICES for t in SENTENCES]
    seconds = [clip.audio.shape[0] / 16000 for clip in clips]
    print(
        f"{len(clips)} utterances, {min(seconds):.1f}-{max(seconds):.1f} s "
        f"(median {np.median(seconds):.1f} s){', 8 kHz band' if args.phone else ''}"
    )
    configs = [
        ("tiny.en / speech", WhisperOptions(model="tiny.en", window="speech")),
        ("tiny.en / full", WhisperOptions(model="tiny.en", window="full")),
    ]
    for seconds_text in filter(None, args.min_windows.split(",")):
        shortest = float(seconds_text)
        options = WhisperOptions(model="tiny.en", window="speech", min_window_s=shortest)
        configs.append((f"tiny.en / >= {shortest:g} s", options))
    if not args.no_base:
        configs.append(("base / speech", WhisperOptions(model="base", window="speech")))
        if args.base_full:
            configs.append(("base / full", WhisperOptions(model="base", window="full")))

    rows = [await measure(label, options, clips, args.verbose) for label, options in configs]
    print(f"| {'model / window':<18} | median ms | p95 ms | WER    |")
    print(f"|{'-' * 20}|-----------|--------|--------|")
    for row in rows:
        print(
            f"| {row.label:<18} | {row.median_ms:9.0f} | {row.p95_ms:6.0f} | "
            f"{100 * row.wer:5.1f}% |"
        )


if __name__ == "__main__":
    asyncio.run(main())
