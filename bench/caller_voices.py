"""Caller voices for simulated calls: Debian synthesizers the agent was never tuned on.

flite (kal, awb, rms, slt), Festival's HTS voice (cmu_us_slt_arctic_hts) and espeak-ng, each as
a `TextToSpeech` the simulators speak with. Used by the benchmarks and the Smart Turn
measurement; not part of the runtime.
"""

from __future__ import annotations

import asyncio
import tempfile
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from callwright.tts.espeak import EspeakTts


class CommandVoice:
    """A synthesizer run as a command that writes a WAV file.

    Args:
        name: a label for tables.
        argv: the command; "{out}" is replaced by the output path, "{text}" by the text
            (when absent, the text goes to the command's standard input).
        sample_rate: the rate the command writes.
    """

    def __init__(self, name: str, argv: list[str], sample_rate: int) -> None:
        self.name = name
        self._argv = argv
        self.sample_rate = sample_rate

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        with tempfile.TemporaryDirectory() as folder:
            out = str(Path(folder) / "out.wav")
            argv = [a.replace("{out}", out).replace("{text}", text) for a in self._argv]
            stdin = None if any("{text}" in a for a in self._argv) else text.encode()
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await process.communicate(stdin)
            with wave.open(out) as wav:
                rate = wav.getframerate()
                samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        if rate != self.sample_rate:
            raise RuntimeError(f"{self.name}: expected {self.sample_rate} Hz, got {rate}")
        yield samples.copy()


def flite(voice: str) -> CommandVoice:
    """A flite voice (kal at 8 kHz; awb, rms, slt at 16 kHz)."""
    rate = 8000 if voice == "kal" else 16000
    argv = ["flite", "-voice", voice, "-t", "{text}", "-o", "{out}"]
    return CommandVoice(f"flite-{voice}", argv, rate)


def festival_hts() -> CommandVoice:
    """Festival with the HTS voice cmu_us_slt_arctic_hts, 32 kHz."""
    return CommandVoice(
        "festival-hts",
        ["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-o", "{out}"],
        32000,
    )


def caller_voices() -> list[object]:
    """Every caller voice, in a fixed order."""
    voices: list[object] = [flite(v) for v in ("kal", "awb", "rms", "slt")]
    voices.append(festival_hts())
    espeak = EspeakTts(voice="en-us", words_per_minute=150)
    voices.append(espeak)
    return voices


def voice_name(voice: object) -> str:
    """The label of a voice in tables."""
    return str(getattr(voice, "name", type(voice).__name__))
