"""Interface of the call store and the records it keeps.

Writes happen as the call goes (not at the end), so a call whose worker dies is still there
with everything up to that point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from callwright.core.timeline import TurnTimeline

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


@dataclass(frozen=True, slots=True)
class Usage:
    """What a call consumed, per layer.

    Attributes:
        stt_audio_s: seconds of audio sent to speech recognition (speculative passes included).
        tts_chars: characters synthesized (cache hits included: they are what the caller got).
        llm_prompt_tokens: prompt tokens sent to the language model.
        llm_completion_tokens: tokens the language model produced.
    """

    stt_audio_s: float = 0.0
    tts_chars: int = 0
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0


# Event kinds that mean a human (or another line) took the call over.
ESCALATION_KINDS = ("escalation", "transfer")


@dataclass(slots=True)
class CallDetail:
    """A call with everything recorded about it."""

    record: CallRecord
    utterances: list[Utterance]
    events: list[StoredEvent]
    timelines: list[TurnTimeline]
    usage: Usage = field(default_factory=Usage)
    has_recording: bool = False


@dataclass(frozen=True, slots=True)
class CallFilter:
    """Which calls `list_summaries` returns (every condition given must hold).

    Attributes:
        limit: at most this many, newest first.
        outcome: exact outcome.
        status: exact status ("active", "ended", "cut_off").
        escalated: True: only calls with an escalation or transfer event; False: only without.
        since: started at or after (epoch seconds).
        until: started before (epoch seconds).
        slow_ms: only calls with a turn whose time-to-first-audio is at least this.
    """

    limit: int = 100
    outcome: str | None = None
    status: str | None = None
    escalated: bool | None = None
    since: float | None = None
    until: float | None = None
    slow_ms: float | None = None


@dataclass(slots=True)
class CallSummary:
    """A call's record with the aggregates a calls list and the KPIs need.

    Attributes:
        record: the call's metadata.
        turns: caller turns that got a timeline (turn 0, the greeting, excluded).
        caller_utterances: lines the caller said.
        max_ttfa_ms: slowest time-to-first-audio of the call, if any turn had one.
        escalated_at_ms: first escalation or transfer on the call's audio timeline, or None.
        last_event_ms: the call's last event on its audio timeline, or None.
        usage: what the call consumed.
    """

    record: CallRecord
    turns: int = 0
    caller_utterances: int = 0
    max_ttfa_ms: float | None = None
    escalated_at_ms: float | None = None
    last_event_ms: float | None = None
    usage: Usage = field(default_factory=Usage)

    @property
    def escalated(self) -> bool:
        return self.escalated_at_ms is not None

    @property
    def duration_s(self) -> float | None:
        if self.record.ended_at is None:
            return None
        return max(0.0, self.record.ended_at - self.record.started_at)


@dataclass(frozen=True, slots=True)
class Recording:
    """A call's stereo recording: caller left, agent right, 16-bit little-endian interleaved."""

    sample_rate: int
    pcm: bytes
    channels: int = 2


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a retention pass deleted."""

    raw_utterances: int = 0
    recordings: int = 0
    calls: int = 0  # whole records (`purge_calls_before`)


class CallStore(Protocol):
    """Durable storage of call records. Methods never block the event loop."""

    async def start_call(self, record: CallRecord) -> None: ...

    async def update_call_details(self, record: CallRecord) -> None:
        """Sets the caller and parameters of a call recorded before they were known (a phone
        stream is recorded before its WebSocket upgrade; its start message names the call).

        Raises:
            UnknownCallError: no call with this id is recorded.
        """
        ...

    async def add_event(
        self, call_id: str, kind: str, at_ms: float, data: Mapping[str, Any]
    ) -> None: ...

    async def rewrite_events(
        self, call_id: str, rewrite: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        """Stores each of the call's events' data as `rewrite` returns it, where it changed
        (a name learned late is redacted in what was recorded before); how many changed."""
        ...

    async def add_utterance(self, call_id: str, utterance: Utterance) -> None: ...

    async def add_timeline(self, call_id: str, timeline: TurnTimeline) -> None: ...

    async def end_call(self, call_id: str, outcome: str, end_reason: str) -> None: ...

    async def get_call(self, call_id: str) -> CallDetail | None: ...

    async def list_calls(self, limit: int = 100) -> list[CallRecord]: ...

    async def add_raw_utterance(self, call_id: str, utterance: Utterance) -> None:
        """Keeps the unredacted line (only where the redaction policy says to keep raw text)."""
        ...

    async def get_raw_utterances(self, call_id: str) -> list[Utterance]: ...

    async def set_usage(self, call_id: str, usage: Usage) -> None:
        """Stores the call's usage so far (the totals, replacing what was stored)."""
        ...

    async def add_recording_chunk(
        self, call_id: str, seq: int, start_ms: float, sample_rate: int, pcm: bytes
    ) -> None:
        """Appends a piece of the stereo recording (chunks are contiguous, in seq order)."""
        ...

    async def get_recording(self, call_id: str) -> Recording | None: ...

    async def list_summaries(self, query: CallFilter) -> list[CallSummary]: ...

    async def list_timelines(
        self, since: float | None = None, until: float | None = None, finished: bool = False
    ) -> list[TurnTimeline]:
        """Timelines of the calls started in [since, until); `finished`: only of the calls
        that are over and were not refused (those the KPIs describe)."""
        ...

    async def purge_before(self, cutoff: float) -> PurgeResult:
        """Deletes raw transcripts and recordings of calls started before `cutoff`."""
        ...

    async def purge_calls_before(self, cutoff: float) -> int:
        """Deletes the whole record (events, lines, timelines, usage, recording) of every call
        started before `cutoff` that is over; returns how many calls."""
        ...

    async def mark_orphans_cut_off(self, stale_after_s: float | None = None) -> int:
        """Marks calls left "active" by a dead worker as "cut_off"; returns how many.

        Without `stale_after_s`, or before `register_worker`, every active call is taken for
        an orphan (one worker alone on its store). With it, only calls of workers whose
        heartbeat is older than that (or gone), and calls of no recorded worker.
        """
        ...

    async def register_worker(self, worker_id: str) -> int:
        """Records this worker (heartbeat now); calls started from now on carry its id.

        Calls its previous run left "active" under the same id are marked cut off; returns how
        many.
        """
        ...

    async def heartbeat(self) -> None:
        """Refreshes this worker's heartbeat."""
        ...

    async def retire_worker(self) -> None:
        """Removes this worker's heartbeat (at a clean shutdown)."""
        ...

    async def call_worker(self, call_id: str) -> str | None:
        """The id of the worker that ran the call, if recorded."""
        ...

    async def claim_once(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is claimed (by any worker on this store), else False.

        Claims are kept until `expires_at` (epoch seconds), then forgotten.
        """
        ...

    async def put_handover(self, key: str, value: str, expires_at: float) -> None:
        """Leaves `value` under `key` for any worker on this store (replacing an older one)
        until `expires_at` (epoch seconds)."""
        ...

    async def take_handover(self, key: str) -> str | None:
        """The value left under `key`, removed as it is read (one worker gets it), or None."""
        ...

    async def close(self) -> None: ...
