"""Fault injection on real spoken calls: providers that time out, fail, stall or throw.

Each call runs synthesized speech through the real VAD, endpointing, Whisper, TTS and server,
with one provider replaced by a local fake of its real API that misbehaves. In every case the
caller must hear the recovery itself (the fallback's words, not silence: a stall that no deadline
cut would leave the turn unanswered), and the call's record must be complete: ended, every line
of the transcript, and the provider_error/fallback events. How soon the recovery comes is a
latency, which tests do not assert (a loaded machine stretches it); the deadlines that cut a
stalled provider are tested without audio in test_degradation_providers.py.

Fillers are off in these calls: otherwise "Let me check that for you." would be the first
audio of every slow turn, and a turn would count as answered before the recovery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from callwright.agent.session_lines import UNHEARD_LINE
from callwright.agent.silence import FillerOptions
from callwright.agent.stack import AgentStack
from callwright.core.responder import CallInfo, Message, TextDelta, TurnContext
from callwright.llm.fallback import FallbackResponderFactory
from callwright.llm.openai_compat import LlmOptions, OpenAICompatResponderFactory
from callwright.resilience import CircuitBreaker
from callwright.sim.caller import CallerSimulator, CallReport, ScriptLine
from callwright.store.base import CallDetail
from callwright.stt.base import Transcript
from callwright.stt.fallback import FallbackStt, SttFallbackOptions
from callwright.stt.openai_compat import OpenAICompatStt, RemoteSttOptions
from callwright.tts.base import TtsError
from callwright.tts.espeak import EspeakTts
from callwright.tts.fallback import FallbackTts
from callwright.tts.openai_compat import OpenAICompatTts, RemoteTtsOptions
from tests.conftest import brief_clinic, normalize, serve, word_overlap
from tests.fakes.openai_audio import Hang, Transcribe, start_fake_audio
from tests.fakes.openai_server import HttpError, Stall, start_fake_openai

CALLER = EspeakTts(voice="en-us", words_per_minute=160)
GREETING = "Thanks for calling. How can I help?"
NO_FILLERS = FillerOptions(max_fillers=0)
HOURS = "What are your opening hours?"
ADDRESS = "What is your address?"


@pytest.fixture(scope="module")
async def clinic(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The process's models with this module's own clinic (its database, a one-word greeting).
    The voice tests keep the clinic's own greeting: how much of it was heard is checked."""
    async with brief_clinic(stack, tmp_path_factory.mktemp("degraded-clinic")) as own:
        yield own


def degraded(stack: AgentStack, **changes: Any) -> AgentStack:
    return dataclasses.replace(stack, filler=NO_FILLERS, **changes)


def llm_chain(stack: AgentStack, base_url: str) -> FallbackResponderFactory:
    # No request on the speculative transcript: whether one is sent (and kept) depends on the
    # pauses the machine's speed makes, and these tests count the requests a failure causes.
    primary = OpenAICompatResponderFactory(
        LlmOptions(base_url=base_url, model="fake", preemptive=False), greeting=GREETING
    )
    return FallbackResponderFactory(primary, stack.responders)


async def flow_answer(stack: AgentStack, text: str) -> str:
    """What the server's own deterministic responder says to `text` on a fresh call."""
    responder = stack.responders.for_call(CallInfo("reference", "test"))
    context = TurnContext(CallInfo("reference", "test"), (Message("user", text),), "user_turn")
    events = [e async for e in responder.respond(context)]
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def said(report: CallReport, turn: int) -> str:
    return " ".join(e["text"] for e in report.of_type("agent_text") if e["turn"] == turn)


def heard_something(report: CallReport, turn: int) -> int:
    """Samples of agent audio the caller received in a turn."""
    audio = report.turns[turn - 1].agent_audio
    return int(np.concatenate(audio).size) if audio else 0


async def record_of(stack: AgentStack, report: CallReport) -> CallDetail:
    detail = await stack.store.get_call(report.call_id)
    assert detail is not None
    assert detail.record.status == "ended", "the call's record was closed"
    return detail


def events_of(detail: CallDetail, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in detail.events if e.kind == kind]


def assert_recovered(report: CallReport, turns: int) -> None:
    assert len(report.turns) == turns
    print("ttfa_ms", [t.ttfa_ms for t in report.turns])
    for index, turn in enumerate(report.turns, start=1):
        assert turn.ttfa_ms is not None, f"turn {index}: the caller heard nothing"
        assert heard_something(report, index) > 8000, f"turn {index}: only a blip of audio"
    ends = [e["turn"] for e in report.of_type("agent_turn_end")]
    assert set(range(turns + 1)) <= set(ends), "every reply ran to its end"


async def test_llm_timeout_falls_back_to_the_flow_and_the_next_turn_uses_the_llm(
    stack: AgentStack,
) -> None:
    llm_line = "We are at twelve Maple Street, next to the library."
    async with start_fake_openai([Stall(send_headers=False), llm_line]) as fake:
        responders = llm_chain(stack, fake.base_url)
        async with serve(degraded(stack, responders=responders)) as url:
            report = await CallerSimulator(url, CALLER).run(
                [ScriptLine(HOURS), ScriptLine(ADDRESS)]
            )
        await responders.primary.close()  # type: ignore[attr-defined]

    assert_recovered(report, 2)
    transcript = report.of_type("transcript")[0]["text"]
    assert normalize(said(report, 1)) == normalize(await flow_answer(stack, transcript))
    assert said(report, 2) == llm_line
    assert len(fake.requests) == 2, "one abandoned request per turn, no retry after a timeout"

    detail = await record_of(stack, report)
    assert [u.role for u in detail.utterances] == ["agent", "caller", "agent", "caller", "agent"]
    errors = events_of(detail, "provider_error")
    assert [(e["stage"], e["provider"]) for e in errors] == [("llm", "openai")]
    assert "first" in errors[0]["error"] or "within" in errors[0]["error"]
    fallbacks = events_of(detail, "fallback")
    assert [(f["stage"], f["to"]) for f in fallbacks] == [("llm", stack.responders.name)]
    answered = [e["provider"] for e in events_of(detail, "responder")]
    assert answered == ["openai", stack.responders.name, "openai"]  # greeting, turn 1, turn 2


async def test_llm_http_500_is_retried_once_then_the_flow_answers(stack: AgentStack) -> None:
    async with start_fake_openai([HttpError(500), HttpError(500)]) as fake:
        responders = llm_chain(stack, fake.base_url)
        async with serve(degraded(stack, responders=responders)) as url:
            report = await CallerSimulator(url, CALLER).run([ScriptLine(HOURS)])
        await responders.primary.close()  # type: ignore[attr-defined]

    assert_recovered(report, 1)
    transcript = report.of_type("transcript")[0]["text"]
    assert normalize(said(report, 1)) == normalize(await flow_answer(stack, transcript))
    assert len(fake.requests) == 2, "retried once"
    detail = await record_of(stack, report)
    errors = events_of(detail, "provider_error")
    assert [e["attempt"] for e in errors] == [1, 2]
    assert all("500" in e["error"] for e in errors)
    assert len(events_of(detail, "fallback")) == 1
    assert [u.role for u in detail.utterances] == ["agent", "caller", "agent"]


async def test_llm_stalling_mid_reply_is_cut_off_and_the_flow_finishes_the_turn(
    stack: AgentStack,
) -> None:
    async with start_fake_openai([Stall(text_before="Let me look that up for")]) as fake:
        responders = llm_chain(stack, fake.base_url)
        async with serve(degraded(stack, responders=responders)) as url:
            report = await CallerSimulator(url, CALLER).run([ScriptLine(HOURS)])
        await responders.primary.close()  # type: ignore[attr-defined]

    assert_recovered(report, 1)
    transcript = report.of_type("transcript")[0]["text"]
    expected = "Let me look that up for. Sorry about that. " + await flow_answer(stack, transcript)
    assert normalize(said(report, 1)) == normalize(expected)
    detail = await record_of(stack, report)
    (error,) = events_of(detail, "provider_error")
    assert error["after_text"] is True and "stalled" in error["error"]
    # The stored line is redacted; its start holds no personal data.
    assert normalize(detail.utterances[-1].text)[:9] == normalize(expected)[:9]


async def test_stalled_remote_stt_is_abandoned_and_whisper_transcribes(
    clinic: AgentStack,
) -> None:
    stack = clinic  # a one-word greeting: these calls are about the recognizer
    async with start_fake_audio(stt=stack.stt, stt_default=Hang()) as fake:
        remote = OpenAICompatStt(RemoteSttOptions(fake.base_url))
        stt = FallbackStt(remote, stack.stt)
        async with serve(degraded(stack, stt=stt)) as url:
            report = await CallerSimulator(url, CALLER).run(
                [ScriptLine(HOURS), ScriptLine(ADDRESS)]
            )
        await remote.close()

    assert_recovered(report, 2)
    transcripts = [e["text"] for e in report.of_type("transcript")]
    assert len(transcripts) == 2
    assert (
        word_overlap(HOURS, transcripts[0]) >= 0.75
        and word_overlap(ADDRESS, transcripts[1]) >= 0.75
    )
    assert fake.transcriptions, "the remote recognizer was asked first"
    detail = await record_of(stack, report)
    errors = events_of(detail, "provider_error")
    assert errors and all(e["stage"] == "stt" and "Stalled" in e["error"] for e in errors)
    fallbacks = events_of(detail, "fallback")
    assert fallbacks and all(f["to"] == stack.stt.name for f in fallbacks)
    assert [u.role for u in detail.utterances] == ["agent", "caller", "agent", "caller", "agent"]


async def test_a_healthy_remote_stt_hears_the_caller(clinic: AgentStack) -> None:
    stack = clinic  # a one-word greeting: these calls are about the recognizer
    async with start_fake_audio(stt=stack.stt, stt_default=Transcribe()) as fake:
        remote = OpenAICompatStt(RemoteSttOptions(fake.base_url))
        # The fake "remote" runs the embedded Whisper itself, which a loaded machine can slow
        # past the chain's 700 ms watchdog: this test is about the healthy path being taken,
        # so the deadlines are far from what the machine's load can reach.
        patient = SttFallbackOptions(attempt_ms=20_000.0, budget_ms=20_000.0)
        stt = FallbackStt(remote, stack.stt, patient)
        async with serve(degraded(stack, stt=stt)) as url:
            report = await CallerSimulator(url, CALLER).run([ScriptLine(ADDRESS)])
        await remote.close()

    assert_recovered(report, 1)
    assert word_overlap(ADDRESS, report.of_type("transcript")[0]["text"]) >= 0.75
    detail = await record_of(stack, report)
    assert not events_of(detail, "fallback") and not events_of(detail, "provider_error")
    assert fake.transcriptions and fake.transcriptions[0]["model"] == "whisper-1"


class ThrowingTts:
    """A voice that fails on every text, before any audio."""

    name = "throwing"
    sample_rate = 22050

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        raise TtsError("synthesizer crashed")
        yield np.zeros(0, np.int16)  # pragma: no cover


async def test_a_throwing_tts_falls_back_to_the_embedded_voice(stack: AgentStack) -> None:
    tts = FallbackTts(ThrowingTts(), stack.tts)
    async with serve(degraded(stack, tts=tts)) as url:
        report = await CallerSimulator(url, CALLER).run([ScriptLine(HOURS)])

    assert_recovered(report, 1)
    assert heard_something_greeting(report)
    detail = await record_of(stack, report)
    errors = events_of(detail, "provider_error")
    assert errors and all(e["stage"] == "tts" and "crashed" in e["error"] for e in errors)
    assert len(events_of(detail, "fallback")) == len(errors)
    assert [u.role for u in detail.utterances] == ["agent", "caller", "agent"]


async def test_a_stalled_remote_tts_is_abandoned_and_piper_speaks(stack: AgentStack) -> None:
    async with start_fake_audio(tts_default=Hang()) as fake:
        remote = OpenAICompatTts(RemoteTtsOptions(fake.base_url))
        tts = FallbackTts(remote, stack.tts, breaker=CircuitBreaker())  # as load_stack wires it
        async with serve(degraded(stack, tts=tts)) as url:
            report = await CallerSimulator(url, CALLER).run([ScriptLine(HOURS)])
        await remote.close()

    assert_recovered(report, 1)
    assert heard_something_greeting(report)
    assert fake.speeches, "the remote voice was asked first"
    detail = await record_of(stack, report)
    errors = events_of(detail, "provider_error")
    assert errors and all("sent nothing within" in e["error"] for e in errors)
    assert [u.role for u in detail.utterances] == ["agent", "caller", "agent"]


async def test_when_no_responder_can_answer_the_caller_is_offered_a_callback(
    stack: AgentStack,
) -> None:
    async with start_fake_openai([HttpError(503)] * 4) as fake:
        primary = OpenAICompatResponderFactory(
            LlmOptions(base_url=fake.base_url, model="fake"), greeting=GREETING
        )
        responders = FallbackResponderFactory(primary, BrokenFlowFactory())
        async with serve(degraded(stack, responders=responders)) as url:
            report = await CallerSimulator(url, CALLER).run(
                [ScriptLine(HOURS), ScriptLine(ADDRESS)], hang_up=False
            )
        await primary.close()

    assert_recovered(report, 2)
    assert said(report, 1) == responders.options.failure_line
    assert normalize(said(report, 2)) == normalize(responders.options.callback_line)
    assert report.ended_by_agent, "the agent ended the call after offering the callback"
    detail = await record_of(stack, report)
    assert detail.record.end_reason == "callback_offered"
    assert events_of(detail, "callback_offered") == [{"reason": "responders failing"}]
    assert [u.role for u in detail.utterances] == ["agent", "caller", "agent", "caller", "agent"]


class BrokenFlowFactory:
    name = "broken-flow"

    def for_call(self, call: CallInfo) -> BrokenFlow:
        return BrokenFlow()


class BrokenFlow:
    async def respond(self, context: TurnContext) -> AsyncIterator[TextDelta]:
        raise RuntimeError("flow crashed")
        yield TextDelta("")  # pragma: no cover


def heard_something_greeting(report: CallReport) -> bool:
    return sum(a.size for a in report.greeting_audio) > 8000


class BrokenStt:
    """A recognizer that fails on every utterance."""

    sample_rate = 16000

    def __init__(self, name: str) -> None:
        self.name = name

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        raise RuntimeError(f"{self.name} crashed")


async def test_when_every_recognizer_fails_the_caller_is_asked_to_repeat(
    clinic: AgentStack,
) -> None:
    stack = clinic  # a one-word greeting: these calls are about the recognizer
    stt = FallbackStt(BrokenStt("remote"), BrokenStt("local"))
    async with serve(degraded(stack, stt=stt)) as url:
        report = await CallerSimulator(url, CALLER).run([ScriptLine(HOURS)])

    assert_recovered(report, 1)
    assert said(report, 1) == UNHEARD_LINE
    detail = await record_of(stack, report)
    errors = events_of(detail, "provider_error")
    assert {e["provider"] for e in errors} == {"remote", stt.name}
    assert any("local crashed" in e["error"] for e in errors if e["provider"] == stt.name)
    assert [u.role for u in detail.utterances] == ["agent", "agent"]
