"""Speech normalisation: a table of written text and what a voice should say, SSML, the
pronunciation lexicon, and an LLM reply whose text reaches TTS normalised."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callwright.agent import reply as reply_module
from callwright.agent.playout import Playout
from callwright.agent.reply import Reply, ReplyDeps
from callwright.config import Settings
from callwright.core.responder import CallInfo, Message, TurnContext
from callwright.core.timeline import TurnTimeline
from callwright.llm.openai_compat import LlmOptions, OpenAICompatResponderFactory
from callwright.tts.base import TextToSpeech
from callwright.tts.cache import CachedTts
from callwright.tts.espeak import EspeakTts
from callwright.tts.fallback import FallbackTts
from callwright.tts.normalize import (
    PronunciationLexicon,
    SpeechNormalizer,
    accepts_ssml,
    strip_ssml,
)
from callwright.tts.openai_compat import OpenAICompatTts, RemoteTtsOptions
from tests.fakes.openai_server import Reply as ScriptedReply
from tests.fakes.openai_server import start_fake_openai

TABLE = Path(__file__).parent / "data" / "speech_normalization.tsv"
LEXICON = {"Nguyen": "win"}
CALL = CallInfo(call_id="call-speech", channel="test")


def _cases() -> list[Any]:
    cases = []
    for number, line in enumerate(TABLE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        written, spoken = line.split("\t")
        cases.append(pytest.param(written, spoken, id=f"line{number}"))
    return cases


CASES = _cases()


def test_the_table_has_at_least_200_cases() -> None:
    assert len(CASES) >= 200


@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_written_text_is_said_as_a_person_would(written: str, spoken: str) -> None:
    assert SpeechNormalizer(LEXICON).normalize(written) == spoken


# --- configuration ------------------------------------------------------------------------


def test_day_first_date_order_reads_numeric_dates_the_other_way() -> None:
    speech = SpeechNormalizer(date_order="dmy")
    assert speech.normalize("On 12/10/2026.") == "On the twelfth of October twenty twenty-six."
    assert speech.normalize("On 2026-12-10.") == "On the tenth of December twenty twenty-six."
    with pytest.raises(ValueError):
        SpeechNormalizer(date_order="ymd")  # type: ignore[arg-type]


def test_date_order_is_a_setting() -> None:
    assert Settings.from_env({}).date_order == "mdy"
    assert Settings.from_env({"CALLWRIGHT_DATE_ORDER": "dmy"}).date_order == "dmy"
    with pytest.raises(ValueError):
        Settings.from_env({"CALLWRIGHT_DATE_ORDER": "ydm"})


def test_lexicon_longest_entry_wins_and_case_can_matter() -> None:
    lexicon = PronunciationLexicon({"Mary": "Marie", "St. Mary's": "Saint Marys"})
    assert lexicon.apply("Go to St. Mary's, ask Mary.") == "Go to Saint Marys, ask Marie."
    exact = PronunciationLexicon({"SQL": "sequel"}, case_sensitive=True)
    assert exact.apply("SQL and sql") == "sequel and sql"
    assert exact.merged({"sql": "ess queue ell"}).apply("sql") == "ess queue ell"
    with pytest.raises(ValueError):
        PronunciationLexicon({"Nguyen": " "})


def test_private_use_characters_in_the_text_cannot_pose_as_lexicon_placeholders() -> None:
    speech = SpeechNormalizer({"Nguyen": "win"})
    assert speech.normalize("Dr. Nguyen \ue100\ue905 at 9am") == "Doctor win at nine a.m."


def test_lexicon_spoken_forms_are_not_rewritten_by_the_rules() -> None:
    speech = SpeechNormalizer({"Nguyen": "win", "R2": "are two"})
    # "win" is lowercase but still a name after a title; "are two" keeps its own words.
    assert speech.normalize("Dr. Nguyen has R2 at 3pm.") == ("Doctor win has are two at three p.m.")
    assert speech.with_lexicon({"Patel": "pa tell"}).normalize("Dr. Patel") == "Doctor pa tell"


# --- SSML ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<speak>Hello there.</speak>", "Hello there."),
        ('<speak>Call <sub alias="Doctor win">Dr. Nguyen</sub>.</speak>', "Call Doctor win."),
        ('<say-as interpret-as="characters">ABC</say-as> is ready', "A B C is ready"),
        ('Code <say-as interpret-as="digits">4021</say-as>.', "Code four zero two one."),
        ('<say-as interpret-as="telephone">415-555-0123</say-as>', "415-555-0123"),
        ('<say-as interpret-as="cardinal">1,250</say-as>', "one thousand two hundred fifty"),
        ('the <say-as interpret-as="ordinal">3</say-as> floor', "the third floor"),
        ('Wait <break time="500ms"/> then go.', "Wait, then go."),
        ("<speak><emphasis>Now</emphasis> &amp; then</speak>", "Now & then"),
        ('<prosody rate="slow">Slowly <phoneme ph="x">here</phoneme></prosody>', "Slowly here"),
    ],
)
def test_ssml_is_stripped_to_its_text(markup: str, text: str) -> None:
    assert strip_ssml(markup) == text


def test_ssml_goes_to_a_voice_that_reads_it_and_is_stripped_for_one_that_does_not() -> None:
    speech = SpeechNormalizer()
    piece = '<speak>It is <say-as interpret-as="digits">42</say-as> $5.'
    # The text between tags is normalised; what a <say-as> marks is left to the voice.
    assert speech.prepare(piece, accepts_ssml=True) == (
        '<speak>It is <say-as interpret-as="digits">42</say-as> five dollars.</speak>'
    )
    sub = '<sub alias="win">Nguyen</sub>'
    marked = f'<speak>Tom &amp; Jerry at 9am<break time="1s"/>, {sub} &lt; 5</speak>'
    assert speech.prepare(marked, accepts_ssml=True) == (
        f'<speak>Tom and Jerry at nine a.m.<break time="1s"/>, {sub} &lt; five</speak>'
    )
    assert speech.prepare(piece, accepts_ssml=False) == "It is four two five dollars."
    # Plain text is normalised either way; a "<" that is not a tag is not SSML.
    assert speech.prepare("If 3 < 5, pay $5.", accepts_ssml=True) == (
        "If three < five, pay five dollars."
    )


def test_providers_declare_whether_they_read_ssml() -> None:
    espeak = EspeakTts()
    remote = OpenAICompatTts(RemoteTtsOptions(base_url="http://127.0.0.1:9/v1"))
    assert accepts_ssml(espeak) and accepts_ssml(CachedTts(espeak))
    assert not accepts_ssml(remote) and not accepts_ssml(CachedTts(remote))
    assert not accepts_ssml(FallbackTts(remote, espeak))  # the fallback may get any text
    assert accepts_ssml(FallbackTts(espeak, EspeakTts("en-us+f2")))
    assert not accepts_ssml(object())


async def _seconds(tts: TextToSpeech, text: str) -> float:
    chunks = [chunk async for chunk in tts.synthesize(text)]
    return sum(chunk.size for chunk in chunks) / tts.sample_rate


async def test_espeak_reads_ssml_markup_instead_of_saying_it() -> None:
    espeak = EspeakTts()
    plain = await _seconds(espeak, "Hello there.")
    document = await _seconds(espeak, '<speak>Hello <break time="1500ms"/> there.</speak>')
    # The break is honoured (1.5 s of silence added) and no tag is read out as words.
    assert 1.2 < document - plain < 2.2


# --- the reply path -----------------------------------------------------------------------


class RecordingTts:
    """A real voice that also notes each text it is asked to say."""

    def __init__(self, inner: TextToSpeech) -> None:
        self.inner = inner
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.accepts_ssml = accepts_ssml(inner)
        self.texts: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        self.texts.append(text)
        async for chunk in self.inner.synthesize(text):
            yield chunk


async def _reply_through_tts(text: str) -> tuple[RecordingTts, CachedTts, str, float]:
    """Runs one LLM reply (scripted server, real client, sentence buffer, espeak-ng, cache,
    playout); returns what TTS was asked, the cache, the reply's text and seconds played."""
    recorder = RecordingTts(EspeakTts())
    cache = CachedTts(recorder)
    sent: list[np.ndarray] = []

    async def send(frame: np.ndarray) -> None:
        sent.append(frame)

    playout = Playout(send, 16000)
    playing = asyncio.create_task(playout.run())
    async with start_fake_openai([ScriptedReply(text=text)]) as fake:
        factory = OpenAICompatResponderFactory(LlmOptions(base_url=fake.base_url, model="m"))
        try:
            deps = ReplyDeps(
                tts=cache,
                playout=playout,
                now_ms=lambda: time.monotonic() * 1000.0,
                speech=SpeechNormalizer(PronunciationLexicon(LEXICON)),
            )
            reply = Reply(1, factory.for_call(CALL), deps, TurnTimeline(turn_index=1))
            history = (Message(role="user", content="Can I see the doctor today?"),)
            result = await reply.run(TurnContext(CALL, history, "user_turn"))
        finally:
            await factory.close()
            playing.cancel()
    return recorder, cache, result.text, sum(frame.size for frame in sent) / 16000


async def test_an_llm_reply_reaches_tts_normalised_through_the_reply_path() -> None:
    written = "I can book that for $120 at 14:30 with Dr. Nguyen."
    spoken = "I can book that for one hundred twenty dollars at two thirty p.m. with Doctor win."
    recorder, cache, text, played_s = await _reply_through_tts(written)
    assert recorder.texts == [spoken]
    assert spoken in cache  # the phrase cache keys on what was said
    # History and transcript keep what the reply wrote; the caller heard it spoken.
    assert text == written
    assert played_s > 2.0


async def test_a_long_piece_is_normalised_off_the_loop_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pieces longer than the inline limit go through a thread; lower the limit to see it.
    monkeypatch.setattr(reply_module, "_NORMALIZE_INLINE_CHARS", 10)
    threads: list[str] = []
    prepare = SpeechNormalizer.prepare

    def noting_prepare(self: SpeechNormalizer, text: str, accepts_ssml: bool) -> str:
        threads.append(threading.current_thread().name)
        return prepare(self, text, accepts_ssml)

    monkeypatch.setattr(SpeechNormalizer, "prepare", noting_prepare)
    recorder, _, _, _ = await _reply_through_tts("Dr. Nguyen sees you at 14:30.")
    assert recorder.texts == ["Doctor win sees you at two thirty p.m."]
    assert threads and threading.main_thread().name not in threads


async def test_a_piece_whose_normalisation_fails_is_still_spoken_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing_prepare(self: SpeechNormalizer, text: str, accepts_ssml: bool) -> str:
        raise RuntimeError("a rule broke")

    monkeypatch.setattr(SpeechNormalizer, "prepare", failing_prepare)
    recorder, _, _, played_s = await _reply_through_tts("See you at 9am.")
    assert recorder.texts == ["See you at 9am."]
    assert played_s > 0.5
