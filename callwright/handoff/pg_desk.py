"""The handoff desk in PostgreSQL: one queue for every worker of a deployment.

The queue, the people signed in and the average handle time are rows (`desk.sql`), so each
worker reads the same order and the same positions; a pickup is one `UPDATE ... WHERE human
IS NULL`, so two consoles never take the same call. Every change is announced on a NOTIFY
channel all workers listen on, and each worker's consoles then refresh their queue.

A call and the console that picks it up may be on different workers: the caller's stream is
on one, the person's WebSocket on the other. The two then talk through each worker's own
channel (`handoff/pg_joined.py`). Rows of a worker whose heartbeat is stale are ignored: its
calls and consoles are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from importlib import resources
from typing import Any

from callwright.handoff.desk import (
    DeskOptions,
    HeldCall,
    HumanLine,
    QueuedCall,
    put_through,
    wait_estimate,
)
from callwright.handoff.packet import ContextPacket
from callwright.handoff.pg_joined import DESK_CHANNEL, JoinedCalls, RemoteCall, worker_channel
from callwright.store.pg_notify import PgChannels
from callwright.store.postgres import PostgresCallStore

log = logging.getLogger(__name__)

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
        own = worker_channel(worker_id)
        self._channels = PgChannels(store.dsn, [DESK_CHANNEL, own], self._on_message)
        self._listeners: set[Callable[[], None]] = set()
        self._calls: dict[str, QueuedCall] = {}  # calls of this worker in the desk
        self._lines: dict[str, HumanLine] = {}  # consoles of this worker, by line id
        self._line_ids: dict[int, str] = {}
        self._joined = JoinedCalls(
            store, worker_id, self._channels, self._calls, self._lines, alive_every_s, lost_after_s
        )
        self._keeping: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, store: PostgresCallStore, **kwargs: Any) -> PostgresDesk:
        """Applies the desk's tables, forgets this worker's previous run, starts listening."""
        desk = cls(store, **kwargs)
        ddl = resources.files("callwright.handoff").joinpath("desk.sql").read_text("utf-8")
        await store.sql_script(ddl)
        await desk._forget_own_rows()
        await desk._channels.start()
        desk._keeping = asyncio.create_task(desk._joined.keep(), name="desk-keep-joined")
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
        line_id, picked_at = self._line_ids.get(id(line), ""), time.time()
        rows = await self.store.sql_fetch(
            "UPDATE desk_queue SET human = ?, human_worker = ?, line_id = ?, picked_at = ?"
            " WHERE call_id = ? AND human IS NULL AND " + _LIVE + " RETURNING worker_id",
            (line.name, self.worker_id, line_id, picked_at, call_id, self._live_since()),
        )
        if not rows:
            return None
        await self._announce()
        owner = str(rows[0]["worker_id"])
        if owner == self.worker_id and call_id in self._calls:
            call = self._calls[call_id]
            self._joined.put_through_here.add(call_id)
            return call if await put_through(call, line) else None
        connect = {"op": "connect", "call_id": call_id, "line_id": line_id, "name": line.name}
        self._joined.held.join(call_id, owner, line)
        try:
            await self._joined.send(owner, {**connect, "worker": self.worker_id})
        except Exception:  # the call's worker will never hear of it: the call waits again
            log.exception("call %s: the pickup could not reach its worker %s", call_id, owner)
            self._joined.held.drop(call_id)
            with contextlib.suppress(Exception):  # else the call's worker clears it in seconds
                await self._joined.unclaim(call_id, picked_at)
            return None
        return RemoteCall(self._joined, owner, call_id)

    async def leave(self, call_id: str) -> None:
        self._calls.pop(call_id, None)
        self._joined.put_through_here.discard(call_id)
        self._joined.consoles.drop(call_id)
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

    async def _on_message(self, channel: str, payload: str) -> None:
        if channel == DESK_CHANNEL or not payload:  # a change, or we may have missed some
            for listener in list(self._listeners):
                listener()
            return
        await self._joined.on_message(json.loads(payload))
