"""Interface of the call store and the records it keeps.

Writes happen as the call goes (not at the end), so a call whose worker dies is still there
with everything up to that point.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from callwright.observe.timeline import TurnTimeline

CallStatus = Literal["active", "ended", "cut_off"]


@dataclass(slots=True)
class CallRecord:
    """A call's metadata.

    Attributes:
        call_id: unique id.
        channel: transport it came in on ("websocket", "twilio", ...).
        caller: caller id (phone number, user id) if known.
        started_at: wall-clock start, seconds since the epoch.
        parameters: per-call parameters given at start.
        status: "active" while running; "ended" after a clean end; "cut_off" when the worker
            died or the record was found orphaned.
        outcome: how the conversation ended ("completed", "caller_hung_up", "error", ...).
        end_reason: a short human-readable reason.
        ended_at: wall-clock end, or None.
    """

    call_id: str
    channel: str
    caller: str | None
    started_at: float
    parameters: dict[str, str] = field(default_factory=dict)
    status: CallStatus = "active"
    outcome: str | None = None
    end_reason: str | None = None
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class Utterance:
    """One line of the transcript."""

    index: int
    role: Literal["caller", "agent"]
    text: str
    interrupted: bool = False
    start_ms: float | None = None
    end_ms: float | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """Something that happened on a call, at a time on its audio timeline."""

    seq: int
    kind: str
    at_ms: float
    data: Mapping[str, Any]


@dataclass(slots=True)
class CallDetail:
    """A call with everything recorded about it."""

    record: CallRecord
    utterances: list[Utterance]
    events: list[StoredEvent]
    timelines: list[TurnTimeline]


class CallStore(Protocol):
    """Durable storage of call records. Methods never block the event loop."""

    async def start_call(self, record: CallRecord) -> None: ...

    async def add_event(
        self, call_id: str, kind: str, at_ms: float, data: Mapping[str, Any]
    ) -> None: ...

    async def add_utterance(self, call_id: str, utterance: Utterance) -> None: ...

    async def add_timeline(self, call_id: str, timeline: TurnTimeline) -> None: ...

    async def end_call(self, call_id: str, outcome: str, end_reason: str) -> None: ...

    async def get_call(self, call_id: str) -> CallDetail | None: ...

    async def list_calls(self, limit: int = 100) -> list[CallRecord]: ...

    async def mark_orphans_cut_off(self) -> int:
        """Marks calls left "active" by a dead worker as "cut_off"; returns how many."""
        ...

    async def close(self) -> None: ...
