"""Remote STT/TTS clients, watchdogs and fallback chains, against local fakes of the real APIs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from callwright.agent.silence import CannedResponder
from callwright.audio.resample import resample
from callwright.core.provider_events import bind_call_events, release_call_events
from callwright.core.responder import CallInfo, EndCall, Message, TextDelta, TurnContext
from callwright.llm.fallback import FallbackResponderFactory, LlmFallbackOptions
from callwright.llm.openai_compat import LlmOptions, OpenAICompatResponderFactory
from callwright.resilience import (
    BreakerOptions,
    CircuitBreaker,
    ProviderStalled,
    watch_stream,
)
from callwright.stt.base import Transcript
from callwright.stt.fallback import FallbackStt, SttFallbackOptions
from callwright.stt.openai_compat import OpenAICompatStt, RemoteSttOptions, SttError
from callwright.tts.base import TtsError
from callwright.tts.espeak import EspeakTts
from callwright.tts.fallback import FallbackTts
from callwright.tts.openai_compat import OpenAICompatTts, RemoteTtsOptions
from tests.fakes.openai_audio import Fail, Hang, Speak, Text, start_fake_audio
from tests.fakes.openai_server import HttpError, Stall, start_fake_openai

VOICE = EspeakTts(voice="en-us", words_per_minute=170)
Events = list[tuple[str, dict[str, Any]]]


@contextmanager
def call_events() -> Iterator[Events]:
    """Collects the provider events reported while the block runs, as a call would."""
    events: Events = []
    token = bind_call_events(lambda kind, _at, data: events.append((kind, dict(data))), lambda: 0.0)
    try:
        yield events
    finally:
        release_call_events(token)


def kinds(events: Events) -> list[str]:
    return [kind for kind, _ in events]


async def speech(text: str, rate: int = 16000) -> np.ndarray:
    chunks = [c async for c in VOICE.synthesize(text)]
    return resample(np.concatenate(chunks), VOICE.sample_rate, rate)


class FixedStt:
    """A local recognizer that always hears the same words (stands in for Whisper)."""

    name = "fixed"
    sample_rate = 16000

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        self.calls += 1
        return Transcript(self.text, 0.9, 1000.0 * samples.size / 16000, 1.0)


# --- watchdog and breaker ----------------------------------------------------------------


async def test_watchdog_abandons_a_stream_that_stalls_after_its_first_item() -> None:
    closed = asyncio.Event()

    async def stalls() -> AsyncIterator[int]:
        try:
            yield 1
            await asyncio.Event().wait()
            yield 2
        finally:
            closed.set()

    got = []
    with pytest.raises(ProviderStalled) as caught:
        async for item in watch_stream(stalls(), "p", first_ms=1000, idle_ms=50):
            got.append(item)
    assert got == [1]
    assert not caught.value.first and caught.value.waited_ms == 50
    assert closed.is_set(), "the stalled stream was closed, not left hanging"


async def test_watchdog_gives_a_new_first_deadline_after_a_restart_item() -> None:
    async def slow_after_tool() -> AsyncIterator[str]:
        yield "tool"
        await asyncio.sleep(0.1)  # longer than idle, shorter than first
        yield "text"

    items = [
        i
        async for i in watch_stream(
            slow_after_tool(), "p", first_ms=1000, idle_ms=20, restart_after=lambda i: i == "tool"
        )
    ]
    assert items == ["tool", "text"]


def test_breaker_opens_after_failures_and_lets_one_trial_through_after_cooling() -> None:
    now = [0.0]
    breaker = CircuitBreaker(BreakerOptions(failures_to_open=2, open_s=10.0), clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert not breaker.allow()
    now[0] = 11.0
    assert breaker.allow(), "half-open: one trial"
    assert not breaker.allow(), "only one trial at a time"
    breaker.failure()
    assert not breaker.allow(), "a failed trial opens it again"
    now[0] = 22.0
    assert breaker.allow()
    breaker.success()
    assert breaker.allow() and breaker.allow()


# --- remote STT --------------------------------------------------------------------------


async def test_remote_stt_uploads_a_wav_form_and_reads_verbose_json() -> None:
    audio = await speech("Hello there")
    async with start_fake_audio(stt_default=Text("Hello there.")) as fake:
        stt = OpenAICompatStt(
            RemoteSttOptions(
                fake.base_url, model="whisper-large-v3", response_format="verbose_json"
            )
        )
        try:
            transcript = await stt.transcribe(audio)
        finally:
            await stt.close()
    assert transcript.text == "Hello there."
    assert transcript.confidence == pytest.approx(np.exp(-0.1), rel=1e-3)
    (request,) = fake.transcriptions
    assert request["model"] == "whisper-large-v3"
    assert request["language"] == "en" and request["response_format"] == "verbose_json"
    assert request["sample_rate"] == 16000
    assert np.array_equal(request["samples"], audio)


async def test_remote_stt_skips_silence_and_reports_http_errors() -> None:
    async with start_fake_audio(stt_default=Fail(503, "overloaded")) as fake:
        stt = OpenAICompatStt(RemoteSttOptions(fake.base_url))
        try:
            quiet = await stt.transcribe(np.zeros(16000, np.int16))
            with pytest.raises(SttError) as caught:
                await stt.transcribe(await speech("Hello"))
        finally:
            await stt.close()
    assert quiet.text == "" and len(fake.transcriptions) == 1
    assert caught.value.status == 503 and "overloaded" in str(caught.value)


async def test_stalled_stt_is_abandoned_at_its_deadline_and_the_fallback_transcribes() -> None:
    local = FixedStt("what are your hours")
    async with start_fake_audio(stt_default=Hang()) as fake:
        remote = OpenAICompatStt(RemoteSttOptions(fake.base_url))
        chain = FallbackStt(remote, local, SttFallbackOptions(attempt_ms=300, budget_ms=400))
        with call_events() as events:
            transcript = await chain.transcribe(await speech("What are your hours?"))
        await remote.close()
    assert transcript.text == "what are your hours" and local.calls == 1
    assert len(fake.transcriptions) == 1, "no retry: the budget had no room for another attempt"
    assert kinds(events) == ["provider_error", "fallback"]
    assert events[0][1]["stage"] == "stt" and "ProviderStalled" in events[0][1]["error"]
    assert events[1][1] == {
        "stage": "stt",
        "from": remote.name,
        "to": "fixed",
        "reason": events[0][1]["error"],
    }


async def test_a_fast_stt_error_is_retried_once_then_falls_back_then_the_breaker_opens() -> None:
    local = FixedStt("hello")
    async with start_fake_audio(stt_default=Fail(500)) as fake:
        remote = OpenAICompatStt(RemoteSttOptions(fake.base_url))
        options = SttFallbackOptions(breaker=BreakerOptions(failures_to_open=3, open_s=60))
        chain = FallbackStt(remote, local, options)
        audio = await speech("Hello")
        with call_events() as first:
            await chain.transcribe(audio)
        assert len(fake.transcriptions) == 2, "retried once"
        assert kinds(first) == ["provider_error", "provider_error", "fallback"]
        with call_events() as second:
            await chain.transcribe(audio)  # third failure opens the breaker: no retry
            await chain.transcribe(audio)  # open: straight to the fallback
        await remote.close()
    assert len(fake.transcriptions) == 3
    assert kinds(second) == ["provider_error", "fallback", "fallback"]
    assert second[-1][1]["reason"] == "circuit open"
    assert local.calls == 3


async def test_a_recovered_stt_serves_again() -> None:
    local = FixedStt("local")
    async with start_fake_audio(stt_script=[Fail(500)], stt_default=Text("remote")) as fake:
        remote = OpenAICompatStt(RemoteSttOptions(fake.base_url))
        chain = FallbackStt(remote, local)
        with call_events() as events:
            transcript = await chain.transcribe(await speech("Hello"))
        await remote.close()
    assert transcript.text == "remote" and local.calls == 0
    assert kinds(events) == ["provider_error"]
    assert len(fake.transcriptions) == 2


# --- remote TTS --------------------------------------------------------------------------


@pytest.mark.parametrize("response_format", ["pcm", "wav"])
async def test_remote_tts_streams_24khz_audio(response_format: str) -> None:
    async with start_fake_audio(voice=VOICE, tts_default=Speak()) as fake:
        tts = OpenAICompatTts(
            RemoteTtsOptions(fake.base_url, voice="nova", response_format=response_format)  # type: ignore[arg-type]
        )
        try:
            chunks = [c async for c in tts.synthesize("Our address is twelve Maple Street.")]
        finally:
            await tts.close()
    assert tts.sample_rate == 24000
    assert len(chunks) > 3, "streamed in pieces, not one blob"
    audio = np.concatenate(chunks)
    reference = await speech("Our address is twelve Maple Street.", 24000)
    assert abs(audio.size - reference.size) < 240
    assert np.abs(audio.astype(np.int32) - reference.astype(np.int32)).max() <= 1
    (request,) = fake.speeches
    assert request == {
        "model": "tts-1",
        "input": "Our address is twelve Maple Street.",
        "voice": "nova",
        "response_format": response_format,
        "speed": 1.0,
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (Fail(500), "HTTP 500"),
        (Hang(), "sent nothing within"),
        (Hang(send_headers=False), "sent nothing within"),
        (Hang(after_bytes=9600), "stalled for"),
    ],
)
async def test_remote_tts_failures_raise_tts_error(item: Fail | Hang, message: str) -> None:
    async with start_fake_audio(voice=VOICE, tts_default=item) as fake:
        tts = OpenAICompatTts(RemoteTtsOptions(fake.base_url, first_audio_ms=300, stall_ms=300))
        got = 0
        try:
            with pytest.raises(TtsError, match=message):
                async for chunk in tts.synthesize("Hello there, how can I help?"):
                    got += chunk.size
        finally:
            await tts.close()
    assert got == (4800 if isinstance(item, Hang) and item.after_bytes else 0)


async def test_tts_chain_falls_back_to_the_local_voice_and_records_it() -> None:
    async with start_fake_audio(voice=VOICE, tts_default=Fail(500)) as fake:
        remote = OpenAICompatTts(RemoteTtsOptions(fake.base_url))
        breaker = CircuitBreaker(BreakerOptions(failures_to_open=1, open_s=60))
        chain = FallbackTts(remote, VOICE, breaker=breaker)
        with call_events() as events:
            first = [c async for c in chain.synthesize("Hello.")]
            second = [c async for c in chain.synthesize("Goodbye.")]
        await remote.close()
    assert chain.sample_rate == 24000
    assert sum(c.size for c in first) > 2400 and sum(c.size for c in second) > 2400
    assert len(fake.speeches) == 1, "the open breaker skipped the remote the second time"
    assert kinds(events) == ["provider_error", "fallback", "fallback"]
    assert events[1][1]["to"] == VOICE.name and events[2][1]["reason"].endswith("circuit open")


# --- LLM fallback ------------------------------------------------------------------------


class CannedFactory:
    name = "flow"

    def __init__(self, text: str) -> None:
        self.text = text

    def for_call(self, call: CallInfo) -> CannedResponder:
        return CannedResponder(self.text)


class BrokenFactory:
    name = "broken-flow"

    def for_call(self, call: CallInfo) -> BrokenResponder:
        return BrokenResponder()


class BrokenResponder:
    async def respond(self, context: TurnContext) -> AsyncIterator[TextDelta]:
        raise RuntimeError("flow crashed")
        yield TextDelta("")  # pragma: no cover


CALL = CallInfo("call-1", "test")
TURN = TurnContext(CALL, (Message("user", "What are your hours?"),), "user_turn")


async def reply_of(factory: FallbackResponderFactory) -> tuple[str, list[object]]:
    responder = factory.for_call(CALL)
    events = [e async for e in responder.respond(TURN)]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return text, [e for e in events if not isinstance(e, TextDelta)]


def llm(base_url: str) -> OpenAICompatResponderFactory:
    return OpenAICompatResponderFactory(LlmOptions(base_url=base_url, model="fake"))


async def test_an_llm_http_error_is_retried_once_then_the_flow_answers() -> None:
    async with start_fake_openai([HttpError(500), HttpError(500)]) as fake:
        primary = llm(fake.base_url)
        chain = FallbackResponderFactory(primary, CannedFactory("We open at eight."))
        with call_events() as events:
            text, _ = await reply_of(chain)
        await primary.close()
    assert text == "We open at eight."
    assert len(fake.requests) == 2
    assert kinds(events) == ["provider_error", "provider_error", "fallback", "responder"]
    assert "HTTP 500" in events[0][1]["error"] and events[1][1]["attempt"] == 2
    assert events[-1][1] == {"provider": "flow", "trigger": "user_turn", "attempts": 2}


async def test_an_llm_that_never_answers_is_abandoned_within_the_budget() -> None:
    async with start_fake_openai([Stall(send_headers=False)]) as fake:
        primary = llm(fake.base_url)
        options = LlmFallbackOptions(first_event_ms=300)
        chain = FallbackResponderFactory(primary, CannedFactory("We open at eight."), options)
        with call_events() as events:
            text, _ = await reply_of(chain)
        await primary.close()
    assert text == "We open at eight."
    assert len(fake.requests) == 1, "a timeout used the whole budget: no retry"
    assert kinds(events) == ["provider_error", "fallback", "responder"]
    assert "LlmError" in events[0][1]["error"] or "Stalled" in events[0][1]["error"]


async def test_an_llm_stalling_mid_reply_is_closed_off_and_the_flow_finishes_the_turn() -> None:
    async with start_fake_openai([Stall(text_before="Let me look that up for")]) as fake:
        primary = llm(fake.base_url)
        options = LlmFallbackOptions(stall_ms=200)
        chain = FallbackResponderFactory(primary, CannedFactory("We open at eight."), options)
        with call_events() as events:
            text, _ = await reply_of(chain)
        await primary.close()
    assert text == "Let me look that up for. Sorry about that. We open at eight."
    assert kinds(events) == ["provider_error", "fallback", "responder"]
    assert events[0][1]["after_text"] is True and "stalled" in events[0][1]["error"]


async def test_a_healthy_llm_answers_and_is_recorded() -> None:
    async with start_fake_openai(["Hi, we open at nine."]) as fake:
        primary = llm(fake.base_url)
        chain = FallbackResponderFactory(primary, CannedFactory("unused"))
        with call_events() as events:
            text, _ = await reply_of(chain)
        await primary.close()
    assert text == "Hi, we open at nine."
    assert events == [("responder", {"provider": "openai", "trigger": "user_turn", "attempts": 1})]


async def test_when_nothing_can_answer_the_caller_is_offered_a_callback() -> None:
    async with start_fake_openai([HttpError(500)] * 4) as fake:
        primary = llm(fake.base_url)
        chain = FallbackResponderFactory(primary, BrokenFactory())
        responder = chain.for_call(CALL)
        with call_events() as events:
            first = [e async for e in responder.respond(TURN)]
            second = [e async for e in responder.respond(TURN)]
        await primary.close()
    assert first == [TextDelta(chain.options.failure_line)]
    assert second == [TextDelta(chain.options.callback_line), EndCall("callback_offered")]
    assert kinds(events).count("callback_offered") == 1
    assert chain.phrases()[-1] == chain.options.callback_line
