"""One call's handoff without the models: the real `CallHandoff` over a call whose voice,
line and record are kept in memory, and a server with the real console around a desk.

For tests of what the handoff and the console do at their edges (a pickup that fails, a
hang-up mid-pickup, a session revoked on an open console), which need no speech.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callwright.agent.stack import AgentStack
from callwright.core.clock import AudioClock
from callwright.core.responder import CallInfo
from callwright.handoff.call import CallHandoff
from callwright.handoff.desk import Desk, HandoffDesk, HumanLine
from callwright.handoff.options import HandoffOptions
from callwright.handoff.triggers import Escalation
from callwright.store.base import CallStore, Utterance
from tests.conftest import serve, wait_until

# No update or callback offer comes within a test unless it shortens these.
QUIET = HandoffOptions(update_interval_s=3600.0, wait_limit_s=3600.0)
ASKED_FOR_A_PERSON = Escalation("explicit_request", "the caller asked for a person", 0.0)


class Line:
    """The caller's line: events and audio frames kept; a closed line takes nothing more."""

    output_sample_rate = 16000
    input_sample_rate = 16000

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.audio_frames = 0
        self.closed = False

    async def send_audio(self, samples: np.ndarray) -> None:
        if not self.closed:
            self.audio_frames += 1

    async def send_event(self, event: dict[str, Any]) -> None:
        if not self.closed:
            self.events.append(dict(event))

    async def clear_audio(self) -> None:
        await self.send_event({"type": "clear"})

    async def close(self, reason: str) -> None:
        self.closed = True


class Record:
    """The call's record: its events, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def event(self, kind: str, at_ms: float, data: dict[str, Any] | None = None) -> None:
        self.events.append((kind, dict(data or {})))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


@dataclass
class Call:
    """The call's shared state as the handoff uses it, and the lines its voice spoke."""

    call: CallInfo
    transport: Line = field(default_factory=Line)
    clock: AudioClock = field(default_factory=AudioClock)
    recorder: Record = field(default_factory=Record)
    outcome: tuple[str, str] | None = None
    transcript: list[Utterance] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    language: str = "en"
    failures: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def record_failure(self, error: BaseException, stage: str) -> None:
        self.failures.append(f"{stage}: {error!r}")


def handoff_call(
    call_id: str,
    desk: Desk,
    options: HandoffOptions = QUIET,
    hush: Callable[[], Awaitable[None]] | None = None,
) -> tuple[CallHandoff, Call]:
    """A call's real `CallHandoff` on `desk`; its voice speaks at once (lines in `said`)."""
    state = Call(CallInfo(call_id, "websocket", caller="+15550100"))

    async def say(text: str, outcome: str | None, timeline: Any) -> None:
        state.said.append(text)
        if outcome is not None and state.outcome is None:
            state.outcome = (outcome, text)
        await asyncio.sleep(0)  # the voice yields, as a real one does while it plays

    async def quiet() -> None:
        return None

    handoff = CallHandoff(
        state,  # type: ignore[arg-type]  # the record and line stand for the real ones
        desk,
        options,
        say=say,
        hush=hush or quiet,
        facts=lambda: None,
    )
    return handoff, state


class ConsoleDesk(HandoffDesk):
    """The in-memory desk, keeping the console lines that signed in (the server's side)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[HumanLine] = []

    async def sign_in(self, line: HumanLine) -> None:
        self.lines.append(line)
        await super().sign_in(line)


@contextlib.asynccontextmanager
async def console_server(store: CallStore, desk: Desk) -> AsyncIterator[str]:
    """The real server (sign-in, the console) around `desk`, without models: its WebSocket
    URL. The test operators of `tests.conftest` may sign in."""
    stack = AgentStack(None, None, None, None, store, desk=desk)  # type: ignore[arg-type]
    async with serve(stack) as url:
        yield url


async def until(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    """`tests.conftest.wait_until` for a condition that needs no awaiting."""

    async def holds() -> bool:
        return condition()

    await wait_until(holds, within_s)
