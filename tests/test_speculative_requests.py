"""Requests started on a speculative transcript (preemptive generation), by text.

However many of them a call's pauses start, none runs a tool, a dropped one leaves the turn's
answer as it would have been, and none goes out once the turn is being answered. The model is
the fake server answering each request by where it stands in the conversation, as a real
server answers each request on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from callwright import Agent, tool
from callwright.agents.definition import AgentRuntime
from callwright.agents.responder import AgentResponderFactory
from callwright.core.responder import Message, Role, ToolResult, TurnContext
from callwright.llm.openai_compat import LlmOptions, OpenAICompatResponderFactory
from tests.fakes.openai_server import Conversation, FakeToolCall, start_fake_openai
from tests.test_llm_fast_path import CALL, call_events, last_user, reply_text

GREETING = "Parcel desk, how can I help?"
ASK = "Hello, I'd like to leave a note for the driver."


def asking(words: str) -> Callable[[dict[str, Any]], bool]:
    """Matches a request whose last message is the caller's `words`."""
    return lambda request: last_user(request) == words


def caller(*lines: str) -> TurnContext:
    """A turn after the greeting: the caller's lines alternating with the agent's, caller last."""
    roles: list[Role] = ["user", "assistant"]
    said = [Message(role=roles[i % 2], content=text) for i, text in enumerate(lines)]
    return TurnContext(CALL, (Message(role="assistant", content=GREETING), *said), "user_turn")


def note_taking_agent(notes: list[str]) -> Agent:
    @tool
    async def leave_note(text: str) -> str:
        """Leaves a note for the driver (a side effect: it must run once, for the real turn).

        Args:
            text: the note.
        """
        notes.append(text)
        return "noted"

    return Agent(name="notes", greeting=GREETING, instructions="Be brief.", tools=[leave_note])


SCRIPT = Conversation(
    {1: [[FakeToolCall("leave_note", {"text": "leave it at the door"})], "Your note is on file."]}
)


async def test_speculative_requests_run_no_tool_and_leave_the_answer_unchanged(
    tmp_path: Path,
) -> None:
    notes: list[str] = []
    async with start_fake_openai(SCRIPT) as fake:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(fake.base_url, "main"))
        factory = await AgentResponderFactory.open(note_taking_agent(notes), runtime)
        responder = factory.for_call(CALL)
        # Three pauses, each with its own words; the model answers every one with the tool call.
        spoken = ["Hello", "Hello, I'd like to", "Hello, I'd like to leave a note"]
        for words in spoken:
            responder.prepare(caller(words))
            await fake.wait_for_request(asking(words))
        assert notes == [], "a speculative request ran a tool"
        with call_events() as events:
            text, others = await reply_text(responder, caller(ASK))
        await factory.close()
    assert notes == ["leave it at the door"]  # once, for the turn itself
    assert text == "Your note is on file."
    [result] = [e for e in others if isinstance(e, ToolResult)]
    assert result.error is None and result.result == "noted"
    # The last head start was dropped (other words), and the turn asked again.
    assert events[0][1]["preemptive"] == "discarded"
    asked = [last_user(r) for r in fake.requests]
    assert asked[: len(spoken)] == spoken and asked[len(spoken)] == ASK


async def test_a_matching_speculative_request_answers_and_its_tool_runs_only_then(
    tmp_path: Path,
) -> None:
    notes: list[str] = []
    async with start_fake_openai(SCRIPT) as fake:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(fake.base_url, "main"))
        factory = await AgentResponderFactory.open(note_taking_agent(notes), runtime)
        responder = factory.for_call(CALL)
        responder.prepare(caller("Hello"))
        final_pause = ASK.lower().rstrip(".")  # the turn's words, but for case and punctuation
        responder.prepare(caller(final_pause))
        await fake.wait_for_request(asking(final_pause))
        assert notes == []
        with call_events() as events:
            text, _ = await reply_text(responder, caller(ASK))
        await factory.close()
    assert notes == ["leave it at the door"] and text == "Your note is on file."
    assert events[0][1]["preemptive"] == "used"


async def test_no_speculative_request_goes_out_once_the_turn_is_being_answered(
    tmp_path: Path,
) -> None:
    notes: list[str] = []
    script = Conversation({1: ["Sure, go ahead."], 2: ["Thanks, goodbye for now."]})
    async with start_fake_openai(script) as fake:
        runtime = AgentRuntime(data_dir=tmp_path, llm=LlmOptions(fake.base_url, "main"))
        factory = await AgentResponderFactory.open(note_taking_agent(notes), runtime)
        responder = factory.for_call(CALL)
        # The pause's words, then at once the turn: the head start has not chosen its model yet.
        responder.prepare(caller("Hello, I'd"))
        first, _ = await reply_text(responder, caller("Hello, I'd like to leave a note."))
        with call_events() as events:
            context = caller(
                "Hello, I'd like to leave a note.", first, "And can you text me when it arrives?"
            )
            second, _ = await reply_text(responder, context)
        await factory.close()
    assert (first, second) == ("Sure, go ahead.", "Thanks, goodbye for now.")
    # Nothing was left prepared for the next turn to throw away, and it was never sent.
    assert events[0][1]["preemptive"] is None, events
    assert "Hello, I'd" not in [last_user(r) for r in fake.requests]


async def test_the_same_words_prepared_again_keep_the_request_in_flight() -> None:
    async with start_fake_openai(Conversation({1: ["Your note is on file."]})) as fake:
        factory = OpenAICompatResponderFactory(LlmOptions(fake.base_url, "main"))
        responder = factory.for_call(CALL)
        responder.prepare(caller(ASK))
        await fake.wait_for_request(asking(ASK))
        # A second look at the same pause hears the same words, written differently.
        responder.prepare(caller(ASK.upper()))
        with call_events() as events:
            text, _ = await reply_text(responder, caller(ASK))
        await factory.close()
    assert text == "Your note is on file."
    assert events[0][1]["preemptive"] == "used"
    assert len(fake.requests) == 1, "the prepared request was not sent again"
