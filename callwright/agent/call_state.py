"""What the listening and the speaking halves of one call share."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from callwright.agent.history import ConversationHistory
from callwright.core.clock import AudioClock
from callwright.core.provider_events import describe
from callwright.core.responder import CallInfo
from callwright.observe.record_writer import CallRecordWriter
from callwright.store.base import Utterance
from callwright.transports.base import CallTransport

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CallState:
    """Per-call state used by both `CallSession` (listening) and `AgentVoice` (speaking).

    Attributes:
        call: who and what the call is.
        transport: the call's connection.
        clock: the call's audio clock.
        recorder: background writer of the call record.
        history: the conversation as the responder sees it.
        outcome: set once something decided how the call ends (outcome, reason).
        transcript: the stored transcript so far (for the handoff's context packet).
        tool_calls: the tool calls so far, with results (the same).
        turns: caller turns so far (spoken or keyed).
        language: the language the call is in (the agent's main one until the caller
            speaks another the agent knows).
    """

    call: CallInfo
    transport: CallTransport
    clock: AudioClock
    recorder: CallRecordWriter
    history: ConversationHistory = field(default_factory=ConversationHistory)
    outcome: tuple[str, str] | None = None
    transcript: list[Utterance] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0
    language: str = "en"

    def add_utterance(
        self,
        role: str,
        text: str,
        *,
        interrupted: bool = False,
        start_ms: float | None = None,
        end_ms: float | None = None,
    ) -> None:
        """Appends a line to the stored transcript."""
        utterance = Utterance(
            index=len(self.transcript),
            role="caller" if role == "caller" else "agent",
            text=text,
            interrupted=interrupted,
            start_ms=start_ms,
            end_ms=end_ms,
        )
        self.transcript.append(utterance)
        self.recorder.utterance(utterance)

    def record_failure(self, error: BaseException, stage: str) -> None:
        """Logs a failure of this call's own work and records it (an `error` event)."""
        log.error("call %s: %s failed", self.call.call_id, stage, exc_info=error)
        details = {"stage": stage, "error": describe(error)}
        self.recorder.event("error", self.clock.now_ms(), details)

    def task_failed(self, task: asyncio.Task[Any], stage: str) -> BaseException | None:
        """The error a finished task of this call raised, recorded (`record_failure`), or None
        if it succeeded or was cancelled. A done-callback: nothing awaits the call's
        background tasks, so their failures are said here."""
        if task.cancelled() or (error := task.exception()) is None:
            return None
        self.record_failure(error, stage)
        return error
