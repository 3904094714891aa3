"""Answering machine detection from audio: spoken greetings (espeak-ng voices and phrasings
the benchmark does not use) at 8 kHz, a beep on its own, and silence."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.audio.resample import resample
from callwright.campaigns.machine import MachineDetector
from callwright.tts.espeak import EspeakTts

RATE = 8000


async def _speech(text: str, voice: str) -> np.ndarray:
    tts = EspeakTts(voice=voice, words_per_minute=150)
    chunks = [chunk async for chunk in tts.synthesize(text)]
    return resample(np.concatenate(chunks), tts.sample_rate, RATE)


def _tone(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.3 * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def _run(audio: np.ndarray, chunk: int = 240) -> tuple[str, float, bool]:
    detector = MachineDetector(RATE)
    for start in range(0, audio.size, chunk):
        found = detector.feed(audio[start : start + chunk])
        if found is not None:
            return found.verdict, found.at_ms, found.beep
    return "undecided", 0.0, False


def _quiet(seconds: float) -> np.ndarray:
    return np.zeros(int(RATE * seconds), np.int16)


@pytest.mark.parametrize("voice", ["en-us+f3", "en-gb-x-rp"])
async def test_a_person_answering(voice: str) -> None:
    audio = np.concatenate([_quiet(0.2), await _speech("Hello, yes?", voice), _quiet(3.0)])
    verdict, at_ms, _ = _run(audio)
    assert verdict == "human"
    assert at_ms < 3000.0


@pytest.mark.parametrize("voice", ["en-us+f3", "en-gb-x-rp"])
async def test_a_recorded_greeting(voice: str) -> None:
    text = (
        "Thanks for calling the Wilson residence. Nobody can come to the phone at the moment, "
        "so say who you are and we will ring you back."
    )
    audio = np.concatenate([_quiet(0.2), await _speech(text, voice), _quiet(2.0)])
    verdict, _, beep = _run(audio)
    assert verdict == "machine" and not beep  # decided by the greeting's length alone


def test_a_beep_is_a_machine_and_the_moment_to_speak() -> None:
    audio = np.concatenate([_quiet(0.5), _tone(850.0, 0.4), _quiet(1.0)])
    verdict, at_ms, beep = _run(audio)
    assert verdict == "machine" and beep
    assert 500.0 < at_ms <= 900.0  # during the tone, not before it


def test_silence_is_undecided_until_the_limit() -> None:
    verdict, at_ms, _ = _run(_quiet(9.0))
    assert verdict == "unknown" and at_ms == pytest.approx(8000.0)
