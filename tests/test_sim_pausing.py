"""A simulated caller's mid-sentence pause: one synthesis, the silence cut in at a word boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from callwright.sim import cut_cache, pausing
from callwright.sim.pausing import (
    pause_points,
    quiet_candidates,
    speak_line,
    split_marks,
    spoken_texts,
    with_pauses,
)
from callwright.stt.base import Transcript

RATE = 16000
WORD_S = 0.2  # each word of the toy voice: a tone this long
GAP_S = 0.05  # and this much silence between words


class ToneVoice:
    """Says each word as a tone burst, words apart by a short silence; counts its calls."""

    name = "tones"
    sample_rate = RATE

    def __init__(self) -> None:
        self.said: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        self.said.append(text)
        t = np.arange(int(WORD_S * RATE)) / RATE
        gap = np.zeros(int(GAP_S * RATE), dtype=np.int16)
        pieces: list[np.ndarray] = [gap]  # leading silence, as synthesizers have
        for index, _ in enumerate(text.split()):
            tone = (8000 * np.sin(2 * np.pi * (300 + 50 * index) * t)).astype(np.int16)
            pieces += [tone, gap]
        yield np.concatenate(pieces)


class BurstCounter:
    """A recogniser that hears "w1 w2 ..." for each whole tone burst in a piece."""

    name = "bursts"
    sample_rate = RATE

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        block = RATE // 100  # 10 ms blocks: a tone's zero crossings are no silence
        n = samples.size // block
        peaks = np.abs(samples[: n * block].astype(np.int32)).reshape(n, block).max(axis=1)
        loud = (peaks > 1000).astype(int)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], loud, [0]])))
        runs = [(b - a) / 100 for a, b in zip(edges[::2], edges[1::2], strict=True)]
        whole = sum(1 for r in runs if r > 0.9 * WORD_S)
        text = " ".join(f"w{i + 1}" for i in range(whole))
        return Transcript(text=text, confidence=None, audio_ms=0.0, compute_ms=0.0)


def test_marks_give_the_sentence_and_the_words_before_each_pause() -> None:
    assert split_marks("My date of birth is | March third.") == (
        "My date of birth is March third.",
        [5],
    )
    assert split_marks("one | two three | four") == ("one two three four", [1, 3])
    # A mark at either end or doubled is no pause inside the sentence.
    assert split_marks("| one two |") == ("one two", [])
    assert split_marks("one || two") == ("one two", [1])
    assert spoken_texts("a b | c d") == ["a b c d", "a b"]


def test_quiet_candidates_are_the_silences_quietest_first() -> None:
    tone = (5000 * np.sin(2 * np.pi * 200 * np.arange(8000) / RATE)).astype(np.int16)
    soft = (tone // 10).astype(np.int16)
    # 40 ms of silence (under the 50 ms between candidates: one candidate), then 100 ms soft.
    audio = np.concatenate([tone, np.zeros(640, np.int16), tone, soft[:1600], tone])
    found = quiet_candidates(audio, RATE, 0.0, audio.size / RATE, limit=2)
    assert 8000 <= found[0] < 8640  # the silence
    assert 8640 + 8000 <= found[1] < 8640 + 8000 + 1600  # then the soft stretch


def test_pauses_are_inserted_at_their_points() -> None:
    audio = np.arange(1, 11, dtype=np.int16)
    out = with_pauses(audio, [3, 7], 2)
    assert out.tolist() == [1, 2, 3, 0, 0, 4, 5, 6, 7, 0, 0, 8, 9, 10]


async def test_the_recogniser_picks_the_boundary_between_the_right_words() -> None:
    # Four words; the pause goes after the second. Both silences after word one and after
    # word two lie in the window; only the second leaves "w1 w2" before and two words after.
    word, gap = int(WORD_S * RATE), int(GAP_S * RATE)
    audio = (await _whole(ToneVoice(), "w1 w2 w3 w4"))[0]
    words = ["w1", "w2", "w3", "w4"]
    estimate_s = (2 * word + gap) / RATE + 0.04  # overshoots, as a phrase said alone does
    (point,) = await pause_points(audio, RATE, words, [(2, estimate_s)], BurstCounter())
    assert 2 * word + gap <= point <= 2 * word + 2 * gap


async def test_a_line_is_synthesized_whole_and_the_pause_cut_into_it() -> None:
    voice = ToneVoice()
    out = await speak_line(voice, "w1 w2 | w3 w4", 500.0, RATE, stt=BurstCounter())
    # One synthesis of the whole line (the prosody of one sentence), one of the words before
    # the pause (only to estimate where they end), never the second half on its own.
    assert voice.said == ["w1 w2 w3 w4", "w1 w2"]
    word, gap = int(WORD_S * RATE), int(GAP_S * RATE)
    trimmed = 4 * word + 3 * gap  # the leading and trailing silence go
    assert out.size == trimmed + int(0.5 * RATE)
    silent = np.abs(out.astype(np.int32)) == 0
    longest = _longest_run(silent)
    assert longest[1] - longest[0] >= int(0.5 * RATE)
    assert 2 * word + gap <= longest[0] <= 2 * word + 2 * gap  # between w2 and w3


async def test_a_line_without_marks_is_one_synthesis_trimmed() -> None:
    voice = ToneVoice()
    out = await speak_line(voice, "w1 w2", 800.0, RATE, stt=BurstCounter())
    assert voice.said == ["w1 w2"]
    assert out.size == 2 * int(WORD_S * RATE) + int(GAP_S * RATE)


async def _whole(voice: ToneVoice, text: str) -> tuple[np.ndarray, int]:
    audio = np.concatenate([c async for c in voice.synthesize(text)])
    lead = int(GAP_S * RATE)
    return audio[lead:-lead], lead


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    best, start = (0, 0), None
    for i, on in enumerate([*mask.tolist(), False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


async def test_a_cut_placed_once_is_reused_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default recogniser's cuts are kept on disk: the second time the same voice says the
    # same line, neither the words before the pause nor the recogniser are needed again.
    recogniser = CountingRecogniser()
    monkeypatch.setattr(pausing, "default_stt", lambda: recogniser)
    monkeypatch.setattr(cut_cache, "cache_dir", lambda: tmp_path)
    voice = ToneVoice()
    first = await speak_line(voice, "w1 w2 | w3 w4", 500.0, RATE)
    passes = recogniser.calls
    assert voice.said == ["w1 w2 w3 w4", "w1 w2"] and passes > 0
    assert _stored(tmp_path) == 1
    again = await speak_line(voice, "w1 w2 | w3 w4", 700.0, RATE)
    assert voice.said == ["w1 w2 w3 w4", "w1 w2", "w1 w2 w3 w4"]  # the whole line only
    assert recogniser.calls == passes
    # Same cut, longer silence: the audio differs only by the 200 ms more of it.
    assert again.size == first.size + int(0.2 * RATE)
    assert np.array_equal(_without_zeros(again), _without_zeros(first))
    # Another line is another key: placed afresh.
    await speak_line(voice, "w1 | w2 w3 w4", 500.0, RATE)
    assert recogniser.calls > passes and _stored(tmp_path) == 2


async def test_a_cut_is_not_kept_for_a_recogniser_passed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cut_cache, "cache_dir", lambda: tmp_path)
    await speak_line(ToneVoice(), "w1 w2 | w3 w4", 500.0, RATE, stt=BurstCounter())
    assert _stored(tmp_path) == 0


def test_a_cut_key_changes_with_the_audio_the_words_and_the_recogniser() -> None:
    audio = np.arange(100, dtype=np.int16)
    base = cut_cache.cut_key(audio, RATE, "a | b", "whisper-tiny.en")
    assert base == cut_cache.cut_key(audio.copy(), RATE, "a | b", "whisper-tiny.en")
    assert base != cut_cache.cut_key(audio[::-1], RATE, "a | b", "whisper-tiny.en")
    assert base != cut_cache.cut_key(audio, RATE, "a b |", "whisper-tiny.en")
    assert base != cut_cache.cut_key(audio, RATE, "a | b", "whisper-base")
    assert base != cut_cache.cut_key(audio, 8000, "a | b", "whisper-tiny.en")


class CountingRecogniser(BurstCounter):
    """`BurstCounter` that counts its passes."""

    def __init__(self) -> None:
        self.calls = 0

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        self.calls += 1
        return await super().transcribe(samples)


def _without_zeros(audio: np.ndarray) -> np.ndarray:
    return audio[audio != 0]


def _stored(folder: Path) -> int:
    """How many cuts the cache holds (a sync helper: the async tests only count)."""
    return len(list(folder.glob("*.json")))
