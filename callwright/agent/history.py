"""The conversation history of a call, and what the caller heard of an interrupted reply.

When the caller barges in, the history must hold only what was actually heard: the
responder would otherwise assume the caller knows things that were never said.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from callwright.core.responder import Message, ToolCall, ToolResult

_WORD = re.compile(r"\S+")


def heard_text(spoken: Sequence[tuple[str, float]], heard_ms: float) -> str:
    """Returns the part of a reply that the caller heard before playback stopped.

    Pieces fully played are kept whole. In the piece being played, word timing is estimated
    from character positions, and only words whose end was reached are kept: the text is
    cut down to a word boundary, never mid-word.

    Args:
        spoken: each synthesized piece of the reply with its audio duration in ms, in
            playback order.
        heard_ms: how much of the reply's audio was played to the caller.

    Returns:
        The heard pieces joined by spaces; "" if nothing was heard, the full text if
        everything was.
    """
    heard: list[str] = []
    elapsed = 0.0
    for raw, duration_ms in spoken:
        text = raw.strip()
        duration = max(duration_ms, 0.0)
        if elapsed + duration <= heard_ms:
            heard.append(text)
            elapsed += duration
            continue
        if heard_ms > elapsed:
            reached = (heard_ms - elapsed) / duration * len(text)
            words = [m.end() for m in _WORD.finditer(text) if m.end() <= reached]
            if words:
                heard.append(text[: words[-1]])
        break
    return " ".join(part for part in heard if part)


class ConversationHistory:
    """The messages of one call, in chat-completions terms.

    Args:
        messages: messages to start from, e.g. a system prompt.
    """

    def __init__(self, messages: Iterable[Message] = ()) -> None:
        self._messages: list[Message] = list(messages)

    @property
    def messages(self) -> tuple[Message, ...]:
        """A snapshot of the messages, oldest first; later additions do not change it."""
        return tuple(self._messages)

    def __len__(self) -> int:
        return len(self._messages)

    def add_user(self, text: str) -> Message:
        """Appends what the caller said.

        Args:
            text: the caller's transcribed turn.

        Returns:
            The message appended.
        """
        return self._append(Message(role="user", content=text))

    def add_assistant(self, text: str, *, interrupted: bool = False) -> Message:
        """Appends what the agent said.

        Args:
            text: what the caller heard of the reply (all of it unless interrupted).
            interrupted: the caller cut the agent off; `text` holds only the heard part.

        Returns:
            The message appended.
        """
        return self._append(Message(role="assistant", content=text, interrupted=interrupted))

    def add_tool_call(self, call: ToolCall) -> Message:
        """Records a tool call requested by the agent.

        Calls requested together share one assistant message, as chat-completions expects:
        the call joins the last message if that is an assistant message with tool calls whose
        results have not been added yet.

        Args:
            call: the tool call.

        Returns:
            The assistant message holding the call.
        """
        last = self._messages[-1] if self._messages else None
        if last is not None and last.role == "assistant" and last.tool_calls:
            # Replaced, not mutated, so that earlier snapshots of `messages` stay as they were.
            merged = replace(last, tool_calls=[*last.tool_calls, call])
            self._messages[-1] = merged
            return merged
        return self._append(Message(role="assistant", content="", tool_calls=[call]))

    def add_tool_result(self, call_id: str, result: Any, *, error: str | None = None) -> Message:
        """Records the result of a tool call.

        Args:
            call_id: the id of the call answered, recorded earlier with `add_tool_call`.
            result: the tool's return value; strings are kept as is, anything else is
                serialized as JSON.
            error: the error the tool raised, if any; recorded instead of `result`.

        Returns:
            The tool message appended.

        Raises:
            ValueError: no recorded tool call has this id.
        """
        known = {c.call_id for m in self._messages if m.role == "assistant" for c in m.tool_calls}
        if call_id not in known:
            raise ValueError(f"no tool call with id {call_id!r} in the history")
        if error is not None:
            content = json.dumps({"error": error})
        elif isinstance(result, str):
            content = result
        else:
            content = json.dumps(result, default=str, ensure_ascii=False)
        return self._append(Message(role="tool", content=content, tool_call_id=call_id))

    def add_tool_exchange(self, event: ToolResult) -> Message:
        """Records a tool call and its result, as reported by a responder.

        Args:
            event: the call, with its result or error.

        Returns:
            The tool message appended.
        """
        call = event.call
        used = {m.tool_call_id for m in self._messages if m.role == "tool"}
        if call.call_id in used:
            # A held call that runs on the caller's yes reports the same id a second time.
            call = replace(call, call_id=f"{call.call_id}_{len(used)}")
        self.add_tool_call(call)
        return self.add_tool_result(call.call_id, event.result, error=event.error)

    def last_assistant(self) -> Message | None:
        """Returns the last thing the agent said, skipping messages that only call tools."""
        for message in reversed(self._messages):
            if message.role == "assistant" and (message.content or not message.tool_calls):
                return message
        return None

    def _append(self, message: Message) -> Message:
        self._messages.append(message)
        return message
