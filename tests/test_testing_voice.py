"""`callwright.testing.voice_agent`: an agent's own server, real models, a spoken call."""

from __future__ import annotations

from pathlib import Path

from callwright import Agent
from callwright.config import Settings
from callwright.testing import voice_agent
from tests.conftest import word_overlap

HOURS = "The desk answers calls from nine in the morning to five in the evening."


async def test_voice_agent_answers_a_spoken_call_from_its_knowledge(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "desk.md").write_text(f"# Opening hours\n\n{HOURS}\n")
    agent = Agent(name="desk", greeting="Hello, this is the desk.", knowledge=knowledge)
    async with voice_agent(agent, tmp_path / "data", settings=Settings(tts="espeak")) as server:
        report = await server.call(["What are your opening hours?"])
        record = await server.record(report.call_id)
    said = [u.text for u in record.utterances if u.role == "caller"]
    assert len(said) == 1 and word_overlap("What are your opening hours?", said[0]) >= 0.75
    agent_lines = [u.text for u in record.utterances if u.role == "agent"]
    assert agent_lines == ["Hello, this is the desk.", HOURS]
    assert report.turns and report.turns[0].agent_audio
