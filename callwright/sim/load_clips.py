"""Caller lines for load runs, synthesized once and cut into ready-to-send 20 ms frames.

A load run places hundreds of calls; synthesizing per call would load the generator more than
the server. So a small set of lines is spoken once by a few caller voices (`sim/voices.py`:
different engines and speeds), and each clip is kept as the exact wire payloads: base64 µ-law
8 kHz for Twilio media messages and PCM16 16 kHz bytes for the native WebSocket. Calls then
pick clips and pauses at random, so no two calls say the same thing at the same moment.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from callwright.audio.mulaw import mulaw_encode
from callwright.audio.resample import resample
from callwright.sim.voices import SAMPLE_RATE, EngineVoice, parse_voice

PHONE_RATE = 8000
PHONE_FRAME = 160  # 20 ms at 8 kHz
WIDE_FRAME = 320  # 20 ms at 16 kHz

# Everyday questions a business line gets; an agent that cannot answer them still replies.
DEFAULT_LINES = (
    "Hi, what are your opening hours?",
    "What is your address?",
    "Is there parking nearby?",
    "Can I book an appointment for next week?",
    "Do you have anything on Friday morning?",
    "Okay, thank you very much.",
)
# Two engines, female and male, two speeds: the server's VAD and Whisper see varied speech.
DEFAULT_VOICES = ("espeak:en-us+f3@150", "flite:kal", "espeak:en-us+m3@175", "flite:slt")


@dataclass(frozen=True, slots=True)
class Clip:
    """One caller line in one voice, as wire payloads.

    Attributes:
        text: the words.
        voice: who spoke them (`engine:voice[@wpm]`).
        phone_frames: base64 µ-law 8 kHz payloads, 20 ms each (Twilio `media`).
        wide_frames: PCM16 16 kHz little-endian bytes, 20 ms each (native binary frames).
    """

    text: str
    voice: str
    phone_frames: tuple[str, ...]
    wide_frames: tuple[bytes, ...]

    @property
    def seconds(self) -> float:
        return len(self.phone_frames) * 0.02


def _frames(samples: np.ndarray, size: int) -> list[np.ndarray]:
    padded = np.concatenate([samples, np.zeros((-samples.size) % size, dtype=np.int16)])
    return [padded[i : i + size] for i in range(0, padded.size, size)]


def clip_from_audio(text: str, voice: str, audio: np.ndarray) -> Clip:
    """A clip from 16 kHz int16 speech."""
    phone = resample(audio, SAMPLE_RATE, PHONE_RATE)
    phone_frames = tuple(
        base64.b64encode(mulaw_encode(f)).decode("ascii") for f in _frames(phone, PHONE_FRAME)
    )
    wide_frames = tuple(f.astype("<i2").tobytes() for f in _frames(audio, WIDE_FRAME))
    return Clip(text, voice, phone_frames, wide_frames)


LINE_NOISE_DBFS = -64.0  # a quiet handset line's own hiss, well under speech and any VAD
LINE_NOISE_FRAMES = 50  # one second, looped: too long for a detector to lock onto a pattern


def line_noise(
    dbfs: float = LINE_NOISE_DBFS, frames: int = LINE_NOISE_FRAMES, seed: int = 64
) -> tuple[tuple[str, ...], tuple[bytes, ...]]:
    """A phone line's faint noise while the caller says nothing, as ready wire payloads.

    A real line is never digital zero, and a server that short-cuts on zeros (the echo
    canceller's check, the VAD) would look cheaper under load than on a real line. The noise
    is white at `dbfs` (RMS relative to full scale), made once, so sending it costs what
    sending zeros did.

    Returns:
        (phone payloads: base64 µ-law 8 kHz, wide payloads: PCM16 16 kHz bytes), 20 ms each.
    """
    rng = np.random.default_rng(seed)
    rms = 32768.0 * 10.0 ** (dbfs / 20.0)
    wide = np.clip(np.rint(rng.normal(0.0, rms, frames * WIDE_FRAME)), -32768, 32767)
    wide16 = wide.astype(np.int16)
    phone = np.clip(np.rint(rng.normal(0.0, rms, frames * PHONE_FRAME)), -32768, 32767)
    phone16 = phone.astype(np.int16)
    phone_frames = tuple(
        base64.b64encode(mulaw_encode(f)).decode("ascii") for f in _frames(phone16, PHONE_FRAME)
    )
    wide_frames = tuple(f.astype("<i2").tobytes() for f in _frames(wide16, WIDE_FRAME))
    return phone_frames, wide_frames


NOISE_PHONE, NOISE_WIDE = line_noise()


async def prepare_clips(
    lines: Sequence[str] = DEFAULT_LINES,
    voices: Sequence[str] = DEFAULT_VOICES,
    per_line: int = 2,
) -> list[Clip]:
    """Speaks each line in `per_line` of the voices (rotating), a few at a time in threads."""
    if not lines or not voices:
        raise ValueError("need at least one line and one voice")
    engines = [parse_voice(v) for v in voices]
    jobs = [
        (text, engines[(i + k) % len(engines)])
        for i, text in enumerate(lines)
        for k in range(min(per_line, len(engines)))
    ]
    limit = asyncio.Semaphore(2)

    async def speak(text: str, voice: EngineVoice) -> Clip:
        async with limit:
            audio = await voice.speak(text)
        return clip_from_audio(text, voice.name, audio)

    return list(await asyncio.gather(*(speak(t, v) for t, v in jobs)))
