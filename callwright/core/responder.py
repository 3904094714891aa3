"""Interface of a responder.

A responder streams a reply as events. The same interface fits an OpenAI-compatible
chat-completions client (text deltas, tool calls it runs through a tool registry) and a
deterministic responder that needs no LLM.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]
Trigger = Literal["call_start", "user_turn", "dtmf", "silence"]


@dataclass(slots=True)
class ToolCall:
    """A tool call requested by the responder."""

    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class Message:
    """One entry of the conversation history, in chat-completions terms.

    Attributes:
        role: who spoke.
        content: what the caller said, or what the caller actually heard of the agent.
        interrupted: the agent was cut off by the caller; `content` holds only what was heard.
        tool_calls: tool calls made by an assistant message.
        tool_call_id: for role "tool", the call this result answers.
    """

    role: Role
    content: str
    interrupted: bool = False
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What a responder may know about the call it serves."""

    call_id: str
    channel: str
    caller: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnContext:
    """Everything a responder gets for one reply."""

    call: CallInfo
    history: Sequence[Message]
    trigger: Trigger = "user_turn"
    # The call's language (the agent's main one until the caller speaks another it knows).
    language: str = "en"


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply text, to be spoken."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool call and its result, reported for the call record."""

    call: ToolCall
    result: Any
    error: str | None = None
    latency_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class EndCall:
    """The responder wants the call to end once the reply has been spoken."""

    reason: str = "completed"


@dataclass(frozen=True, slots=True)
class TransferCall(EndCall):
    """The responder hands the caller to a human once the reply has been spoken.

    Attributes:
        to: the number to connect; None: the deployment's configured transfer number.
    """

    to: str | None = None


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """What one model request cost, as the server counted it (metered, never spoken)."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Working:
    """The responder is at work and says nothing yet (never spoken): a tool is running, or the
    model's words are held back. A watchdog of the stream waits `for_ms` for the next event, or
    its usual gap when None (a heartbeat).
    """

    for_ms: float | None = None


ResponseEvent = TextDelta | ToolResult | EndCall | TokenUsage | Working


class Responder(Protocol):
    """Produces the agent's reply for one call. One instance per call."""

    def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        """Streams the reply to the latest turn of `context.history`."""
        ...


class ResponderFactory(Protocol):
    """Creates a responder for each new call; holds what calls share (clients, data)."""

    name: str

    def for_call(self, call: CallInfo) -> Responder:
        """Returns the responder that will serve `call`."""
        ...


# Optional capabilities. A responder factory or a responder may offer any of these; the
# runtime checks with isinstance, so wrappers that forward attributes keep them.


@runtime_checkable
class HasPhrases(Protocol):
    """A responder factory with fixed lines worth pre-synthesizing into the TTS cache."""

    def phrases(self) -> list[str]:
        """Every line said word for word."""
        ...


@runtime_checkable
class HasVocabulary(Protocol):
    """A responder factory whose names and terms should bias the speech recogniser."""

    def vocabulary(self) -> list[str]:
        """Names and domain words callers say (people, products, places)."""
        ...


@runtime_checkable
class EmitsEvents(Protocol):
    """A responder factory that hands integration events (webhooks) to its receivers."""

    async def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Sends one event (a handoff, a callback) to the factory's receivers."""
        ...


@runtime_checkable
class HasHandoffFacts(Protocol):
    """A responder that can tell the person taking the call over what it learned."""

    def handoff_facts(self) -> dict[str, Any] | None:
        """Intent, slots, identity and what was done, or None."""
        ...


@runtime_checkable
class HasDeterministicFallback(Protocol):
    """An LLM-driven responder factory with a flow that answers when the model fails."""

    def deterministic(self) -> ResponderFactory:
        """The factory that answers without the model, sharing this one's data."""
        ...


@dataclass(frozen=True, slots=True)
class ExpectedAnswer:
    """What the agent's open question asks for, so the runtime knows when an answer is whole.

    Attributes:
        kinds: slot kinds the answer must hold, all of them ("person", "dob", "date", "time",
            "phone", "digits", "yes_no", "text").
        names: the slots' names in the agent's own terms, for the call record.
    """

    kinds: tuple[str, ...]
    names: tuple[str, ...] = ()


@runtime_checkable
class ExpectsAnswer(Protocol):
    """A responder that can say what its last question asked for (flows, the LLM path)."""

    def expected_answer(self) -> ExpectedAnswer | None:
        """The slots the open question expects, or None when no question is open."""
        ...


@runtime_checkable
class Preempts(Protocol):
    """A responder that can start on a turn before the turn has ended (preemptive generation).

    The session calls `prepare` with the speculative transcript while the end of the turn is
    still being decided, and with None when the caller went on talking. `respond` keeps what
    was prepared only if the turn it is asked about matches; otherwise it starts again.
    """

    def prepare(self, context: TurnContext | None) -> None:
        """Starts (or, with None, abandons) work on the probable next turn; never raises."""
        ...


@runtime_checkable
class PreviewsReply(Protocol):
    """A `Preempts` responder that shows the text of the reply it prepared as it is written,
    so the runtime can synthesize its first clause (not play it) while the end of the turn
    is still being decided.

    A preview has no side effects: it only reads text (no tool runs, no flow state changes).
    The runtime plays the synthesized audio only if the reply `respond` gives for the ended
    turn starts with the same words; otherwise it is thrown away.
    """

    def preview(self) -> AsyncIterator[str]:
        """The prepared reply's text deltas from its start, as they arrive; ends at the end of
        its text, at a tool call, or when the preparation is dropped. Empty when nothing is
        prepared."""
        ...

    def has_preview(self) -> bool:
        """Whether the last `prepare` started a reply whose text `preview` can show (False:
        the turn will be answered some other way, e.g. in fixed words, so nothing is worth
        synthesizing ahead)."""
        ...


@runtime_checkable
class HasModelFreeTwin(Protocol):
    """A model-driven responder whose call can go on without the model, in the same state."""

    def without_model(self) -> Responder:
        """The responder that answers this call while the model fails: the same flow state,
        identity check, held confirmation and tools that ran, answered without the model."""
        ...


@runtime_checkable
class Closable(Protocol):
    """A responder factory holding resources (stores, HTTP sessions) to release."""

    async def close(self) -> None:
        """Releases them."""
        ...
