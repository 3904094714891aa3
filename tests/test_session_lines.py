"""The lines the call session speaks itself (disclosure, "are you still there?", fillers,
goodbyes) follow the call's language: a Spanish call hears the agent's Spanish set, an
English call the English defaults. Text-driven: a call of silence, the agent's voice is
espeak-ng."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from callwright.agent.session import CallSession
from callwright.agent.session_lines import SessionLines
from callwright.agent.silence import SilenceOptions, SilenceWatchdog
from callwright.agent.stack import AgentStack, SpokenLanguage
from callwright.agents.definition import Agent, AgentRuntime, Language
from callwright.agents.responder import AgentResponderFactory
from callwright.audio.frame import AudioFrame
from callwright.compliance.disclosure import DisclosureOptions
from callwright.core.responder import CallInfo
from callwright.handoff.options import HandoffOptions, position_line
from callwright.store.open import open_store
from callwright.stt.openai_compat import OpenAICompatStt, RemoteSttOptions
from callwright.transports.base import AudioIn, InboundEvent
from callwright.tts.espeak import EspeakTts
from callwright.tts.normalize import SpeechNormalizer
from callwright.vad.silero import SileroVadModel
from examples.clinic.agent_es import SESSION_LINES_ES
from examples.clinic.agent_es import agent as clinic_es

ENGLISH = SessionLines()


def stack_of(agent: Agent, **stages: Any) -> AgentStack:
    """A stack with the agent's session lines and nothing loaded (for the lines alone)."""
    none = cast(Any, None)
    return AgentStack(
        vad=none,
        stt=none,
        tts=none,
        responders=none,
        store=none,
        session_lines=agent.session_lines_by_language(),
        **stages,
    )


def test_the_clinic_speaks_its_session_lines_in_the_call_language() -> None:
    stack = stack_of(clinic_es)
    assert stack.lines("es") == SESSION_LINES_ES
    assert stack.lines("es").still_there == "¿Sigue ahí?"
    # English calls: the defaults, every one of them English and none of them Spanish.
    assert stack.lines("en") == ENGLISH
    assert stack.lines("en").still_there == "Are you still there?"
    assert not set(ENGLISH.all()) & set(SESSION_LINES_ES.all())
    # A language the agent has no set for: the main language's.
    assert stack.lines("fr") == ENGLISH


def test_the_main_language_lines_are_the_configured_options_unless_the_agent_gives_its_own() -> (
    None
):
    options = DisclosureOptions(text="This call is recorded by a robot.")
    plain = stack_of(Agent(name="plain"), disclosure=options)
    assert plain.lines("en").disclosure == "This call is recorded by a robot."
    spanish_first = Agent(name="es-first", language="es", session_lines=SESSION_LINES_ES)
    assert stack_of(spanish_first, disclosure=options).lines("es") == SESSION_LINES_ES


def test_a_waiting_caller_hears_the_place_in_line_in_the_call_language() -> None:
    stack = stack_of(clinic_es)
    english = stack.lines("en").handoff_options(HandoffOptions())
    spanish = stack.lines("es").handoff_options(HandoffOptions())
    assert position_line(2, None, english) == (
        "You're number 2 in line. Someone will be with you in a moment."
    )
    assert position_line(3, 61.0, english) == (
        "You're number 3 in line. The expected wait is about 2 minutes."
    )
    assert position_line(1, 30.0, english).endswith("about 1 minute.")
    assert position_line(2, 30.0, spanish) == (
        "Es el número 2 en la cola. La espera será de 1 minuto aproximadamente."
    )
    assert position_line(4, 300.0, spanish).endswith("de 5 minutos aproximadamente.")
    assert position_line(4, None, spanish).startswith("Es el número 4 en la cola.")
    with pytest.raises(ValueError, match="position"):
        SessionLines(handoff_position="Usted es el {numero} en la cola.")


async def test_the_reprompt_follows_a_call_that_switched_language() -> None:
    now, language = [0.0], ["en"]
    spoken: list[tuple[str, str | None]] = []
    stack = stack_of(clinic_es)
    watchdog = SilenceWatchdog(
        SilenceOptions(reprompt_after_ms=1000.0, max_reprompts=1),
        now_ms=lambda: now[0],
        busy=lambda: False,
        speak=lambda text, outcome: spoken.append((text, outcome)),
        record=lambda kind, at_ms: None,
        lines=lambda: stack.lines(language[0]),
    )
    task = asyncio.create_task(watchdog.run())
    try:
        async with asyncio.timeout(10):
            now[0] = 1100.0
            while not spoken:  # noqa: ASYNC110 (the watchdog polls the clock)
                await asyncio.sleep(0.05)
            language[0] = "es"  # the caller went on in Spanish, then fell silent again
            now[0] = 2200.0
            await task
    finally:
        task.cancel()
    assert spoken == [
        ("Are you still there?", None),
        (SESSION_LINES_ES.silent_goodbye, "caller_silent"),
    ]


class SilentCaller:
    """A phone line whose caller never speaks: 20 ms frames of silence until the call ends;
    notes what the agent says (`agent_text` events) and how the call ended."""

    channel = "twilio"
    input_sample_rate = 16000
    output_sample_rate = 16000

    def __init__(self) -> None:
        self.said: list[str] = []
        self.closed = asyncio.Event()
        self.reason = ""

    async def inbound(self) -> AsyncIterator[InboundEvent]:
        silence = np.zeros(320, dtype=np.int16)
        at_ms = 0.0
        while not self.closed.is_set():
            yield AudioIn(AudioFrame(silence, 16000, at_ms))
            at_ms += 20.0
            await asyncio.sleep(0.02)

    async def send_audio(self, samples: np.ndarray) -> None:
        return None

    async def send_event(self, event: Mapping[str, Any]) -> None:
        if event.get("type") == "agent_text":
            self.said.append(str(event["text"]))

    async def clear_audio(self) -> None:
        return None

    async def close(self, reason: str) -> None:
        self.reason = reason
        self.closed.set()


async def test_a_spanish_call_hears_the_session_lines_in_spanish(tmp_path: Path) -> None:
    # The clinic's Spanish set, on a light agent (the clinic's own responder needs its data).
    spanish = Language("es", greeting="Hola.", session_lines=SESSION_LINES_ES, voice="es")
    agent = Agent(name="desk", greeting="Hello.", languages=(spanish,), stt_model="base")
    voice = EspeakTts(voice="es", words_per_minute=400)  # short lines: a quick test
    stack = AgentStack(
        vad=await asyncio.to_thread(SileroVadModel.load),
        # The caller never speaks: nothing is ever sent to this recognizer (a closed port).
        stt=OpenAICompatStt(RemoteSttOptions("http://127.0.0.1:9/v1", "unused")),
        tts=voice,
        responders=await AgentResponderFactory.open(agent, AgentRuntime(data_dir=tmp_path)),
        store=await open_store(tmp_path / "calls.sqlite3", env={}),
        silence=SilenceOptions(reprompt_after_ms=300.0, max_reprompts=1),
        languages={"es": SpokenLanguage(voice, SpeechNormalizer(language="es"))},
        session_lines=agent.session_lines_by_language(),
    )
    caller = SilentCaller()
    # A caller in New York (one-party consent): the disclosure, no consent question.
    session = CallSession(stack, caller, CallInfo("call-es-lines", "twilio", "+12125550123"))
    session.state.language = "es"  # as when the recognizer hears Spanish
    try:
        async with asyncio.timeout(60):
            await session.run()
    finally:
        await stack.store.close()
    said = " ".join(caller.said)
    for line in (
        SESSION_LINES_ES.disclosure,
        SESSION_LINES_ES.still_there,
        SESSION_LINES_ES.silent_goodbye,
    ):
        assert line in said, (line, caller.said)
    for line in (ENGLISH.disclosure, ENGLISH.still_there, ENGLISH.silent_goodbye):
        assert line not in said
    assert "Hola." in said
    assert session.state.outcome is not None and session.state.outcome[0] == "caller_silent"
    # A slow reply in this call would be covered by the Spanish fillers, and a caller waiting
    # for a person hears the Spanish handoff lines.
    assert session.voice._filler().phrases == SESSION_LINES_ES.fillers
    assert session.handoff.options.nobody_line == SESSION_LINES_ES.handoff_nobody
    assert session.handoff.options.route == stack.handoff.route
