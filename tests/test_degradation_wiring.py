"""Remote providers configured by environment, and the chains the server builds around them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from callwright.agent.stack import AgentStack
from callwright.agents.build import runtime_for
from callwright.config import DegradationSettings, Settings
from callwright.llm.fallback import FallbackResponderFactory
from callwright.server.providers import with_llm_fallback, with_remote_stt, with_remote_tts
from callwright.sim.caller import CallerSimulator, ScriptLine
from callwright.stt.fallback import FallbackStt
from callwright.tts.espeak import EspeakTts
from callwright.tts.fallback import FallbackTts
from examples.clinic.setup import build_responders
from tests.conftest import serve, word_overlap
from tests.fakes.openai_audio import Fail, Hang, Speak, Transcribe, start_fake_audio
from tests.fakes.openai_server import HttpError, start_fake_openai
from tests.test_degradation_calls import (
    CALLER,
    HOURS,
    NO_FILLERS,
    assert_recovered,
    events_of,
    record_of,
    said,
)

REMOTE_VOICE = EspeakTts(voice="en-us+f3", words_per_minute=175)


def remote_env(audio_url: str, llm_url: str) -> dict[str, str]:
    return {
        "CALLWRIGHT_STT_BASE_URL": audio_url,
        "CALLWRIGHT_STT_API_KEY": "sk-stt",
        "CALLWRIGHT_TTS_BASE_URL": audio_url,
        "CALLWRIGHT_TTS_VOICE": "nova",
        "CALLWRIGHT_LLM_BASE_URL": llm_url,
        "CALLWRIGHT_LLM_MODEL": "fake",
    }


async def remote_stack(stack: AgentStack, settings: Settings) -> AgentStack:
    """The session's loaded models with the chains `load_stack` would build for `settings`."""
    responders = with_llm_fallback(await build_responders(runtime_for(settings, env={})), settings)
    return dataclasses.replace(
        stack,
        stt=with_remote_stt(stack.stt, settings.degradation),
        tts=with_remote_tts(stack.tts, settings.degradation),
        responders=responders,
        filler=NO_FILLERS,
    )


async def close_chains(served: AgentStack) -> None:
    assert isinstance(served.stt, FallbackStt) and isinstance(served.tts, FallbackTts)
    await served.stt.close()
    await served.tts.primary.close()  # type: ignore[attr-defined]
    await served.responders.close()  # type: ignore[attr-defined]


def test_with_nothing_remote_configured_the_embedded_stack_is_unchanged() -> None:
    settings = Settings.from_env({})
    assert settings.degradation == DegradationSettings()
    stt, tts, responders = object(), object(), object()
    assert with_remote_stt(stt, settings.degradation) is stt  # type: ignore[arg-type]
    assert with_remote_tts(tts, settings.degradation) is tts  # type: ignore[arg-type]
    assert with_llm_fallback(responders, settings) is responders  # type: ignore[arg-type]


def test_environment_configures_remote_providers_and_deadlines() -> None:
    env = {
        **remote_env("http://stt.local/v1", "http://llm.local/v1"),
        "CALLWRIGHT_STT_REMOTE_MODEL": "Systran/faster-whisper-small",
        "CALLWRIGHT_STT_DEADLINE_MS": "1200",
        "CALLWRIGHT_TTS_FORMAT": "wav",
        "CALLWRIGHT_TTS_FIRST_AUDIO_MS": "600",
        "CALLWRIGHT_LLM_FIRST_TOKEN_MS": "1500",
        "CALLWRIGHT_LLM_STALL_MS": "900",
    }
    degradation = Settings.from_env(env).degradation
    assert degradation.stt is not None and degradation.tts is not None
    assert degradation.stt.model == "Systran/faster-whisper-small"
    assert degradation.stt.api_key == "sk-stt" and degradation.stt.language == "en"
    assert degradation.stt_fallback.budget_ms == 1200
    assert degradation.stt_fallback.attempt_ms < 1200
    assert degradation.tts.voice == "nova" and degradation.tts.response_format == "wav"
    assert degradation.tts.first_audio_ms == 600
    assert degradation.llm_fallback.first_event_ms == 1500
    assert degradation.llm_fallback.stall_ms == 900


async def test_healthy_remote_providers_serve_the_call(stack: AgentStack, tmp_path: Path) -> None:
    line = "We're open from eight to six, Monday to Friday."
    async with (
        start_fake_audio(
            stt=stack.stt, voice=REMOTE_VOICE, stt_default=Transcribe(), tts_default=Speak()
        ) as audio,
        start_fake_openai([line]) as llm,
    ):
        # The fakes run real Whisper and a real voice on a machine the other test files load
        # too: deadlines that only a stalled provider misses (stalls are the tests below).
        patient = {
            name: "20000"
            for name in ("CALLWRIGHT_STT_DEADLINE_MS", "CALLWRIGHT_TTS_FIRST_AUDIO_MS",
                         "CALLWRIGHT_LLM_FIRST_TOKEN_MS", "CALLWRIGHT_LLM_STALL_MS")
        }  # fmt: skip
        settings = Settings.from_env(
            {**remote_env(audio.base_url, llm.base_url), **patient,
             "CALLWRIGHT_DATA_DIR": str(tmp_path)}
        )  # fmt: skip
        served = await remote_stack(stack, settings)
        assert isinstance(served.stt, FallbackStt) and isinstance(served.tts, FallbackTts)
        assert isinstance(served.responders, FallbackResponderFactory)
        try:
            async with serve(served) as url:
                report = await CallerSimulator(url, CALLER).run([ScriptLine(HOURS)])
        finally:
            await close_chains(served)

    assert_recovered(report, 1)
    assert word_overlap(HOURS, report.of_type("transcript")[0]["text"]) >= 0.75
    assert said(report, 1) == line
    assert audio.transcriptions and audio.transcriptions[0]["model"] == "whisper-1"
    spoken = [s["input"] for s in audio.speeches]
    assert "Monday to Friday." in spoken, "the remote voice spoke the answer"
    assert all(s["voice"] == "nova" for s in audio.speeches)
    detail = await record_of(stack, report)
    assert not events_of(detail, "provider_error") and not events_of(detail, "fallback")
    answered = [e["provider"] for e in events_of(detail, "responder")]
    assert answered[-1] == "clinic-receptionist-llm"


async def test_with_every_remote_provider_down_the_embedded_stack_serves_the_call(
    stack: AgentStack, tmp_path: Path
) -> None:
    async with (
        start_fake_audio(stt_default=Hang(), tts_default=Fail(502)) as audio,
        start_fake_openai([HttpError(500)] * 2) as llm,
    ):
        settings = Settings.from_env(
            {**remote_env(audio.base_url, llm.base_url), "CALLWRIGHT_DATA_DIR": str(tmp_path)}
        )
        served = await remote_stack(stack, settings)
        try:
            async with serve(served) as url:
                report = await CallerSimulator(url, CALLER).run([ScriptLine(HOURS)])
        finally:
            await close_chains(served)

    assert_recovered(report, 1)
    assert word_overlap(HOURS, report.of_type("transcript")[0]["text"]) >= 0.75
    assert "eight" in said(report, 1).lower(), "the clinic flow answered the hours question"
    assert audio.transcriptions and audio.speeches and len(llm.requests) == 2
    detail = await record_of(stack, report)
    fallbacks = {(f["stage"], f["to"]) for f in events_of(detail, "fallback")}
    assert fallbacks == {
        ("stt", stack.stt.name),
        ("tts", stack.tts.name),
        ("llm", "clinic-receptionist"),
    }
    stages = {e["stage"] for e in events_of(detail, "provider_error")}
    assert stages == {"stt", "tts", "llm"}
    answered = [e["provider"] for e in events_of(detail, "responder")]
    assert answered[-1] == "clinic-receptionist"
    assert [u.role for u in detail.utterances] == ["agent", "caller", "agent"]
