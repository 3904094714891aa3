"""Policy for dead air: reprompting a silent caller, and filling a slow reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callwright.core.responder import EndCall, ResponseEvent, TextDelta, TurnContext

if TYPE_CHECKING:  # session_lines takes its English defaults from here
    from callwright.agent.session_lines import SessionLines


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


class SilenceWatchdog:
    """Notices dead air on a call and has the session speak the policy lines.

    Args:
        options: when to reprompt and when to give up.
        now_ms: the call's pipeline clock.
        busy: True while someone is talking or a turn is being handled.
        speak: says a line; the second argument, if given, ends the call after it with
            that outcome.
        record: records an event on the call.
        lines: the session's lines in the call's language at the moment (the reprompt and
            the goodbye); None: those of `options`.
    """

    def __init__(
        self,
        options: SilenceOptions,
        now_ms: Callable[[], float],
        busy: Callable[[], bool],
        speak: Callable[[str, str | None], None],
        record: Callable[[str, float], None],
        lines: Callable[[], SessionLines] | None = None,
    ) -> None:
        self.options = options
        self._lines = lines
        self._now_ms = now_ms
        self._busy = busy
        self._speak = speak
        self._record = record
        self._last_activity_ms = 0.0
        self._reprompts = 0

    def activity(self, caller_answered: bool = False) -> None:
        """Someone spoke; `caller_answered` also resets the reprompt count."""
        self._last_activity_ms = self._now_ms()
        if caller_answered:
            self._reprompts = 0

    async def run(self) -> None:
        """Checks four times a second until it has hung up on a silent caller."""
        options = self.options
        while True:
            await asyncio.sleep(0.25)
            if self._busy():
                # Silence is counted from when the agent (or a turn) is done: a line longer
                # than the reprompt delay must not be followed at once by "Are you still there?".
                self._last_activity_ms = self._now_ms()
                continue
            if self._now_ms() - self._last_activity_ms < options.reprompt_after_ms:
                continue
            self._last_activity_ms = self._now_ms()
            if self._reprompts >= options.max_reprompts:
                self._record("caller_silent", self._now_ms())
                goodbye = self._lines().silent_goodbye if self._lines else options.goodbye
                self._speak(goodbye, "caller_silent")
                return
            self._reprompts += 1
            self._record("reprompt", self._now_ms())
            self._speak(self._lines().still_there if self._lines else options.reprompt, None)
