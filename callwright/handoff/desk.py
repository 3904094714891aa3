"""The handoff desk: the queue of calls waiting for a person, and the people signed in.

One desk per deployment, shared by every call and every console connection. It only keeps
the order and the numbers (position, expected wait) and puts a person through to a call;
each call's own `CallHandoff` does the talking, and a console connection (`HumanLine`) does
the listening.

`Desk` is the contract. `HandoffDesk` (here) keeps it in this process's memory: one worker,
the SQLite store. `PostgresDesk` (`handoff/pg_desk.py`) keeps it in PostgreSQL for several
workers: a call waiting on one worker can be picked up from a console on another.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from callwright.handoff.packet import ContextPacket

log = logging.getLogger(__name__)


class HumanLine(Protocol):
    """A signed-in person's console connection."""

    name: str

    async def send_audio(self, samples: np.ndarray) -> None:
        """Caller audio, int16 mono at 16 kHz."""
        ...

    async def send_event(self, event: dict[str, Any]) -> None:
        """A JSON event (call picked up, transcript line, call ended)."""
        ...


class HeldCall(Protocol):
    """What a console holds once its person has picked a call up."""

    async def from_human(self, samples: np.ndarray) -> None:
        """The person's microphone (16 kHz), to the caller."""
        ...

    async def hand_back(self) -> None:
        """The agent takes the call back."""
        ...

    async def end_by_human(self) -> None:
        """The person ends the call."""
        ...


class QueuedCall(HeldCall, Protocol):
    """A call in the queue (its `CallHandoff`): a person can be put through to it."""

    async def connect(self, line: HumanLine) -> None:
        """From now on the caller talks to the person on `line`."""
        ...


async def put_through(call: QueuedCall, line: HumanLine) -> bool:
    """Connects the person on `line` to `call`; False if that failed halfway.

    A pickup that fails after the call has left the queue (the console's connection dropped
    as the person clicked, the message to another worker failed) must not leave the caller
    on a line nobody is on, with the hold stopped: the agent takes the call back.
    """
    try:
        await call.connect(line)
    except BaseException as error:
        with contextlib.suppress(Exception):
            await call.hand_back()
        if not isinstance(error, Exception):
            raise  # cancelled: the call is back with the agent, the cancel goes on
        log.warning("putting %s through failed (%r): the agent takes the call back",
                    line.name, error)  # fmt: skip
        return False
    return True


class Desk(Protocol):
    """The queue and the people signed in, as calls and consoles use them."""

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Calls `listener` whenever the queue or the people change (on any worker)."""
        ...

    async def signed_in(self) -> int:
        """How many people are signed in to the console."""
        ...

    async def sign_in(self, line: HumanLine) -> None: ...

    async def sign_out(self, line: HumanLine) -> None: ...

    async def enqueue(self, packet: ContextPacket, call: QueuedCall) -> None:
        """Puts a call at the end of the queue (a call already waiting keeps its place)."""
        ...

    async def position(self, call_id: str) -> int | None:
        """1 for the next call to be picked up; None when not waiting."""
        ...

    async def expected_wait_s(self, call_id: str) -> float | None:
        """Position times the average handle time, shared among the people signed in."""
        ...

    async def update_packet(self, packet: ContextPacket) -> None:
        """A better packet (an LLM's summary) for a call waiting or in progress."""
        ...

    async def pick_up(self, call_id: str, line: HumanLine) -> HeldCall | None:
        """Takes a waiting call out of the queue and connects `line` to it (None if gone)."""
        ...

    async def leave(self, call_id: str) -> None:
        """The call left the queue or a person (hung up, handed back, called back)."""
        ...

    async def snapshot(self) -> dict[str, Any]:
        """What the console shows: people, waiting calls (with packets), calls in progress."""
        ...

    async def close(self) -> None:
        """Takes this worker's calls and people off the desk (the worker stops)."""
        ...


@dataclass(slots=True)
class WaitingCall:
    """A call in the queue."""

    packet: ContextPacket
    handoff: QueuedCall
    enqueued_at: float = field(default_factory=time.monotonic)

    @property
    def call_id(self) -> str:
        return self.packet.call_id


@dataclass(slots=True)
class ActiveCall:
    """A call a person is talking to."""

    packet: ContextPacket
    handoff: QueuedCall
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


def wait_estimate(position: int, humans: int, busy: int, handle_time_s: float) -> float:
    """The expected wait of the call at `position` (see `Desk.expected_wait_s`)."""
    free = max(humans - busy, 0)
    if position <= free:
        return 0.0
    return math.ceil((position - free) / max(humans, 1)) * handle_time_s


class HandoffDesk:
    """A `Desk` in this process's memory: waiting calls in order, people, who talks to whom."""

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

    async def signed_in(self) -> int:
        return len(self._humans)

    async def sign_in(self, line: HumanLine) -> None:
        self._humans.append(line)
        self._changed()

    async def sign_out(self, line: HumanLine) -> None:
        if line in self._humans:
            self._humans.remove(line)
        self._changed()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    # --- the queue ---------------------------------------------------------------------

    async def enqueue(self, packet: ContextPacket, call: QueuedCall) -> None:
        if any(w.call_id == packet.call_id for w in self._waiting):
            return
        self._waiting.append(WaitingCall(packet, call))
        self._changed()

    async def position(self, call_id: str) -> int | None:
        for index, waiting in enumerate(self._waiting):
            if waiting.call_id == call_id:
                return index + 1
        return None

    async def expected_wait_s(self, call_id: str) -> float | None:
        position = await self.position(call_id)
        if position is None:
            return None
        humans = self.humans_signed_in
        return wait_estimate(position, humans, len(self._active), self.handle_time_s)

    async def update_packet(self, packet: ContextPacket) -> None:
        for entry in (*self._waiting, self._active.get(packet.call_id)):
            if entry is not None and entry.packet.call_id == packet.call_id:
                entry.packet = packet
        self._changed()

    async def pick_up(self, call_id: str, line: HumanLine) -> HeldCall | None:
        for waiting in self._waiting:
            if waiting.call_id == call_id:
                self._waiting.remove(waiting)
                self._active[call_id] = ActiveCall(waiting.packet, waiting.handoff, line.name)
                self._changed()
                if not await put_through(waiting.handoff, line):
                    return None
                return waiting.handoff
        return None

    async def leave(self, call_id: str) -> None:
        self._waiting = [w for w in self._waiting if w.call_id != call_id]
        active = self._active.pop(call_id, None)
        if active is not None:
            handled = time.monotonic() - active.started_at
            weight = self.options.smoothing
            self.handle_time_s = (1 - weight) * self.handle_time_s + weight * handled
        self._changed()

    async def snapshot(self) -> dict[str, Any]:
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

    async def close(self) -> None:
        """Nothing to release (the `PostgresDesk` closes its connections)."""

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()
