"""A generic agent's knowledge base: retrieval by meaning, thresholds from the agent or calibrated.

The agent is defined in a temporary folder and driven by text (`callwright.testing`), no LLM:
what it says outside a flow is the knowledge base's answer, or the fallback line.
"""

from __future__ import annotations

import json
from pathlib import Path

from callwright import Agent, Language, Lines
from callwright.kb.open import CALIBRATION_FILE
from callwright.testing import text_agent

PARKING = "Cars can stay in the lot behind the building at no charge."
KNOWLEDGE = f"""\
# Parking
{PARKING}

# Address
We are at 12 Elm Street, next to the library.
"""
# No content word in common with the parking passage: only its meaning matches.
QUESTION = "Where should I leave my vehicle when I visit?"


def folder_with(tmp_path: Path, calibration: dict[str, object] | None = None) -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "desk.md").write_text(KNOWLEDGE)
    if calibration is not None:
        (folder / CALIBRATION_FILE).write_text(json.dumps(calibration))
    return folder


async def reply_to(agent: Agent, question: str) -> str:
    async with text_agent(agent) as session:
        call = await session.call()
        return (await call.say(question)).text


async def test_questions_are_matched_by_meaning(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    by_meaning = Agent(name="desk", knowledge=folder, knowledge_threshold=0.3)
    by_words = Agent(
        name="desk", knowledge=folder, knowledge_threshold=0.3, knowledge_embedder=None
    )
    assert await reply_to(by_meaning, QUESTION) == PARKING
    assert await reply_to(by_words, QUESTION) == by_words.lines.fallback


async def test_the_calibration_file_in_the_knowledge_folder_sets_the_threshold(
    tmp_path: Path,
) -> None:
    # A threshold no score reaches: the calibrated agent refuses what the default answers.
    strict = {"embedder": "minilm-l6", "threshold": 1.01, "clarify": 1.01}
    agent = Agent(name="desk", knowledge=folder_with(tmp_path, strict))
    assert await reply_to(agent, "Where can I park?") == agent.lines.fallback
    # The agent's own threshold wins over the file.
    pinned = Agent(name="desk", knowledge=agent.knowledge, knowledge_threshold=0.3)
    assert await reply_to(pinned, "Where can I park?") == PARKING


async def test_a_calibration_for_another_embedder_is_ignored(tmp_path: Path) -> None:
    other = {"embedder": "e5-small", "threshold": 1.01, "clarify": 1.01}
    agent = Agent(name="desk", knowledge=folder_with(tmp_path, other))
    assert await reply_to(agent, "Where can I park?") == PARKING


HOURS = "The desk answers calls from nine in the morning to five in the evening."


async def test_a_topic_misheard_by_sound_is_answered_and_named(tmp_path: Path) -> None:
    # "opening errors" is how Whisper tiny.en heard Festival's "opening hours".
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "desk.md").write_text(f"# Opening hours\n{HOURS}\n\n# Address\n{PARKING}\n")
    agent = Agent(name="desk", knowledge=folder)
    assert await reply_to(agent, "What are your opening errors?") == (
        f"If you mean opening hours: {HOURS}"
    )
    # Heard right, no second reading to name.
    assert await reply_to(agent, "What are your opening hours?") == HOURS
    # Nothing that sounds like a topic: the fallback, as before.
    assert await reply_to(agent, "Do you sell umbrellas?") == agent.lines.fallback
    # An agent may turn the second reading off.
    strict = Agent(name="desk", knowledge=folder, lines=Lines(if_you_mean=""))
    assert await reply_to(strict, "What are your opening errors?") == strict.lines.fallback


async def test_the_english_wording_is_not_said_in_a_call_in_another_language(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "desk.md").write_text(f"# Opening hours\n{HOURS}\n")
    spanish = Language("es", greeting="Hola.", knowledge=folder)  # Lines of its own: none
    agent = Agent(name="desk", knowledge=folder, languages=(spanish,), stt_model="base")
    async with text_agent(agent) as session:
        call = await session.call()
        reply = await call.say("What are your opening errors?", "es")
    assert not reply.text.startswith("If you mean"), reply.text
