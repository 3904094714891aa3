"""The handoff desk: the queue of calls waiting for a person, and the people signed in.

One desk per server, shared by every call and every console connection. It only keeps the
order and the numbers (position, expected wait); each call's own `CallHandoff` does the
talking, and a console connection (`HumanLine`) does the listening.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from callwright.handoff.packet import ContextPacket

if TYPE_CHECKING:
    from callwright.handoff.call import CallHandoff


class HumanLine(Protocol):
    """A signed-in person's console connection."""

    name: str

    async def send_audio(self, samples: np.ndarray) -> None:
        """Caller audio, int16 mono at 16 kHz."""
        ...

    async def send_event(self, event: dict[str, Any]) -> None:
        """A JSON event (call picked up, transcript line, call ended)."""
        ...


@dataclass(slots=True)
class WaitingCall:
    """A call in the queue."""

    packet: ContextPacket
    handoff: CallHandoff
    enqueued_at: float = field(default_factory=time.monotonic)

    @property
    def call_id(self) -> str:
        return self.packet.call_id


@dataclass(slots=True)
class ActiveCall:
    """A call a person is talking to."""

    packet: ContextPacket
    handoff: CallHandoff
    human: str
    started_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class DeskOptions:
    """How the desk estimates waits.

    Attributes:
        handle_time_s: expected length of a human's call, before any has been measured.
        smoothing: weight of each measured call in the running average of handle times.
    """

    handle_time_s: float = 180.0
    smoothing: float = 0.3


class HandoffDesk:
    """Waiting calls in order, people signed in, and who is talking to whom."""

    def __init__(self, options: DeskOptions | None = None) -> None:
        self.options = options or DeskOptions()
        self.handle_time_s = self.options.handle_time_s
        self._waiting: list[WaitingCall] = []
        self._active: dict[str, ActiveCall] = {}
        self._humans: list[HumanLine] = []
        self._listeners: set[Callable[[], None]] = set()

    # --- people ------------------------------------------------------------------------

    @property
    def humans_signed_in(self) -> int:
        return len(self._humans)

    def sign_in(self, line: HumanLine) -> None:
        self._humans.append(line)
        self._changed()

    def sign_out(self, line: HumanLine) -> None:
        if line in self._humans:
            self._humans.remove(line)
        self._changed()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Calls `listener` whenever the queue changes; returns the unsubscribe function."""
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    # --- the queue ---------------------------------------------------------------------

    def enqueue(self, packet: ContextPacket, handoff: CallHandoff) -> None:
        self._waiting.append(WaitingCall(packet, handoff))
        self._changed()

    def position(self, call_id: str) -> int | None:
        """1 for the next call to be picked up; None when not waiting."""
        for index, waiting in enumerate(self._waiting):
            if waiting.call_id == call_id:
                return index + 1
        return None

    def expected_wait_s(self, call_id: str) -> float | None:
        """Position times the average handle time, shared among the people signed in."""
        position = self.position(call_id)
        if position is None:
            return None
        free = max(self.humans_signed_in - len(self._active), 0)
        if position <= free:
            return 0.0
        people = max(self.humans_signed_in, 1)
        return math.ceil((position - free) / people) * self.handle_time_s

    def update_packet(self, packet: ContextPacket) -> None:
        """A better packet (an LLM's summary) for a call waiting or in progress."""
        for entry in (*self._waiting, self._active.get(packet.call_id)):
            if entry is not None and entry.packet.call_id == packet.call_id:
                entry.packet = packet
        self._changed()

    def take(self, call_id: str, human: str) -> WaitingCall | None:
        """Removes a waiting call for `human` to pick up (None if it is gone)."""
        for waiting in self._waiting:
            if waiting.call_id == call_id:
                self._waiting.remove(waiting)
                self._active[call_id] = ActiveCall(waiting.packet, waiting.handoff, human)
                self._changed()
                return waiting
        return None

    def leave(self, call_id: str) -> None:
        """The call left the queue or a human (hung up, handed back, called back)."""
        self._waiting = [w for w in self._waiting if w.call_id != call_id]
        active = self._active.pop(call_id, None)
        if active is not None:
            handled = time.monotonic() - active.started_at
            weight = self.options.smoothing
            self.handle_time_s = (1 - weight) * self.handle_time_s + weight * handled
        self._changed()

    def snapshot(self) -> dict[str, Any]:
        """What the console shows: waiting calls with their packets, and calls in progress."""
        now = time.monotonic()
        return {
            "humans": [line.name for line in self._humans],
            "waiting": [
                {
                    "call_id": w.call_id,
                    "position": index + 1,
                    "waiting_s": round(now - w.enqueued_at, 1),
                    "packet": w.packet.to_dict(),
                }
                for index, w in enumerate(self._waiting)
            ],
            "active": [
                {"call_id": call_id, "human": a.human, "packet": a.packet.to_dict()}
                for call_id, a in self._active.items()
            ],
        }

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()
