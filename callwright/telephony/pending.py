"""Telephony calls announced by a webhook (or our outbound request) whose stream is to come.

`PendingCalls` is the contract. `MemoryPendingCalls` keeps them in this process: one worker.
`SqlPendingCalls` keeps them in the call store's database (`pending.sql`, through the
store's generic SQL, on SQLite or PostgreSQL), so the worker the stream reaches finds the
call's id, caller and parameters whichever worker answered its webhook, and a status
callback reaching a third worker before the stream is kept with the call (and one reaching a
worker that does not run the streaming call is written on the call's record all the same).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any, Protocol

from callwright.store.access import SqlStore


@dataclass(slots=True)
class PendingCall:
    """A call a verified webhook (or our outbound request) announced; its stream is to come.

    Attributes:
        ref: what the stream token names (the CallSid, or our id for an outbound call).
        call_id: the call record's id, chosen now so early status callbacks have a home.
        channel: "twilio" or "telnyx".
        direction: "inbound" or "outbound".
        caller: the other party's number.
        parameters: per-call parameters (also sent as stream `<Parameter>`s).
        call_sid: the platform's id, once known.
        statuses: status callbacks received before the stream started.
    """

    ref: str
    call_id: str
    channel: str
    direction: str
    caller: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    call_sid: str | None = None
    statuses: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)


class PendingCalls(Protocol):
    """Where pending calls are kept until their stream starts (or they end without one)."""

    async def add(self, pending: PendingCall) -> PendingCall:
        """Keeps `pending`; a call already kept under its `ref` wins and is returned."""
        ...

    async def find(self, ref: str | None, call_sid: str | None) -> PendingCall | None:
        """The pending call a stream token (`ref`) or a platform call id names."""
        ...

    async def set_call_sid(self, ref: str, call_sid: str) -> None: ...

    async def add_status(self, ref: str, status: dict[str, Any]) -> None:
        """A status callback that came before the stream."""
        ...

    async def take(self, ref: str) -> PendingCall | None:
        """Removes the pending call (with its statuses) and returns it; None if gone."""
        ...

    async def forget_before(self, cutoff: float) -> None:
        """Drops the calls announced (or streamed) before `cutoff`."""
        ...

    async def streamed(self, call_sid: str, call_id: str, started_at: float) -> None:
        """The call's stream started on this worker (kept after it ends, until forgotten)."""
        ...

    async def find_streamed(self, call_sid: str) -> tuple[str, float] | None:
        """The call id and stream start of a call streamed on any worker, if known."""
        ...


class MemoryPendingCalls:
    """`PendingCalls` in this process's memory (one worker)."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingCall] = {}

    async def add(self, pending: PendingCall) -> PendingCall:
        return self._pending.setdefault(pending.ref, pending)

    async def find(self, ref: str | None, call_sid: str | None) -> PendingCall | None:
        if ref is not None and ref in self._pending:
            return self._pending[ref]
        if call_sid is not None:
            for pending in self._pending.values():
                if call_sid in (pending.call_sid, pending.ref):
                    return pending
        return None

    async def set_call_sid(self, ref: str, call_sid: str) -> None:
        if ref in self._pending:
            self._pending[ref].call_sid = call_sid

    async def add_status(self, ref: str, status: dict[str, Any]) -> None:
        if ref in self._pending:
            self._pending[ref].statuses.append(status)

    async def take(self, ref: str) -> PendingCall | None:
        return self._pending.pop(ref, None)

    async def forget_before(self, cutoff: float) -> None:
        for ref in [r for r, p in self._pending.items() if p.created_at < cutoff]:
            del self._pending[ref]

    async def streamed(self, call_sid: str, call_id: str, started_at: float) -> None:
        """Nothing: one worker knows its own streams (`TelephonyCalls`)."""

    async def find_streamed(self, call_sid: str) -> tuple[str, float] | None:
        return None


class SqlPendingCalls:
    """`PendingCalls` in the call store's database, shared by every worker on it.

    Its tables are applied on first use (idempotent, serialized across workers by the store).
    """

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._ready = False

    async def _tables(self) -> None:
        if not self._ready:
            pkg = resources.files("callwright.telephony")
            await self._store.sql_script(pkg.joinpath("pending.sql").read_text("utf-8"))
            self._ready = True

    async def add(self, pending: PendingCall) -> PendingCall:
        await self._tables()
        data = asdict(pending)
        del data["statuses"]  # kept as rows of their own: two workers may add them at once
        await self._store.sql_execute(
            "INSERT INTO pending_calls (ref, call_sid, data, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (ref) DO NOTHING",
            (pending.ref, pending.call_sid, json.dumps(data), pending.created_at),
        )
        return await self.find(pending.ref, None) or pending

    async def find(self, ref: str | None, call_sid: str | None) -> PendingCall | None:
        await self._tables()
        rows = await self._store.sql_fetch(
            "SELECT ref, call_sid, data FROM pending_calls WHERE ref = ? OR call_sid = ?"
            " OR ref = ? ORDER BY created_at LIMIT 1",
            (ref, call_sid, call_sid),
        )
        if not rows:
            return None
        return await self._with_statuses(rows[0])

    async def _with_statuses(self, row: dict[str, Any]) -> PendingCall:
        pending = PendingCall(**json.loads(row["data"]))
        pending.call_sid = row["call_sid"]
        statuses = await self._store.sql_fetch(
            "SELECT data FROM pending_statuses WHERE ref = ? ORDER BY at", (pending.ref,)
        )
        pending.statuses = [json.loads(s["data"]) for s in statuses]
        return pending

    async def set_call_sid(self, ref: str, call_sid: str) -> None:
        await self._tables()
        await self._store.sql_execute(
            "UPDATE pending_calls SET call_sid = ? WHERE ref = ?", (call_sid, ref)
        )

    async def add_status(self, ref: str, status: dict[str, Any]) -> None:
        await self._tables()
        await self._store.sql_execute(
            "INSERT INTO pending_statuses (id, ref, at, data) VALUES (?, ?, ?, ?)",
            (uuid.uuid4().hex, ref, time.time(), json.dumps(status)),
        )

    async def take(self, ref: str) -> PendingCall | None:
        await self._tables()
        # One statement deletes and returns: of two workers taking it, only one gets it.
        rows = await self._store.sql_fetch(
            "DELETE FROM pending_calls WHERE ref = ? RETURNING ref, call_sid, data", (ref,)
        )
        if not rows:
            return None
        pending = await self._with_statuses(rows[0])
        await self._store.sql_execute("DELETE FROM pending_statuses WHERE ref = ?", (ref,))
        return pending

    async def forget_before(self, cutoff: float) -> None:
        await self._tables()
        await self._store.sql_execute(
            "DELETE FROM pending_statuses WHERE ref IN"
            " (SELECT ref FROM pending_calls WHERE created_at < ?)",
            (cutoff,),
        )
        await self._store.sql_execute("DELETE FROM pending_calls WHERE created_at < ?", (cutoff,))
        await self._store.sql_execute("DELETE FROM streamed_calls WHERE started_at < ?", (cutoff,))

    async def streamed(self, call_sid: str, call_id: str, started_at: float) -> None:
        await self._tables()
        await self._store.sql_execute(
            "INSERT INTO streamed_calls (call_sid, call_id, started_at) VALUES (?, ?, ?)"
            " ON CONFLICT (call_sid) DO NOTHING",
            (call_sid, call_id, started_at),
        )

    async def find_streamed(self, call_sid: str) -> tuple[str, float] | None:
        await self._tables()
        rows = await self._store.sql_fetch(
            "SELECT call_id, started_at FROM streamed_calls WHERE call_sid = ?", (call_sid,)
        )
        return (str(rows[0]["call_id"]), float(rows[0]["started_at"])) if rows else None
