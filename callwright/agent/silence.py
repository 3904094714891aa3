"""Policy for dead air: reprompting a silent caller, and filling a slow reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from callwright.llm.base import EndCall, ResponseEvent, TextDelta, TurnContext


@dataclass(frozen=True, slots=True)
class SilenceOptions:
    """When the call has gone quiet.

    Attributes:
        reprompt_after_ms: caller silence (after the agent finished) before a reprompt.
        max_reprompts: reprompts before the agent says goodbye and ends the call.
        reprompt: what the agent says to a silent caller.
        goodbye: what it says before hanging up on one.
    """

    reprompt_after_ms: float = 8000.0
    max_reprompts: int = 2
    reprompt: str = "Are you still there?"
    goodbye: str = (
        "I haven't heard anything, so I'll end the call now. Please call back anytime. Goodbye."
    )


@dataclass(frozen=True, slots=True)
class FillerOptions:
    """What the agent says while a reply is slow, so the caller never sits in silence.

    Attributes:
        first_after_ms: time from the start of a reply with no audio yet before the first filler.
        again_after_ms: time between later fillers while still nothing is ready.
        phrases: fillers in the order they are used (the last one repeats).
        max_fillers: fillers per reply at most.
    """

    first_after_ms: float = 900.0
    again_after_ms: float = 2200.0
    phrases: tuple[str, ...] = ("Let me check that for you.", "Still working on it, one moment.")
    max_fillers: int = 3


class CannedResponder:
    """Says a fixed line; used by the session for policy speech (reprompts, goodbyes)."""

    def __init__(self, text: str, end_call: str | None = None) -> None:
        self._text = text
        self._end_call = end_call

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        yield TextDelta(self._text)
        if self._end_call is not None:
            yield EndCall(self._end_call)
