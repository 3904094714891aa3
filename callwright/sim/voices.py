"""Caller voices for simulated calls, from several Debian speech engines.

A caller the agent was never tuned on is the point of an evaluation, so voices come from three
engines with different acoustics: espeak-ng (formant synthesis; several voices and speeds),
flite (diphone and clustergen voices kal, awb, rms, slt) and Festival with the HTS voice
`festvox-us-slt-hts` (statistical parametric, the most natural of the three). Each engine is a
subprocess writing a WAV file; synthesis runs in a thread so the event loop never waits on it.

Voices are named `engine:voice[@wpm]`, e.g. `espeak:en-us+m3@165`, `flite:slt`,
`festival:slt_hts`.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from callwright.audio.resample import resample
from callwright.audio.wav import read_wav

SAMPLE_RATE = 16000
FLITE_VOICES = ("kal", "awb", "rms", "slt")
FESTIVAL_VOICES = {"slt_hts": "voice_cmu_us_slt_arctic_hts"}
# Active-speech level every caller voice is brought to, so conditions (noise at a set SNR)
# mean the same thing whatever engine spoke.
SPEECH_LEVEL_DBFS = -20.0


class CallerVoice(Protocol):
    """Speaks a caller's line as int16 mono samples at `SAMPLE_RATE`."""

    @property
    def name(self) -> str: ...

    async def speak(self, text: str) -> np.ndarray:
        """The line's audio, trimmed of leading and trailing silence, at `SPEECH_LEVEL_DBFS`."""
        ...


def active_rms(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """RMS over the 10 ms blocks that carry speech (above 1 % of the loudest block's RMS)."""
    block = sample_rate // 100
    n = samples.size // block
    if n == 0:
        return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0
    blocks = samples[: n * block].astype(np.float64).reshape(n, block)
    power = (blocks**2).mean(axis=1)
    active = power[power > 1e-4 * power.max()] if power.max() > 0 else power
    return float(np.sqrt(active.mean())) if active.size else 0.0


def normalize_level(samples: np.ndarray, level_dbfs: float = SPEECH_LEVEL_DBFS) -> np.ndarray:
    """Scales speech so that its active RMS is `level_dbfs` (relative to int16 full scale)."""
    rms = active_rms(samples)
    if rms <= 0.0:
        return samples
    target = 32768.0 * 10 ** (level_dbfs / 20.0)
    scaled = samples.astype(np.float64) * (target / rms)
    return np.clip(np.round(scaled), -32768, 32767).astype(np.int16)


def trim_silence(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Drops leading and trailing silence (engines pad differently), keeping soft onsets.

    The threshold is low (0.3 % of the peak, 10 ms blocks): an initial fricative ("F" of
    "Friday") sits at 1-2 % of the peak, and cutting it changes the word.
    """
    block = sample_rate // 100
    n = samples.size // block
    if n == 0:
        return samples
    peak = np.abs(samples[: n * block].astype(np.int32)).reshape(n, block).max(axis=1)
    loud = np.nonzero(peak > 0.003 * max(int(peak.max()), 1))[0]
    if loud.size == 0:
        return samples[:0]
    return samples[int(loud[0]) * block : int(loud[-1] + 1) * block]


@dataclass(frozen=True, slots=True)
class EngineVoice:
    """A voice of one of the Debian engines.

    Attributes:
        engine: "espeak", "flite" or "festival".
        voice: the engine's voice name (espeak-ng `-v`, flite `-voice`, a key of
            `FESTIVAL_VOICES`).
        words_per_minute: espeak-ng's speed; ignored by the other engines.
    """

    engine: str
    voice: str
    words_per_minute: int = 150

    @property
    def name(self) -> str:
        speed = f"@{self.words_per_minute}" if self.engine == "espeak" else ""
        return f"{self.engine}:{self.voice}{speed}"

    def command(self, text: str, wav: Path) -> list[str]:
        """The command line that writes `text` to `wav` (Festival reads the text from stdin)."""
        if self.engine == "espeak":
            speed = str(self.words_per_minute)
            return ["espeak-ng", "-v", self.voice, "-s", speed, "-w", str(wav), "--", text]
        if self.engine == "flite":
            return ["flite", "-voice", self.voice, "-t", text, "-o", str(wav)]
        if self.engine == "festival":
            select = f"({FESTIVAL_VOICES[self.voice]})"
            return ["text2wave", "-eval", select, "-o", str(wav)]
        raise ValueError(f"unknown speech engine {self.engine!r}")

    def speak_blocking(self, text: str) -> np.ndarray:
        """Synthesizes in this thread (use `speak` on the event loop)."""
        with tempfile.TemporaryDirectory() as folder:
            wav = Path(folder) / "line.wav"
            stdin = text if self.engine == "festival" else None
            subprocess.run(
                self.command(text, wav), input=stdin, text=True, check=True, capture_output=True
            )
            audio, rate = read_wav(wav)
        audio = resample(audio, rate, SAMPLE_RATE)
        return normalize_level(trim_silence(audio))

    async def speak(self, text: str) -> np.ndarray:
        return await asyncio.to_thread(self.speak_blocking, text)


def parse_voice(spec: str) -> EngineVoice:
    """`engine:voice[@wpm]` → a voice; raises ValueError naming what is wrong."""
    engine, _, rest = spec.partition(":")
    voice, _, speed = rest.partition("@")
    if engine not in ("espeak", "flite", "festival") or not voice:
        raise ValueError(
            f"voice {spec!r}: expected espeak:VOICE[@WPM], flite:VOICE or festival:VOICE"
        )
    if engine == "flite" and voice not in FLITE_VOICES:
        raise ValueError(f"voice {spec!r}: flite voices are {', '.join(FLITE_VOICES)}")
    if engine == "festival" and voice not in FESTIVAL_VOICES:
        raise ValueError(f"voice {spec!r}: festival voices are {', '.join(FESTIVAL_VOICES)}")
    if speed and not speed.isdigit():
        raise ValueError(f"voice {spec!r}: the speed after @ is words per minute")
    return EngineVoice(engine, voice, int(speed) if speed else 150)


# The eval voices: every engine, male and female, espeak at an ordinary and a fast pace.
EVAL_VOICES = (
    "festival:slt_hts",
    "flite:slt",
    "flite:rms",
    "flite:awb",
    "flite:kal",
    "espeak:en-us+f3@150",
    "espeak:en-us+m3@165",
    "espeak:en-gb+m1@140",
)


class VoiceAsTts:
    """A caller voice behind the `TextToSpeech` interface the call simulators take.

    Args:
        voice: the caller's voice.
        shape: what happens to the audio on the caller's side before it is sent (an audio
            condition: noise, a phone line...); identity by default.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, voice: CallerVoice, shape: AudioShaper | None = None) -> None:
        self.voice = voice
        self.name = voice.name
        self.shape = shape

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        audio = await self.voice.speak(text)
        if self.shape is not None:
            audio = self.shape(audio)
        yield audio


class AudioShaper(Protocol):
    """Transforms one utterance's 16 kHz int16 audio (deterministically)."""

    def __call__(self, samples: np.ndarray) -> np.ndarray: ...
