"""Tests of the conversation history and of barge-in truncation."""

from __future__ import annotations

import json

import pytest

from callwright.agent.history import ConversationHistory, heard_text
from callwright.core.responder import Message, ToolCall, ToolResult

# 20 characters over 2000 ms: 100 ms per character.
FIRST = "Your table is ready."
# 24 characters over 1200 ms: 50 ms per character.
SECOND = "Please come to the front"
SPOKEN = [(FIRST, 2000.0), (SECOND, 1200.0)]


def test_nothing_heard() -> None:
    assert heard_text(SPOKEN, 0.0) == ""
    assert heard_text(SPOKEN, -5.0) == ""
    assert heard_text([], 500.0) == ""


def test_partial_first_piece_keeps_only_words_whose_end_was_heard() -> None:
    # "Your" ends at character 4 (400 ms), "table" at 10 (1000 ms).
    assert heard_text(SPOKEN, 399.0) == ""
    assert heard_text(SPOKEN, 400.0) == "Your"
    assert heard_text(SPOKEN, 999.0) == "Your"
    assert heard_text(SPOKEN, 1000.0) == "Your table"


def test_never_cuts_mid_word() -> None:
    for heard_ms in range(0, 3300, 37):
        heard = heard_text(SPOKEN, float(heard_ms))
        words = f"{FIRST} {SECOND}".split()
        assert heard.split() == words[: len(heard.split())]


def test_between_pieces() -> None:
    assert heard_text(SPOKEN, 2000.0) == FIRST
    # "Please" ends at character 6 of the second piece: 300 ms into it.
    assert heard_text(SPOKEN, 2299.0) == FIRST


def test_partial_later_piece() -> None:
    assert heard_text(SPOKEN, 2300.0) == "Your table is ready. Please"
    assert heard_text(SPOKEN, 2000.0 + 18 * 50.0) == "Your table is ready. Please come to the"


def test_everything_heard() -> None:
    assert heard_text(SPOKEN, 3200.0) == f"{FIRST} {SECOND}"
    assert heard_text(SPOKEN, 10_000.0) == f"{FIRST} {SECOND}"


def test_pieces_are_stripped_and_zero_length_audio_is_skipped() -> None:
    spoken = [("  Hello there. ", 1000.0), ("", 0.0), ("Bye now", 700.0)]
    assert heard_text(spoken, 1000.0) == "Hello there."
    assert heard_text(spoken, 1700.0) == "Hello there. Bye now"


def test_history_records_messages_in_order() -> None:
    history = ConversationHistory([Message(role="system", content="Be brief.")])
    history.add_user("Hi, I need a table.")
    history.add_assistant("Sure, for how many?")
    assert len(history) == 3
    assert [(m.role, m.content) for m in history.messages] == [
        ("system", "Be brief."),
        ("user", "Hi, I need a table."),
        ("assistant", "Sure, for how many?"),
    ]
    assert history.messages[-1].interrupted is False


def test_messages_is_a_snapshot() -> None:
    history = ConversationHistory()
    history.add_user("Hello")
    snapshot = history.messages
    assert isinstance(snapshot, tuple)
    history.add_assistant("Hi there")
    assert len(snapshot) == 1
    assert len(history.messages) == 2


def test_add_assistant_interrupted_flag() -> None:
    history = ConversationHistory()
    history.add_assistant(heard_text(SPOKEN, 1000.0), interrupted=True)
    last = history.messages[-1]
    assert (last.role, last.content, last.interrupted) == ("assistant", "Your table", True)


def test_tool_calls_made_together_share_one_assistant_message() -> None:
    history = ConversationHistory()
    history.add_user("Check Tuesday and Wednesday")
    first = history.add_tool_call(ToolCall("c1", "slots", {"day": "tue"}))
    snapshot = history.messages
    both = history.add_tool_call(ToolCall("c2", "slots", {"day": "wed"}))
    assert [c.call_id for c in both.tool_calls] == ["c1", "c2"]
    assert snapshot[-1] is first  # an earlier snapshot is left unchanged
    assert [c.call_id for c in snapshot[-1].tool_calls] == ["c1"]
    history.add_tool_result("c1", ["9:00", "10:00"])
    history.add_tool_result("c2", "none left")
    # A call after results starts a new assistant message.
    third = history.add_tool_call(ToolCall("c3", "book", {"slot": "9:00"}))
    assert [c.call_id for c in third.tool_calls] == ["c3"]
    roles = [m.role for m in history.messages]
    assert roles == ["user", "assistant", "tool", "tool", "assistant"]
    results = history.messages[2:4]
    assert (results[0].tool_call_id, json.loads(results[0].content)) == ("c1", ["9:00", "10:00"])
    assert (results[1].tool_call_id, results[1].content) == ("c2", "none left")


def test_tool_exchange_records_errors() -> None:
    history = ConversationHistory()
    call = ToolCall("c9", "book", {})
    message = history.add_tool_exchange(ToolResult(call, None, error="slot taken"))
    assert message.role == "tool"
    assert message.tool_call_id == "c9"
    assert json.loads(message.content) == {"error": "slot taken"}
    assert history.messages[0].tool_calls == [call]


def test_tool_result_for_unknown_call_is_rejected() -> None:
    history = ConversationHistory()
    with pytest.raises(ValueError, match="nope"):
        history.add_tool_result("nope", 1)
    assert len(history) == 0


def test_a_held_call_that_runs_later_keeps_the_ids_unique() -> None:
    """A confirmed tool reports its call id twice (held, then run); the wire needs it once."""
    history = ConversationHistory()
    call = ToolCall("c1", "create_return", {"order_id": "1042"})
    history.add_tool_exchange(ToolResult(call, {"status": "awaiting_confirmation"}))
    history.add_assistant("Shall I open it?")
    history.add_user("Yes.")
    history.add_tool_exchange(ToolResult(call, {"return_id": "R-0001"}))
    calls = [c.call_id for m in history.messages if m.role == "assistant" for c in m.tool_calls]
    answered = [m.tool_call_id for m in history.messages if m.role == "tool"]
    assert len(set(calls)) == 2 and calls == answered
    assert json.loads(history.messages[-1].content) == {"return_id": "R-0001"}
