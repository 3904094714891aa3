"""A call's handoff once a person picks it up: audio both ways, the live transcript, and
how it ends (handed back, ended by the person, or the caller hangs up).

`PersonSide` also holds what every step of a handoff shares (the mode, the call's line to
the desk, whether the call has ended); `CallHandoff` (`handoff/call.py`) builds the
routing, the hold and the callback on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal

import numpy as np

from callwright.audio.resample import StreamResampler
from callwright.core.timeline import TurnTimeline
from callwright.handoff.desk import Desk, HumanLine
from callwright.handoff.options import CallState, HandoffOptions
from callwright.handoff.packet import ContextPacket

Mode = Literal["agent", "waiting", "callback_offer", "human", "done"]
HUMAN_RATE = 16000  # console audio, both ways
Say = Callable[[str, str | None, TurnTimeline | None], Coroutine[Any, Any, None]]


class PersonSide:
    """What a person on the console drives of one call, and the state a handoff shares.

    Args:
        state: the call's shared state.
        desk: the deployment's handoff desk (in memory, or shared through PostgreSQL).
        options: routing and what the caller hears.
        say: speaks a line through the agent's voice (see `CallHandoff`).
        hush: stops whatever the agent is saying (a person takes over mid-announcement).
        wording: `options` in the call's language at the moment, if the session has them.
    """

    def __init__(
        self,
        state: CallState,
        desk: Desk,
        options: HandoffOptions,
        say: Say,
        hush: Callable[[], Awaitable[None]],
        wording: Callable[[], HandoffOptions] | None = None,
    ) -> None:
        self.state = state
        self.desk = desk
        self._options = options
        self._wording = wording
        self._say = say
        self._hush = hush
        self.mode: Mode = "agent"
        # Set by close(), never unset: every step that awaited checks it before it changes
        # anything, as the caller may have hung up meanwhile.
        self._closed = False
        self.packet: ContextPacket | None = None
        self._line: HumanLine | None = None
        self._hold_task: asyncio.Task[None] | None = None
        self._back_line: asyncio.Task[None] | None = None
        self._to_caller = StreamResampler(HUMAN_RATE, state.transport.output_sample_rate)

    @property
    def options(self) -> HandoffOptions:
        """Routing, timing and the lines, in the call's language now."""
        return self._wording() if self._wording is not None else self._options

    @property
    def human(self) -> str | None:
        return self._line.name if self._line is not None else None

    @property
    def _id(self) -> str:
        return self.state.call.call_id

    async def _leave(self) -> None:
        with contextlib.suppress(Exception):  # a database gone away must not stop the end
            await self.desk.leave(self._id)

    async def _stop_hold(self) -> None:
        task, self._hold_task = self._hold_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # --- a person on the line -------------------------------------------------------------

    async def connect(self, line: HumanLine) -> None:
        """A person picked the call up: from now on the caller talks to them."""
        if not self._closed:
            self.mode = "human"
            await self._stop_hold()
            await self._hush()
            await self.state.transport.clear_audio()  # hold audio queued ahead stops at once
        if self._closed:  # the caller hung up while the person was being put through
            await self._tell_ended(line)
            return
        self._line = line
        state = self.state
        state.recorder.event("human_joined", state.clock.now_ms(), {"human": line.name})
        await state.transport.send_event({"type": "human_joined"})
        transcript = [{"role": u.role, "text": u.text} for u in state.transcript]
        packet = self.packet.to_dict() if self.packet else None
        await line.send_event(
            {"type": "picked_up", "call_id": self._id, "packet": packet, "transcript": transcript}
        )
        if self._closed:  # ... or meanwhile: its call_ended may have gone before picked_up
            await self._tell_ended(line)

    async def _tell_ended(self, line: HumanLine) -> None:
        with contextlib.suppress(Exception):  # a console gone away needs telling nothing
            await line.send_event({"type": "call_ended", "call_id": self._id})

    async def from_caller(self, samples: np.ndarray) -> None:
        """Caller audio (16 kHz) while a person is on the line."""
        if self._line is not None:
            with contextlib.suppress(Exception):  # a console that went away drops audio only
                await self._line.send_audio(samples)

    async def from_human(self, samples: np.ndarray) -> None:
        """The person's microphone (16 kHz), to the caller."""
        if self.mode == "human":
            frame = self._to_caller.process(samples)
            if frame.size:
                await self.state.transport.send_audio(frame)

    async def caller_said(self, text: str) -> None:
        """A caller line while a person is on the line: for their live transcript."""
        if self._line is not None:
            with contextlib.suppress(Exception):
                await self._line.send_event({"type": "transcript", "role": "caller", "text": text})

    async def hand_back(self) -> None:
        """The person hands the call back to the agent, which picks up where it was."""
        if self.mode != "human":
            return
        state = self.state
        state.recorder.event("handed_back", state.clock.now_ms(), {"human": self.human})
        self._line = None
        self.mode = "agent"
        await self.desk.leave(self._id)
        if self._closed:
            return
        # Spoken in the background: the person's console must not wait for the agent's line.
        self._back_line = asyncio.create_task(self._say(self.options.back_line, None, None))

    async def end_by_human(self) -> None:
        """The person ends the call."""
        if self.mode != "human":
            return
        state = self.state
        self.mode = "done"
        reason = f"ended by {self.human}"
        state.outcome = ("escalated", reason)
        state.recorder.event("human_ended", state.clock.now_ms(), {"human": self.human})
        self._line = None
        await self.desk.leave(self._id)
        await state.transport.close(reason)
