"""Whisper provider on speech synthesised by espeak-ng."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soxr

from callwright.observe.usage import MeteredStt, UsageMeter
from callwright.sim.espeak import espeak_clip
from callwright.stt.base import SpeechToText, Transcript
from callwright.stt.deadline import TranscriptionSkipped, optional_within
from callwright.stt.models import base_path, resolve_model, tiny_en_path
from callwright.stt.whisper import WhisperOptions, WhisperStt, _Decoded, _unloop

SENTENCES = (
    "I would like to speak to someone in customer service.",
    "The meeting has been moved to next week.",
    "Please cancel my subscription.",
)
PHONE_SENTENCES = (
    ("I would like to speak to someone in customer service.", "en-us+f2"),
    ("I need to change my delivery address.", "en-us"),
)


def speak(text: str, sample_rate: int = 16000, voice: str = "en-us+f2") -> np.ndarray:
    """Synthesises `text` with espeak-ng as int16 samples at `sample_rate`."""
    return espeak_clip(text, sample_rate, voice)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    converted = soxr.resample(audio.astype(np.float32) / 32768.0, rate_in, rate_out)
    return np.clip(np.rint(converted * 32767.0), -32768, 32767).astype(np.int16)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def word_errors(hypothesis: str, reference: str) -> int:
    """Word-level edit distance."""
    hyp, ref = words(hypothesis), words(reference)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, start=1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (ref_word != hyp_word)),
            )
    return row[-1]


def check_transcript(transcript: Transcript, reference: str, audio: np.ndarray) -> None:
    assert word_errors(transcript.text, reference) <= 1, transcript.text
    assert transcript.text == transcript.text.strip()
    assert transcript.audio_ms == pytest.approx(audio.shape[0] / 16.0)
    assert transcript.compute_ms > 0.0
    assert transcript.confidence is not None and 0.0 < transcript.confidence <= 1.0


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    return {sentence: speak(sentence) for sentence in SENTENCES}


@pytest.fixture(scope="module")
def speech_stt() -> Iterator[WhisperStt]:
    stt = WhisperStt.load(WhisperOptions(model="tiny.en", window="speech"))
    yield stt
    stt.close()


@pytest.fixture(scope="module")
def full_stt() -> Iterator[WhisperStt]:
    stt = WhisperStt.load(WhisperOptions(model="tiny.en", window="full"))
    yield stt
    stt.close()


async def test_identity(speech_stt: WhisperStt) -> None:
    provider: SpeechToText = speech_stt  # checked by mypy against the protocol
    assert provider.name == "whisper-tiny.en"
    assert provider.sample_rate == 16000
    await speech_stt.warm_up()


@pytest.mark.parametrize("window", ["speech", "full"])
async def test_transcribes_sentences(
    speech_stt: WhisperStt, full_stt: WhisperStt, clips: dict[str, np.ndarray], window: str
) -> None:
    stt = speech_stt if window == "speech" else full_stt
    for sentence, audio in clips.items():
        check_transcript(await stt.transcribe(audio), sentence, audio)


async def test_speech_window_matches_full_window(
    speech_stt: WhisperStt, full_stt: WhisperStt, clips: dict[str, np.ndarray]
) -> None:
    for audio in clips.values():
        short = await speech_stt.transcribe(audio)
        full = await full_stt.transcribe(audio)
        assert words(short.text) == words(full.text)
        assert words(short.text)


class EncoderSpy:
    """Stands in for a CTranslate2 Whisper model, noting the length of each encoder input."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.frames: list[int] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def encode(self, features: object, **kwargs: object) -> object:
        self.frames.append(int(features.shape[2]))  # type: ignore[attr-defined]
        return self.real.encode(features, **kwargs)  # type: ignore[attr-defined]


async def test_the_shortest_speech_window_is_an_option() -> None:
    sentence = "Please cancel my subscription."
    audio = speak(sentence)
    assert audio.shape[0] < 5 * 16000  # shorter than either window below, padding included
    for shortest in (6.0, 12.0):
        options = WhisperOptions(
            model="tiny.en", cpu_threads=1, solo_threads=1, min_window_s=shortest
        )
        stt = WhisperStt.load(options)
        spy = EncoderSpy(stt._engines.shared)
        stt._engines.shared = spy
        try:
            check_transcript(await stt.transcribe(audio), sentence, audio)
        finally:
            stt.close()
        # Whisper's features, one per 10 ms; a fallback may encode the full window after it.
        assert spy.frames[0] == int(shortest * 100), spy.frames


async def test_short_answer_is_not_repeated(speech_stt: WhisperStt) -> None:
    # With a window barely longer than the utterance, tiny.en says "Yes. Yes. Yes. ...".
    for reply in ("Yes.", "Correct.", "Sure, go ahead."):
        transcript = await speech_stt.transcribe(speak(reply, voice="en-us"))
        assert words(transcript.text) == words(reply)


@pytest.mark.parametrize("window", ["speech", "full"])
async def test_phone_band_audio(speech_stt: WhisperStt, full_stt: WhisperStt, window: str) -> None:
    stt = speech_stt if window == "speech" else full_stt
    # espeak-ng's formants lose more to the 4 kHz band than a human voice does: these two
    # sentences survive it, others lose a word or two.
    for sentence, voice in PHONE_SENTENCES:
        phone = speak(sentence, sample_rate=8000, voice=voice)
        audio = resample(phone, 8000, 16000)
        check_transcript(await stt.transcribe(audio), sentence, audio)


@pytest.mark.parametrize("window", ["speech", "full"])
async def test_silence_and_faint_noise_give_nothing(
    speech_stt: WhisperStt, full_stt: WhisperStt, window: str
) -> None:
    stt = speech_stt if window == "speech" else full_stt
    silence = await stt.transcribe(np.zeros(16000, dtype=np.int16))
    assert silence.text == ""
    assert silence.compute_ms == 0.0  # the model was not even run
    assert silence.audio_ms == pytest.approx(1000.0)
    empty = await stt.transcribe(np.zeros(0, dtype=np.int16))
    assert empty.text == "" and empty.audio_ms == 0.0

    rng = np.random.default_rng(7)
    hiss = np.rint(100.0 * rng.standard_normal(24000)).astype(np.int16)  # about -50 dBFS
    noise = await stt.transcribe(hiss)
    assert noise.text == ""
    assert noise.compute_ms > 0.0


async def test_concurrent_calls() -> None:
    stt = WhisperStt.load(WhisperOptions(model="tiny.en", workers=2, cpu_threads=1))
    try:
        jobs = [(s, speak(s, voice=v)) for v in ("en-us+f2", "en-us") for s in SENTENCES]
        transcripts = await asyncio.gather(*(stt.transcribe(audio) for _, audio in jobs))
    finally:
        stt.close()
    assert len(transcripts) == 6
    for (sentence, audio), transcript in zip(jobs, transcripts, strict=True):
        check_transcript(transcript, sentence, audio)


async def test_long_utterance_falls_back_to_full_window(speech_stt: WhisperStt) -> None:
    # Distinct sentences: repeated text would trip Whisper's compression-ratio fallback.
    talk = (
        *SENTENCES,
        "I need to change my delivery address.",
        "Thank you very much for your help.",
        "My name is John and I live in London.",
        "Hello, I am calling about my order.",
        "I would like to book an appointment for Monday morning.",
        "Could you please send me an email with the details?",
        "The weather is nice today so we are going to the park.",
        "Where is the nearest train station?",
        "I bought a new phone last month but the screen stopped working.",
    )
    pause = np.zeros(8000, dtype=np.int16)
    audio = np.concatenate([part for text in talk for part in (speak(text, voice="en-us"), pause)])
    assert audio.shape[0] > 31 * 16000  # past the 30 s the encoder takes
    transcript = await speech_stt.transcribe(audio)
    assert transcript.audio_ms == pytest.approx(audio.shape[0] / 16.0)
    # Both 30 s windows were decoded: the words of every sentence are there, in order.
    assert word_errors(transcript.text, " ".join(talk)) <= len(talk), transcript.text


def test_a_loop_over_one_sentence_or_clause_is_that_sentence_or_clause_once() -> None:
    # Cut short by the token limit mid-copy, as the decoder stops.
    loop = "Doctor Patel. Doctor Patel. Doctor Patel. Doctor Patel. Doctor Patel. Doctor Pat"
    assert _unloop(loop) == "Doctor Patel."
    assert _unloop("Can I make an appointment? " * 4) == "Can I make an appointment?"
    assert _unloop("Thank you, goodbye. " * 5) == "Thank you, goodbye."
    # "Doctor Patel," at the comma's pause of "Doctor Patel, please." (flite slt, kal): the
    # comma kept, as the decoder wrote it, so the words still read as a clause going on.
    assert _unloop(" Doctor Patel," * 9 + " Doctor") == "Doctor Patel,"
    # A loop inside a sentence (digits, a word) is not one: the slower path decodes it.
    assert _unloop("The number is 5, " + "5, " * 20 + "5") is None
    assert _unloop("Thank you. " + "Goodbye goodbye goodbye " * 8) is None


async def test_a_sentence_loop_is_not_decoded_again_in_the_full_window(
    speech_stt: WhisperStt, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The vocabulary prompt makes tiny.en loop over a short answer ("Doctor Patel." until the
    # token limit); faster-whisper's path then spent 600-700 ms more on the same words.
    loop = " Doctor Patel." * 12 + " Doctor"
    monkeypatch.setattr(speech_stt, "_generate", lambda *_args: _Decoded(loop, -0.2, 0.01))
    full_window: list[object] = []
    monkeypatch.setattr(speech_stt, "_decode_full_window", lambda *a: full_window.append(a))
    transcript = await speech_stt.transcribe(speak("Doctor Patel, please."))
    assert transcript.text == "Doctor Patel." and not full_window


async def test_any_other_loop_is_decoded_again_and_logged_without_its_words(
    speech_stt: WhisperStt, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loop = " The number is 5" + ", 5" * 40
    monkeypatch.setattr(speech_stt, "_generate", lambda *_args: _Decoded(loop, -0.2, 0.01))
    again = _Decoded("The number is 555 0100.", -0.3, 0.01)
    monkeypatch.setattr(speech_stt, "_decode_full_window", lambda *_args: again)
    with caplog.at_level("INFO", logger="callwright.stt.whisper"):
        transcript = await speech_stt.transcribe(speak("The number is five five five."))
    assert transcript.text == "The number is 555 0100."
    logged = [r.getMessage() for r in caplog.records if "decoder loop" in r.getMessage()]
    assert len(logged) == 1 and "number" not in logged[0] and "555" not in logged[0]


def test_unknown_model_is_rejected(tmp_path: Path) -> None:
    assert (tiny_en_path() / "model.bin").is_file()
    with pytest.raises(ValueError, match="Unknown Whisper model"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="English-only"):
        WhisperStt.load(WhisperOptions(model="tiny.en", language="de"))


async def test_base_model_is_assembled_and_transcribes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = resolve_model("base")
    assert folder == tmp_path / "callwright" / "whisper-base"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert base_path(folder) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # kept, not rebuilt

    stt = WhisperStt.load(WhisperOptions(model="base"))
    try:
        assert stt.name == "whisper-base"
        sentence = SENTENCES[0]
        audio = speak(sentence)
        check_transcript(await stt.transcribe(audio), sentence, audio)
    finally:
        stt.close()


async def test_an_optional_transcription_that_cannot_start_in_time_is_skipped(
    speech_stt: WhisperStt, clips: dict[str, np.ndarray]
) -> None:
    # The pool is busy with a turn's transcript (no deadline: it always runs); a quick look
    # queued behind it with no time to spare is skipped, not run, and not a provider error.
    sentence, audio = next(iter(clips.items()))
    errors: list[BaseException] = []
    metered = MeteredStt(speech_stt, UsageMeter(), lambda _stage, _name, exc: errors.append(exc))
    skipped_before = speech_stt.skipped
    turn = asyncio.create_task(metered.transcribe(audio))
    with optional_within(0.0):
        look = asyncio.create_task(metered.transcribe(audio))
    with optional_within(60.0):
        in_time = asyncio.create_task(metered.transcribe(audio))
    with pytest.raises(TranscriptionSkipped):
        await look
    check_transcript(await turn, sentence, audio)
    check_transcript(await in_time, sentence, audio)
    assert speech_stt.skipped == skipped_before + 1
    assert errors == []
    assert speech_stt.waiting == 0
