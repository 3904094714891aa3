"""Single outbound calls that calling hours held back, kept in the store until they may go out.

`POST /v1/calls/outbound` outside the callee's calling hours does not drop the call: it is
scheduled for the next permitted moment. The campaign runner (in every worker) places it
then, after the same checks as any dial. A scheduled call moves scheduled → dialing (claimed by
one worker, atomically) → placed / refused / failed; cancelled by an operator before that; one
left `dialing` by a worker that died becomes `unknown` and is never dialled again (the dial may
have gone out), as a campaign's contact does.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from callwright.compliance.tables import SchemaTables

ScheduledStatus = Literal[
    "scheduled", "dialing", "placed", "refused", "failed", "cancelled", "unknown"
]

_COLUMNS = (
    "scheduled_id, to_number, from_number, purpose, parameters_json, status, due_at,"
    " created_at, created_by, call_id, call_sid, outcome, detail"
)


@dataclass(frozen=True, slots=True)
class ScheduledCall:
    """One held-back call.

    Attributes:
        scheduled_id: its id in the API.
        to_number, from_number: E.164.
        purpose: the consent purpose it needs (None: any consent).
        parameters: the call's parameters, as the API was given them.
        status: see the module docstring.
        due_at: epoch seconds; not dialled before.
        created_at: when it was scheduled.
        created_by: the operator or API key that asked for the call.
        call_id, call_sid: once placed.
        outcome: why it ended as it did ("placed", "do_not_call", "no_consent", ...).
        detail: in words.
    """

    scheduled_id: str
    to_number: str
    from_number: str
    purpose: str | None
    parameters: dict[str, str]
    status: ScheduledStatus
    due_at: float
    created_at: float
    created_by: str | None
    call_id: str | None
    call_sid: str | None
    outcome: str | None
    detail: str | None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _scheduled(row: dict[str, Any]) -> ScheduledCall:
    params = json.loads(row.pop("parameters_json"))
    return ScheduledCall(parameters=params, **row)


class ScheduledCalls(SchemaTables):
    """The `scheduled_calls` table in the call store's database."""

    schema_package = "callwright.campaigns"

    async def add(
        self,
        to: str,
        from_: str,
        purpose: str | None,
        parameters: dict[str, str],
        due_at: float,
        created_by: str | None = None,
        detail: str | None = None,
    ) -> ScheduledCall:
        """Schedules one call for `due_at` (numbers already E.164 and checked)."""
        await self._ensure()
        now = time.time()
        call = ScheduledCall(
            uuid.uuid4().hex[:16], to, from_, purpose, dict(parameters), "scheduled", due_at,
            now, created_by, None, None, None, detail,
        )  # fmt: skip
        await self._store.sql_execute(
            f"INSERT INTO scheduled_calls ({_COLUMNS}, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (call.scheduled_id, to, from_, purpose, json.dumps(call.parameters), call.status,
             due_at, now, created_by, None, None, None, detail, now),
        )  # fmt: skip
        return call

    async def get(self, scheduled_id: str) -> ScheduledCall | None:
        await self._ensure()
        rows = await self._store.sql_fetch(
            f"SELECT {_COLUMNS} FROM scheduled_calls WHERE scheduled_id = ?", (scheduled_id,)
        )
        return _scheduled(rows[0]) if rows else None

    async def all(self, status: str | None = None, limit: int = 500) -> list[ScheduledCall]:
        """The newest scheduled calls first (of one status, or all)."""
        await self._ensure()
        sql, params = f"SELECT {_COLUMNS} FROM scheduled_calls", tuple[Any, ...]()
        if status is not None:
            sql, params = sql + " WHERE status = ?", (status,)
        rows = await self._store.sql_fetch(sql + " ORDER BY created_at DESC LIMIT ?",
                                           (*params, limit))  # fmt: skip
        return [_scheduled(r) for r in rows]

    async def due(self, now: float, limit: int) -> list[ScheduledCall]:
        await self._ensure()
        rows = await self._store.sql_fetch(
            f"SELECT {_COLUMNS} FROM scheduled_calls WHERE status = 'scheduled' AND due_at <= ?"
            " ORDER BY due_at, scheduled_id LIMIT ?",
            (now, limit),
        )
        return [_scheduled(r) for r in rows]

    async def claim(self, scheduled_id: str, worker_id: str, due_at: float | None = None) -> bool:
        """Takes a due call for one dial; only one worker ever wins it. With `due_at` (what
        `due` listed), not a call another worker moved to later meanwhile."""
        sql = (
            "UPDATE scheduled_calls SET status = 'dialing', claimed_by = ?, updated_at = ?"
            " WHERE scheduled_id = ? AND status = 'scheduled'"
        )
        params: tuple[object, ...] = (worker_id, time.time(), scheduled_id)
        if due_at is not None:
            sql += " AND due_at = ?"
            params += (due_at,)
        changed = await self._store.sql_execute(sql, params)
        return changed > 0

    async def cancel(self, scheduled_id: str) -> bool:
        """Cancels a call not yet dialled; True if it was still scheduled."""
        await self._ensure()
        changed = await self._store.sql_execute(
            "UPDATE scheduled_calls SET status = 'cancelled', outcome = 'cancelled',"
            " updated_at = ? WHERE scheduled_id = ? AND status = 'scheduled'",
            (time.time(), scheduled_id),
        )
        return changed > 0

    async def update(self, scheduled_id: str, status: ScheduledStatus, **values: Any) -> None:
        sets, params = ["status = ?", "updated_at = ?"], [status, time.time()]
        for column in ("due_at", "call_id", "call_sid", "outcome", "detail"):
            if column in values:
                sets.append(f"{column} = ?")
                params.append(values[column])
        await self._store.sql_execute(
            f"UPDATE scheduled_calls SET {', '.join(sets)} WHERE scheduled_id = ?",
            (*params, scheduled_id),
        )

    async def take_dial_turn(self, every_s: float, now: float | None = None) -> bool:
        """True if a held-back call may go out now: at most one every `every_s` seconds across
        every worker on this store (one conditional UPDATE of a shared row, so two workers
        never both win a turn)."""
        await self._ensure()
        now = time.time() if now is None else now
        # A turn taken "in the future" (the clock was set back) does not block for good.
        changed = await self._store.sql_execute(
            "UPDATE scheduled_pace SET last_at = ? WHERE name = 'dial'"
            " AND (last_at <= ? OR last_at > ?)",
            (now, now - every_s, now),
        )
        return changed > 0

    async def orphaned_dials(self, stale_s: float = 120.0) -> int:
        """Calls `dialing` for longer than a dial can take become `unknown`; how many."""
        await self._ensure()
        now = time.time()
        return await self._store.sql_execute(
            "UPDATE scheduled_calls SET status = 'unknown', updated_at = ?, detail = ?"
            " WHERE status = 'dialing' AND updated_at < ?",
            (now, "the worker stopped while dialling; not dialled again", now - stale_s),
        )
