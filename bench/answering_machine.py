"""Answering machine detection on a labelled set of synthetic greetings.

People answering ("Hello?", "Yeah, this is Sam speaking.") and machines (a recorded greeting,
then a beep), spoken by several espeak-ng voices at phone quality (8 kHz, with a little line
noise), each preceded by the ring-to-answer silence. Prints precision and recall for "machine"
and the decision time per class.

    python bench/answering_machine.py [--voices en-us,en-gb,en-us+f2,en-us+m3,en-sc]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import numpy as np

from callwright.audio.resample import resample
from callwright.campaigns.machine import MachineDetector
from callwright.tts.espeak import EspeakTts

RATE = 8000
HUMAN = [
    "Hello?",
    "Hi, this is Sam.",
    "Yeah, hello?",
    "Hello, who is this?",
    "Good morning, Maria speaking.",
    "Hi there.",
]
MACHINE = [
    "Hi, you've reached the voicemail of John Smith. I can't take your call right now, "
    "please leave a message after the tone.",
    "The person you are calling is not available. Please leave your message after the beep.",
    "Hello, this is Anna. Sorry I missed you, leave your name and number and I'll call back.",
    "You have reached the Garcia family. We're not home right now, please leave a message.",
]


def beep(hz: float = 1000.0, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.4 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


async def speak(tts: EspeakTts, text: str) -> np.ndarray:
    chunks = [chunk async for chunk in tts.synthesize(text)]
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return resample(audio, tts.sample_rate, RATE)


def line(audio: np.ndarray, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 60, audio.size)
    return np.clip(audio.astype(np.float64) + noise, -32768, 32767).astype(np.int16)


def detect(audio: np.ndarray) -> tuple[str, float]:
    detector = MachineDetector(RATE)
    for start in range(0, audio.size, 160):
        found = detector.feed(audio[start : start + 160])
        if found is not None:
            return found.verdict, found.at_ms
    return "unknown", audio.size / RATE * 1000.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voices", default="en-us,en-gb,en-us+f2,en-us+m3,en-sc")
    args = parser.parse_args()
    lead = np.zeros(int(RATE * 0.3), np.int16)
    tail = np.zeros(int(RATE * 3.0), np.int16)
    cases: list[tuple[str, np.ndarray]] = []
    for n, voice in enumerate(args.voices.split(",")):
        tts = EspeakTts(voice=voice, words_per_minute=160)
        for text in HUMAN:
            cases.append(("human", line(np.concatenate([lead, await speak(tts, text), tail]), n)))
        for text in MACHINE:
            greeting = await speak(tts, text)
            gap = np.zeros(int(RATE * 0.4), np.int16)
            audio = np.concatenate([lead, greeting, gap, beep(), tail])
            cases.append(("machine", line(audio, n)))
    results = [(label, *detect(audio)) for label, audio in cases]
    tp = sum(1 for label, verdict, _ in results if label == "machine" and verdict == "machine")
    fp = sum(1 for label, verdict, _ in results if label == "human" and verdict == "machine")
    fn = sum(1 for label, verdict, _ in results if label == "machine" and verdict != "machine")
    unknown = sum(1 for _, verdict, _ in results if verdict == "unknown")
    print(f"{len(results)} greetings ({len(HUMAN)} human and {len(MACHINE)} machine texts, "
          f"{len(args.voices.split(','))} voices); undecided: {unknown}")  # fmt: skip
    print(f"machine precision {tp / max(tp + fp, 1):.2f}  recall {tp / max(tp + fn, 1):.2f}")
    print("| answered by | correct | median decision ms | max decision ms |")
    print("|---|---|---|---|")
    for label in ("human", "machine"):
        mine = [(v, ms) for lab, v, ms in results if lab == label]
        correct = sum(1 for v, _ in mine if v == label)
        times = [ms for _, ms in mine]
        print(f"| {label} | {correct}/{len(mine)} | {statistics.median(times):.0f} | "
              f"{max(times):.0f} |")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
