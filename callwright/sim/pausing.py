"""A caller who pauses mid-sentence, spoken as one sentence with a silence cut into it.

A real caller who stops to think stops inside a sentence: the voice before the pause still
carries the sentence's continuing intonation, and the words stop on one that does not end the
thought. Synthesizing each half as a sentence of its own gives the first half a final fall and
final lengthening, so the simulated caller sounds finished where a real one does not. Here the
whole line is synthesized in one go and the silence is inserted at the word boundary the "|"
marks. The words before it, said alone, give its place roughly (they end with final
lengthening, so a little late); the quiet points around there are candidates, and the one whose
two sides a recogniser hears most like the words before and after it wins, so no word is cut
in two.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from callwright.audio.resample import resample
from callwright.sim.cut_cache import cut_key, engine_label, load_cuts, store_cuts
from callwright.stt.base import SpeechToText
from callwright.stt.whisper import WhisperOptions, WhisperStt
from callwright.tts.base import TextToSpeech

ASR_RATE = 16000
_BLOCK_S = 0.01
# Words said on their own end with final lengthening (tens to a few hundred ms), so the boundary
# lies up to this much before their length, rarely after.
_BEFORE_S = 0.3
_AFTER_S = 0.05
_CANDIDATES = 4
_CANDIDATE_SPACING_S = 0.05
_LETTERS = re.compile(r"[^a-z0-9 ]+")


def split_marks(text: str) -> tuple[str, list[int]]:
    """The line without its "|" marks, and how many words come before each mark.

    >>> split_marks("My date of birth is | March third.")
    ('My date of birth is March third.', [5])
    """
    parts = [p.split() for p in text.split("|")]
    words = [w for part in parts for w in part]
    counts: list[int] = []
    for part in parts[:-1]:
        before = (counts[-1] if counts else 0) + len(part)
        if 0 < before < len(words) and before not in counts:
            counts.append(before)
    return " ".join(words), counts


def spoken_texts(text: str) -> list[str]:
    """What `speak_line` synthesizes for `text`: the whole line, then the words before each
    pause (to cache them ahead of a call)."""
    whole, counts = split_marks(text)
    words = whole.split()
    return [whole] + [" ".join(words[:n]) for n in counts]


def block_energy(samples: np.ndarray, rate: int) -> np.ndarray:
    """RMS of each 10 ms block."""
    block = max(1, int(_BLOCK_S * rate))
    n = samples.size // block
    frames = samples[: n * block].astype(np.float64).reshape(n, block)
    return np.sqrt(np.mean(frames**2, axis=1))


def quiet_candidates(
    samples: np.ndarray, rate: int, low_s: float, high_s: float, limit: int = _CANDIDATES
) -> list[int]:
    """Up to `limit` cut points between `low_s` and `high_s`: the middles of the quietest
    10 ms blocks that are local minima of energy, at least 50 ms apart, quietest first."""
    energy = block_energy(samples, rate)
    low = max(1, int(low_s / _BLOCK_S))
    high = min(energy.size - 1, int(np.ceil(high_s / _BLOCK_S)))
    minima = [
        i for i in range(low, high) if energy[i] <= energy[i - 1] and energy[i] <= energy[i + 1]
    ]
    chosen: list[int] = []
    spacing = int(_CANDIDATE_SPACING_S / _BLOCK_S)
    for i in sorted(minima, key=lambda i: float(energy[i])):
        if all(abs(i - j) >= spacing for j in chosen):
            chosen.append(i)
        if len(chosen) == limit:
            break
    block = max(1, int(_BLOCK_S * rate))
    return [i * block + block // 2 for i in chosen]


def speech_span_s(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """First and last moment of speech (10 ms blocks above 2 % of the loudest)."""
    block = max(1, int(_BLOCK_S * rate))
    n = samples.size // block
    if n == 0:
        return 0.0, samples.size / rate
    peak = np.abs(samples[: n * block].astype(np.int32)).reshape(n, block).max(axis=1)
    loud = np.nonzero(peak > 0.02 * max(int(peak.max()), 1))[0]
    if loud.size == 0:
        return 0.0, samples.size / rate
    return float(loud[0]) * _BLOCK_S, float(loud[-1] + 1) * _BLOCK_S


def similarity(heard: str, expected: str) -> float:
    """How alike two word strings are (0-1), ignoring case and punctuation."""

    def norm(text: str) -> str:
        return " ".join(_LETTERS.sub(" ", text.lower()).split())

    return difflib.SequenceMatcher(None, norm(heard), norm(expected)).ratio()


async def best_cut(
    samples: np.ndarray,
    rate: int,
    candidates: Sequence[int],
    before: str,
    after: str,
    stt: SpeechToText,
) -> int:
    """The candidate whose two sides are heard most like the words before and after it."""

    async def heard(piece: np.ndarray) -> str:
        at = resample(piece, rate, ASR_RATE) if rate != ASR_RATE else piece
        return (await stt.transcribe(at)).text

    scores = [
        similarity(await heard(samples[:c]), before) + similarity(await heard(samples[c:]), after)
        for c in candidates
    ]
    return candidates[int(np.argmax(scores))]


async def pause_points(
    samples: np.ndarray,
    rate: int,
    words: Sequence[str],
    ends_s: Sequence[tuple[int, float]],
    stt: SpeechToText | None = None,
) -> list[int]:
    """The sample at which to insert each pause, in order.

    Args:
        samples: the whole line, trimmed to its speech.
        rate: its sample rate.
        words: its words.
        ends_s: (words before the pause, estimated time of the boundary) per pause. The
            estimate is the length of those words spoken on their own, which overshoots by
            their final lengthening: the quiet points from 300 ms before it to 50 ms after it
            are candidates, and the one whose sides are heard as the right words wins (with a
            recogniser), else the quiet point nearest the estimate.
    """
    points: list[int] = []
    end_s = samples.size / rate
    for before, at in ends_s:
        floor = points[-1] / rate + _CANDIDATE_SPACING_S if points else _BLOCK_S
        low, high = max(at - _BEFORE_S, floor), min(at + _AFTER_S, end_s - _BLOCK_S)
        candidates = quiet_candidates(samples, rate, low, high)
        if not candidates:
            points.append(int(np.clip(at, floor, end_s) * rate))
        elif stt is None or len(candidates) == 1:
            points.append(min(candidates[:2], key=lambda c: abs(c / rate - at)))
        else:
            head, tail = " ".join(words[:before]), " ".join(words[before:])
            points.append(await best_cut(samples, rate, candidates, head, tail, stt))
    return points


def with_pauses(samples: np.ndarray, points: Sequence[int], gap: int) -> np.ndarray:
    """`samples` with `gap` zero samples inserted at each point."""
    silence = np.zeros(gap, dtype=samples.dtype)
    pieces: list[np.ndarray] = []
    previous = 0
    for point in points:
        pieces += [samples[previous:point], silence]
        previous = point
    pieces.append(samples[previous:])
    return np.concatenate(pieces)


async def speak_line(
    voice: TextToSpeech,
    text: str,
    pause_ms: float,
    rate: int,
    stt: SpeechToText | None = None,
    trim: bool = True,
) -> np.ndarray:
    """`text` spoken by `voice` at `rate` as one sentence, with `pause_ms` of silence at each
    "|"; the audio is trimmed to its speech first (a synthesizer's leading silence is not the
    caller's; `trim` False keeps it, for voices that trim themselves). `stt` (to check where
    words were cut) defaults to Whisper tiny.en when it is installed, else the cut is the quiet
    point nearest the estimate."""
    whole, counts = split_marks(text)
    chunks = [c async for c in voice.synthesize(whole)]
    audio = resample(np.concatenate(chunks), voice.sample_rate, rate)
    if trim:
        start_s, end_s = speech_span_s(audio, rate)
        audio = audio[int(start_s * rate) : int(end_s * rate)]
    if not counts:
        return audio
    words = whole.split()
    key = None
    if stt is None:
        # The default recogniser's cuts are kept on disk (`sim/cut_cache.py`); one passed in
        # (a test's) is asked every time.
        stt = await asyncio.to_thread(default_stt)
        if stt is not None:
            key = cut_key(audio, rate, text, engine_label(stt))
            cached = await load_cuts(key)
            if cached is not None and len(cached) == len(counts):
                return with_pauses(audio, cached, int(pause_ms * rate / 1000))
    ends_s = [(n, await spoken_length_s(voice, " ".join(words[:n]))) for n in counts]
    points = await pause_points(audio, rate, words, ends_s, stt)
    if key is not None:
        await store_cuts(key, points)
    return with_pauses(audio, points, int(pause_ms * rate / 1000))


async def spoken_length_s(voice: TextToSpeech, text: str) -> float:
    """How long `voice` speaks `text` (its speech, without leading or trailing silence)."""
    chunks = [c async for c in voice.synthesize(text)]
    audio = np.concatenate(chunks)
    start_s, end_s = speech_span_s(audio, voice.sample_rate)
    return end_s - start_s


@lru_cache(maxsize=1)
def default_stt() -> SpeechToText | None:
    """Whisper tiny.en on one thread, loaded once (blocking); None when it is not installed."""
    try:
        return WhisperStt.load(WhisperOptions(cpu_threads=1))
    except (ImportError, RuntimeError, ValueError):
        return None
