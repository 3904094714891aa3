"""Calls joined across workers on the PostgreSQL desk: a caller on one, a person on another.

The two sides talk through each worker's own NOTIFY channel (`store/pg_notify.py`): the
call's events and 16 kHz audio to the console's worker (`RemoteLine`), the person's
microphone and commands to the call's worker (`RemoteCall`). Each side says every second
that it is still there (`handoff/remote_peers.py`): when one worker dies mid-conversation,
the other gives the call back to the agent, or tells the person the call has ended, within
seconds. A pickup whose message to the call's worker never came (the console's worker died
between the two) is undone by the call's worker, and the caller waits again in their place.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from callwright.handoff.desk import HumanLine, QueuedCall, put_through
from callwright.handoff.remote_peers import PeerWatch
from callwright.store.pg_notify import PgChannels, channel_name
from callwright.store.postgres import PostgresCallStore

log = logging.getLogger(__name__)

AUDIO_CHUNK = 2400  # samples per message (150 ms at 16 kHz): well under the NOTIFY limit
DESK_CHANNEL = "callwright_desk"  # every change of the desk, announced to every worker


def worker_channel(worker_id: str) -> str:
    """The NOTIFY channel a worker listens on for the calls joined to it."""
    return channel_name("callwright_w", worker_id)


class JoinedCalls:
    """This worker's side of its calls joined to other workers.

    Args:
        store: the PostgreSQL store the desk's rows are in.
        worker_id: this worker's id.
        channels: the desk's NOTIFY channels (messages go out through them).
        calls: this worker's calls in the desk, by call id.
        lines: this worker's consoles, by line id.
        alive_every_s: how often a side of a call joined across workers says it is there.
        lost_after_s: a side not heard from for this long has gone.
    """

    def __init__(
        self,
        store: PostgresCallStore,
        worker_id: str,
        channels: PgChannels,
        calls: Mapping[str, QueuedCall],
        lines: Mapping[str, HumanLine],
        alive_every_s: float,
        lost_after_s: float,
    ) -> None:
        self._store = store
        self.worker_id = worker_id
        self._channels = channels
        self._calls = calls
        self._lines = lines
        self.alive_every_s = alive_every_s
        self.consoles = PeerWatch(lost_after_s)  # this worker's calls, with a person elsewhere
        self.held = PeerWatch(lost_after_s)  # calls elsewhere, held by this worker's consoles
        self.put_through_here: set[str] = set()  # this worker's calls, a person here too
        self._claims: dict[str, tuple[float, float]] = {}  # not put through: picked_at, seen

    async def send(self, worker_id: str, message: dict[str, Any]) -> None:
        await self._channels.send(worker_channel(worker_id), json.dumps(message))

    async def send_audio(
        self, worker_id: str, message: dict[str, Any], samples: np.ndarray
    ) -> None:
        pcm = samples.astype("<i2")
        for start in range(0, pcm.size, AUDIO_CHUNK):
            data = base64.b64encode(pcm[start : start + AUDIO_CHUNK].tobytes()).decode()
            await self.send(worker_id, {**message, "pcm": data})

    async def on_message(self, message: dict[str, Any]) -> None:
        """A message on this worker's own channel, from the other side of a joined call."""
        op = message.get("op")
        if op in ("alive", "gone"):
            await self._on_peer(op, message)
            return
        if op in ("event", "audio"):
            line = self._lines.get(str(message.get("line_id")))
            if line is None:
                return  # that console has gone: the call's words are dropped, as locally
            if op == "event":
                event = message["event"]
                if event.get("type") == "call_ended":
                    self.held.drop(str(event.get("call_id")))
                await line.send_event(event)
            else:
                await line.send_audio(_pcm(message["pcm"]))
            return
        call = self._calls.get(str(message.get("call_id")))
        if call is None:
            log.info("desk message %s for a call no longer here", op)
            return
        if op == "connect":
            worker, line_id = str(message["worker"]), str(message["line_id"])
            self.consoles.join(str(message["call_id"]), worker)
            await put_through(call, RemoteLine(self, worker, line_id, str(message["name"])))
        elif op == "mic":
            await call.from_human(_pcm(message["pcm"]))
        elif op == "hand_back":
            self.consoles.drop(str(message["call_id"]))
            await call.hand_back()
        elif op == "end":
            self.consoles.drop(str(message["call_id"]))
            await call.end_by_human()

    async def keep(self) -> None:
        """Every `alive_every_s`: tells each joined worker this side is there, lets go of the
        calls whose other side has gone quiet, and undoes pickups never put through."""
        while True:
            await asyncio.sleep(self.alive_every_s)
            try:
                await self._let_go_of_lost()
                for watch, side in ((self.consoles, "call"), (self.held, "line")):
                    for call_id, peer in watch.joined():
                        alive = {"op": "alive", "call_id": call_id, "side": side}
                        await self.send(peer.worker, {**alive, "worker": self.worker_id})
                await self._undo_pickups_never_put_through()
            except Exception:  # the database may be away for a moment: try again next time
                log.exception("desk: keeping calls joined across workers failed")

    async def unclaim(self, call_id: str, picked_at: float) -> None:
        """A pickup nobody was put through to is undone: the call waits again, in its place."""
        await self._store.sql_execute(
            "UPDATE desk_queue SET human = NULL, human_worker = NULL, line_id = NULL,"
            " picked_at = NULL WHERE call_id = ? AND picked_at = ?",
            (call_id, picked_at),
        )
        await self._channels.send(DESK_CHANNEL, "changed")

    async def _undo_pickups_never_put_through(self) -> None:
        """Undoes a pickup of one of this worker's calls that no `connect` followed (the
        console's worker died between its claim and its message to this worker) once seen
        for `lost_after_s`: else the row names a person nobody talks to, no console may pick
        the caller up, and they hold until the call's time limit."""
        waiting = {c for c in self._calls if c not in self.put_through_here}
        waiting = {c for c in waiting if c not in self.consoles}
        seen, self._claims, now = self._claims, {}, time.monotonic()
        if not waiting:
            return
        rows = await self._store.sql_fetch(
            "SELECT call_id, picked_at FROM desk_queue WHERE worker_id = ? AND human IS NOT NULL",
            (self.worker_id,),
        )
        for row in rows:
            call_id, picked_at = str(row["call_id"]), float(row["picked_at"])
            first = seen.get(call_id)
            if call_id not in waiting:
                continue
            if first is None or first[0] != picked_at:
                self._claims[call_id] = (picked_at, now)  # seen for the first time
            elif now - first[1] < self.consoles.lost_after_s:
                self._claims[call_id] = first
            else:
                log.warning("call %s: picked up but never put through: it waits again", call_id)
                await self.unclaim(call_id, picked_at)

    async def _let_go_of_lost(self) -> None:
        for call_id, peer in self.consoles.lost():
            log.warning("call %s: the console on %s is gone; the agent takes it back",
                        call_id, peer.worker)  # fmt: skip
            call = self._calls.get(call_id)
            if call is not None:
                await call.hand_back()
        for call_id, peer in self.held.lost():
            log.warning("call %s: its worker %s is gone; the console is told", call_id, peer.worker)
            if peer.line is not None:
                await peer.line.send_event({"type": "call_ended", "call_id": call_id})

    async def _on_peer(self, op: str, message: dict[str, Any]) -> None:
        """The other side of a joined call is there ("alive"), or has no such call ("gone")."""
        call_id, worker = str(message.get("call_id")), str(message.get("worker"))
        if op == "gone":
            held = self.held.drop(call_id)
            if held is not None and held.line is not None:
                await held.line.send_event({"type": "call_ended", "call_id": call_id})
            call = self._calls.get(call_id)
            if self.consoles.drop(call_id) is not None and call is not None:
                await call.hand_back()  # the person's side let go: the agent takes it back
            return
        watch = self.consoles if message.get("side") == "line" else self.held
        if not watch.heard(call_id, worker):
            # A side this worker has let go of (handed back, ended, or thought lost): the
            # other one must let go too, or it would keep a console on a call no one is on.
            await self.send(worker, {"op": "gone", "call_id": call_id, "worker": self.worker_id})


def _pcm(data: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data), dtype="<i2").astype(np.int16)


class RemoteLine:
    """A console on another worker, as the call's worker sees it (`HumanLine`)."""

    def __init__(self, joined: JoinedCalls, worker_id: str, line_id: str, name: str) -> None:
        self._joined, self._worker, self._line_id = joined, worker_id, line_id
        self.name = name

    async def send_audio(self, samples: np.ndarray) -> None:
        message = {"op": "audio", "line_id": self._line_id}
        await self._joined.send_audio(self._worker, message, samples)

    async def send_event(self, event: dict[str, Any]) -> None:
        await self._joined.send(
            self._worker, {"op": "event", "line_id": self._line_id, "event": event}
        )


class RemoteCall:
    """A call on another worker, as the console's worker sees it (`HeldCall`)."""

    def __init__(self, joined: JoinedCalls, worker_id: str, call_id: str) -> None:
        self._joined, self._worker, self.call_id = joined, worker_id, call_id

    async def from_human(self, samples: np.ndarray) -> None:
        message = {"op": "mic", "call_id": self.call_id}
        await self._joined.send_audio(self._worker, message, samples)

    async def hand_back(self) -> None:
        self._joined.held.drop(self.call_id)
        await self._joined.send(self._worker, {"op": "hand_back", "call_id": self.call_id})

    async def end_by_human(self) -> None:
        self._joined.held.drop(self.call_id)
        await self._joined.send(self._worker, {"op": "end", "call_id": self.call_id})
