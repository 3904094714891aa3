"""The handoff desk in PostgreSQL: one queue for every worker of a deployment.

The queue, the people signed in and the average handle time are rows (`desk.sql`), so each
worker reads the same order and the same positions; a pickup is one `UPDATE ... WHERE human
IS NULL`, so two consoles never take the same call. Every change is announced on a NOTIFY
channel all workers listen on, and each worker's consoles then refresh their queue.

A call and the console that picks it up may be on different workers: the caller's stream is
on one, the person's WebSocket on the other. The two then talk through each worker's own
channel (`store/pg_notify.py`): the call's events and 16 kHz audio to the console's worker
(`RemoteLine`), the person's microphone and commands to the call's worker (`RemoteCall`).
Rows of a worker whose heartbeat is stale are ignored: its calls and consoles are gone. While
a person talks to a caller on another worker, each side says every second that it is still
there (`handoff/remote_peers.py`): when one worker dies mid-conversation, the other gives the
call back to the agent, or tells the person the call has ended, within seconds.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

from callwright.handoff.desk import DeskOptions, HeldCall, HumanLine, QueuedCall, wait_estimate
from callwright.handoff.packet import ContextPacket
from callwright.handoff.remote_peers import PeerWatch
from callwright.store.pg_notify import PgChannels, channel_name
from callwright.store.postgres import PostgresCallStore

log = logging.getLogger(__name__)

DESK_CHANNEL = "callwright_desk"
AUDIO_CHUNK = 2400  # samples per message (150 ms at 16 kHz): well under the NOTIFY limit
ALIVE_EVERY_S = 1.0  # how often each side of a call joined across workers says it is there
LOST_AFTER_S = 5.0  # a side not heard from for this long has gone (a NOTIFY takes ms)
_LIVE = "worker_id NOT IN (SELECT worker_id FROM workers WHERE heartbeat_at < ?)"
_POSITION = (
    "SELECT COUNT(*) AS n FROM desk_queue WHERE human IS NULL AND " + _LIVE + " AND seq <= "
    "(SELECT seq FROM desk_queue WHERE call_id = ? AND human IS NULL)"
)


class PostgresDesk:
    """A `Desk` in the PostgreSQL store, shared by every worker on it.

    Prefer `await PostgresDesk.open(store)` (after `store.register_worker`).

    Args:
        store: the PostgreSQL call store (its pool runs the queries).
        worker_id: this worker's id (the store's, by default).
        options: the first handle-time estimate and its smoothing.
        stale_after_s: a worker whose heartbeat is older is dead (`WorkerSettings`).
        alive_every_s: how often a side of a call joined across workers says it is there.
        lost_after_s: a side not heard from for this long has gone.
    """

    def __init__(
        self,
        store: PostgresCallStore,
        worker_id: str | None = None,
        options: DeskOptions | None = None,
        stale_after_s: float = 30.0,
        alive_every_s: float = ALIVE_EVERY_S,
        lost_after_s: float = LOST_AFTER_S,
    ) -> None:
        worker_id = worker_id or store.worker_id
        if not worker_id:
            raise ValueError("the shared desk needs the worker's id (register_worker first)")
        self.store = store
        self.worker_id = worker_id
        self.options = options or DeskOptions()
        self.stale_after_s = stale_after_s
        self._own = channel_name("callwright_w", worker_id)
        self._channels = PgChannels(store.dsn, [DESK_CHANNEL, self._own], self._on_message)
        self._listeners: set[Callable[[], None]] = set()
        self._calls: dict[str, QueuedCall] = {}  # calls of this worker in the desk
        self._lines: dict[str, HumanLine] = {}  # consoles of this worker, by line id
        self._line_ids: dict[int, str] = {}
        self.alive_every_s = alive_every_s
        self._consoles = PeerWatch(lost_after_s)  # this worker's calls, with a person elsewhere
        self._held = PeerWatch(lost_after_s)  # calls elsewhere, held by this worker's consoles
        self._keeping: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, store: PostgresCallStore, **kwargs: Any) -> PostgresDesk:
        """Applies the desk's tables, forgets this worker's previous run, starts listening."""
        desk = cls(store, **kwargs)
        ddl = resources.files("callwright.handoff").joinpath("desk.sql").read_text("utf-8")
        await store.sql_script(ddl)
        await desk._forget_own_rows()
        await desk._channels.start()
        desk._keeping = asyncio.create_task(desk._keep_joined(), name="desk-keep-joined")
        return desk

    async def close(self) -> None:
        """Takes this worker's calls and people off the desk; stops listening."""
        if self._keeping is not None:
            self._keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeping
        try:
            await self._forget_own_rows()
            await self._announce()
        finally:
            await self._channels.close()

    async def _forget_own_rows(self) -> None:
        """This worker's rows (its previous run's, or its own at exit), and dead workers'."""
        stale = "SELECT worker_id FROM workers WHERE heartbeat_at < ?"
        for table in ("desk_queue", "desk_humans"):
            await self.store.sql_execute(
                f"DELETE FROM {table} WHERE worker_id = ? OR worker_id IN ({stale})",
                (self.worker_id, self._live_since()),
            )

    def _live_since(self) -> float:
        return time.time() - self.stale_after_s

    # --- people ------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    async def signed_in(self) -> int:
        sql = "SELECT COUNT(*) AS n FROM desk_humans WHERE " + _LIVE
        return int((await self.store.sql_fetch(sql, (self._live_since(),)))[0]["n"])

    async def sign_in(self, line: HumanLine) -> None:
        line_id = uuid.uuid4().hex
        self._lines[line_id] = line
        self._line_ids[id(line)] = line_id
        await self.store.sql_execute(
            "INSERT INTO desk_humans (line_id, name, worker_id, signed_in_at) VALUES (?, ?, ?, ?)",
            (line_id, line.name, self.worker_id, time.time()),
        )
        await self._announce()

    async def sign_out(self, line: HumanLine) -> None:
        line_id = self._line_ids.pop(id(line), None)
        if line_id is None:
            return
        self._lines.pop(line_id, None)
        await self.store.sql_execute("DELETE FROM desk_humans WHERE line_id = ?", (line_id,))
        await self._announce()

    # --- the queue ---------------------------------------------------------------------

    async def enqueue(self, packet: ContextPacket, call: QueuedCall) -> None:
        self._calls[packet.call_id] = call
        await self.store.sql_execute(
            "INSERT INTO desk_queue (call_id, worker_id, packet, enqueued_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (call_id) DO NOTHING",
            (packet.call_id, self.worker_id, json.dumps(packet.to_dict()), time.time()),
        )
        await self._announce()

    async def position(self, call_id: str) -> int | None:
        rows = await self.store.sql_fetch(_POSITION, (self._live_since(), call_id))
        position = int(rows[0]["n"])
        return position or None

    async def expected_wait_s(self, call_id: str) -> float | None:
        position = await self.position(call_id)
        if position is None:
            return None
        busy_sql = "SELECT COUNT(*) AS n FROM desk_queue WHERE human IS NOT NULL AND " + _LIVE
        busy = (await self.store.sql_fetch(busy_sql, (self._live_since(),)))[0]["n"]
        humans = await self.signed_in()
        return wait_estimate(position, humans, int(busy), await self.handle_time_s())

    async def handle_time_s(self) -> float:
        """The running average of how long a person's calls last (all workers')."""
        rows = await self.store.sql_fetch("SELECT handle_time_s FROM desk_stats WHERE id = 1")
        return float(rows[0]["handle_time_s"]) if rows else self.options.handle_time_s

    async def update_packet(self, packet: ContextPacket) -> None:
        await self.store.sql_execute(
            "UPDATE desk_queue SET packet = ? WHERE call_id = ?",
            (json.dumps(packet.to_dict()), packet.call_id),
        )
        await self._announce()

    async def pick_up(self, call_id: str, line: HumanLine) -> HeldCall | None:
        line_id = self._line_ids.get(id(line), "")
        rows = await self.store.sql_fetch(
            "UPDATE desk_queue SET human = ?, human_worker = ?, line_id = ?, picked_at = ?"
            " WHERE call_id = ? AND human IS NULL AND " + _LIVE + " RETURNING worker_id",
            (line.name, self.worker_id, line_id, time.time(), call_id, self._live_since()),
        )
        if not rows:
            return None
        await self._announce()
        owner = str(rows[0]["worker_id"])
        if owner == self.worker_id and call_id in self._calls:
            call = self._calls[call_id]
            await call.connect(line)
            return call
        connect = {"op": "connect", "call_id": call_id, "line_id": line_id, "name": line.name}
        self._held.join(call_id, owner, line)
        await self._send(owner, {**connect, "worker": self.worker_id})
        return RemoteCall(self, owner, call_id)

    async def leave(self, call_id: str) -> None:
        self._calls.pop(call_id, None)
        self._consoles.drop(call_id)
        rows = await self.store.sql_fetch(
            "DELETE FROM desk_queue WHERE call_id = ? RETURNING picked_at", (call_id,)
        )
        picked_at = rows[0]["picked_at"] if rows else None
        if picked_at is not None:
            await self._measured(time.time() - float(picked_at))
        if rows:
            await self._announce()

    async def _measured(self, handled_s: float) -> None:
        weight, first = self.options.smoothing, self.options.handle_time_s
        await self.store.sql_execute(
            "INSERT INTO desk_stats (id, handle_time_s) VALUES (1, ?) ON CONFLICT (id) DO UPDATE"
            " SET handle_time_s = (1 - ?) * desk_stats.handle_time_s + ? * ?",
            ((1 - weight) * first + weight * handled_s, weight, weight, handled_s),
        )

    async def snapshot(self) -> dict[str, Any]:
        since = self._live_since()
        humans = await self.store.sql_fetch(
            "SELECT name FROM desk_humans WHERE " + _LIVE + " ORDER BY signed_in_at", (since,)
        )
        rows = await self.store.sql_fetch(
            "SELECT call_id, packet, enqueued_at, human FROM desk_queue WHERE "
            + _LIVE
            + " ORDER BY seq",
            (since,),
        )
        now = time.time()
        waiting = [r for r in rows if r["human"] is None]
        return {
            "humans": [str(h["name"]) for h in humans],
            "waiting": [
                {
                    "call_id": r["call_id"],
                    "position": index + 1,
                    "waiting_s": round(now - float(r["enqueued_at"]), 1),
                    "packet": json.loads(r["packet"]),
                }
                for index, r in enumerate(waiting)
            ],
            "active": [
                {"call_id": r["call_id"], "human": r["human"], "packet": json.loads(r["packet"])}
                for r in rows
                if r["human"] is not None
            ],
        }

    # --- messages between workers -------------------------------------------------------

    async def _announce(self) -> None:
        await self._channels.send(DESK_CHANNEL, "changed")

    async def _send(self, worker_id: str, message: dict[str, Any]) -> None:
        await self._channels.send(channel_name("callwright_w", worker_id), json.dumps(message))

    async def _send_audio(
        self, worker_id: str, message: dict[str, Any], samples: np.ndarray
    ) -> None:
        pcm = samples.astype("<i2")
        for start in range(0, pcm.size, AUDIO_CHUNK):
            data = base64.b64encode(pcm[start : start + AUDIO_CHUNK].tobytes()).decode()
            await self._send(worker_id, {**message, "pcm": data})

    async def _on_message(self, channel: str, payload: str) -> None:
        if channel == DESK_CHANNEL or not payload:  # a change, or we may have missed some
            for listener in list(self._listeners):
                listener()
            return
        message = json.loads(payload)
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
                    self._held.drop(str(event.get("call_id")))
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
            self._consoles.join(str(message["call_id"]), worker)
            await call.connect(RemoteLine(self, worker, line_id, str(message["name"])))
        elif op == "mic":
            await call.from_human(_pcm(message["pcm"]))
        elif op == "hand_back":
            self._consoles.drop(str(message["call_id"]))
            await call.hand_back()
        elif op == "end":
            self._consoles.drop(str(message["call_id"]))
            await call.end_by_human()

    # --- both sides of a call joined across workers, kept joined -----------------------

    async def _keep_joined(self) -> None:
        """Every `alive_every_s`: tells each joined worker this side is there, and lets go
        of the calls whose other side has gone quiet."""
        while True:
            await asyncio.sleep(self.alive_every_s)
            try:
                await self._let_go_of_lost()
                for watch, side in ((self._consoles, "call"), (self._held, "line")):
                    for call_id, peer in watch.joined():
                        alive = {"op": "alive", "call_id": call_id, "side": side}
                        await self._send(peer.worker, {**alive, "worker": self.worker_id})
            except Exception:  # the database may be away for a moment: try again next time
                log.exception("desk: keeping calls joined across workers failed")

    async def _let_go_of_lost(self) -> None:
        for call_id, peer in self._consoles.lost():
            log.warning("call %s: the console on %s is gone; the agent takes it back",
                        call_id, peer.worker)  # fmt: skip
            call = self._calls.get(call_id)
            if call is not None:
                await call.hand_back()
        for call_id, peer in self._held.lost():
            log.warning("call %s: its worker %s is gone; the console is told", call_id, peer.worker)
            if peer.line is not None:
                await peer.line.send_event({"type": "call_ended", "call_id": call_id})

    async def _on_peer(self, op: str, message: dict[str, Any]) -> None:
        """The other side of a joined call is there ("alive"), or has no such call ("gone")."""
        call_id, worker = str(message.get("call_id")), str(message.get("worker"))
        if op == "gone":
            held = self._held.drop(call_id)
            if held is not None and held.line is not None:
                await held.line.send_event({"type": "call_ended", "call_id": call_id})
            call = self._calls.get(call_id)
            if self._consoles.drop(call_id) is not None and call is not None:
                await call.hand_back()  # the person's side let go: the agent takes it back
            return
        watch = self._consoles if message.get("side") == "line" else self._held
        if not watch.heard(call_id, worker):
            # A side this worker has let go of (handed back, ended, or thought lost): the
            # other one must let go too, or it would keep a console on a call no one is on.
            await self._send(worker, {"op": "gone", "call_id": call_id, "worker": self.worker_id})


def _pcm(data: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(data), dtype="<i2").astype(np.int16)


class RemoteLine:
    """A console on another worker, as the call's worker sees it (`HumanLine`)."""

    def __init__(self, desk: PostgresDesk, worker_id: str, line_id: str, name: str) -> None:
        self._desk, self._worker, self._line_id = desk, worker_id, line_id
        self.name = name

    async def send_audio(self, samples: np.ndarray) -> None:
        message = {"op": "audio", "line_id": self._line_id}
        await self._desk._send_audio(self._worker, message, samples)

    async def send_event(self, event: dict[str, Any]) -> None:
        await self._desk._send(
            self._worker, {"op": "event", "line_id": self._line_id, "event": event}
        )


class RemoteCall:
    """A call on another worker, as the console's worker sees it (`HeldCall`)."""

    def __init__(self, desk: PostgresDesk, worker_id: str, call_id: str) -> None:
        self._desk, self._worker, self.call_id = desk, worker_id, call_id

    async def from_human(self, samples: np.ndarray) -> None:
        await self._desk._send_audio(self._worker, {"op": "mic", "call_id": self.call_id}, samples)

    async def hand_back(self) -> None:
        self._desk._held.drop(self.call_id)
        await self._desk._send(self._worker, {"op": "hand_back", "call_id": self.call_id})

    async def end_by_human(self) -> None:
        self._desk._held.drop(self.call_id)
        await self._desk._send(self._worker, {"op": "end", "call_id": self.call_id})
