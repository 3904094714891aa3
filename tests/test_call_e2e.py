"""Real calls: synthesized speech through the real models and the real WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from callwright.agent.stack import AgentStack
from callwright.audio.wav import write_wav
from callwright.kb import load_passages
from callwright.sim.caller import CallerSimulator, ScriptLine
from callwright.sim.report import transcribe_report
from callwright.stt.whisper import WhisperStt
from callwright.tts.espeak import EspeakTts
from examples.clinic.factory import KNOWLEDGE_DIR
from tests.conftest import ARTIFACTS, brief_clinic, normalize, serve, word_overlap

CALLER_VOICE = EspeakTts(voice="en-us", words_per_minute=160)
# The agent answers from its knowledge base, word for word.
HOURS = next(p.text for p in load_passages(KNOWLEDGE_DIR) if p.key == "clinic/opening-hours")


@pytest.fixture(scope="module")
async def stack(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The process's models with this module's own clinic (its database, a one-word greeting)."""
    async with brief_clinic(stack, tmp_path_factory.mktemp("call-e2e")) as own:
        yield own


@pytest.fixture(scope="module")
async def server_url(stack: AgentStack) -> AsyncIterator[str]:
    async with serve(stack) as url:
        yield url


async def test_three_turn_conversation(
    stack: AgentStack, server_url: str, oracle_stt: WhisperStt
) -> None:
    lines = ["What are your opening hours?", "What is your address?", "Thank you, goodbye."]
    simulator = CallerSimulator(server_url, CALLER_VOICE)
    report = await simulator.run([ScriptLine(t) for t in lines])
    await transcribe_report(report, simulator.sample_rate, oracle_stt)
    ARTIFACTS.mkdir(exist_ok=True)
    for i, turn in enumerate(report.turns, start=1):
        audio = np.concatenate(turn.agent_audio) if turn.agent_audio else np.zeros(0, np.int16)
        write_wav(ARTIFACTS / f"three-turn-agent-{i}.wav", audio, simulator.sample_rate)

    transcripts = [e["text"] for e in report.of_type("transcript")]
    assert len(transcripts) == 3
    for line, heard in zip(lines, transcripts, strict=True):
        assert word_overlap(line, heard) >= 0.75, (line, heard)

    # What the caller heard, transcribed back from the agent's 16 kHz audio.
    assert (
        word_overlap("open eight morning six evening Monday Friday", report.turns[0].agent_heard)
        >= 0.7
    )
    assert word_overlap("Maple Street library", report.turns[1].agent_heard) >= 0.6
    assert "goodbye" in normalize(report.turns[2].agent_heard)
    assert report.ended_by_agent

    timelines = {t["turn_index"]: t for t in report.of_type("turn_timeline")}
    for index in (1, 2, 3):
        assert timelines[index]["ttfa_ms"] is not None and timelines[index]["ttfa_ms"] > 0
        assert timelines[index]["first_audio_sent_ms"] >= timelines[index]["transcript_ready_ms"]
    assert all(t.ttfa_ms is not None for t in report.turns)

    detail = await stack.store.get_call(report.call_id)
    assert detail is not None
    assert detail.record.status == "ended"
    assert detail.record.outcome == "completed"
    roles = [u.role for u in detail.utterances]
    assert roles == ["agent", "caller", "agent", "caller", "agent", "caller", "agent"]
    assert detail.utterances[2].text == HOURS
    searched = [e.data for e in detail.events if e.kind == "tool_call"]
    assert [d["name"] for d in searched] == ["search_knowledge"] * 2
    assert {t.turn_index for t in detail.timelines} >= {0, 1, 2, 3}


async def test_barge_in_cuts_the_agent_and_keeps_what_was_heard(
    stack: AgentStack, server_url: str
) -> None:
    simulator = CallerSimulator(server_url, CALLER_VOICE)
    report = await simulator.run(
        [
            ScriptLine("What are your opening hours?"),
            ScriptLine("What is your address?", barge_in_after_ms=1200),
        ]
    )
    interruptions = report.of_type("interruption")
    assert len(interruptions) == 1
    heard = interruptions[0]["heard"]
    full = HOURS
    assert heard and full.startswith(heard) and len(heard) < len(full)
    assert report.of_type("clear"), "the client is told to drop buffered agent audio"

    detail = await stack.store.get_call(report.call_id)
    assert detail is not None
    cut = [u for u in detail.utterances if u.interrupted]
    assert len(cut) == 1 and cut[0].text == heard and cut[0].role == "agent"
    # The agent then answers the question that interrupted it.
    assert any("Maple Street" in e["text"] for e in report.of_type("agent_text") if e["turn"] == 2)
    interrupted_timeline = [t for t in report.of_type("turn_timeline") if t["interrupted"]]
    assert [t["turn_index"] for t in interrupted_timeline] == [1]
