"""Where webhook events wait: the dead-letter record, and on PostgreSQL the outbox itself.

`WebhookOutbox` is what `WebhookSender` needs. `SqliteOutbox` is one worker's SQLite file
of dead letters (events still in flight live only in that worker's memory). `SqlOutbox`
keeps every event in the shared database from the moment its delivery starts until it is
delivered: an event whose worker stopped mid-delivery (its claim older than the lease), or
that failed every attempt, is claimed and sent again by whichever worker's redelivery runs
next, one worker at a time (the claim is one `UPDATE`), with the same event id.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from callwright.store.access import SqlStore


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event that could not be delivered (yet)."""

    event_id: str
    kind: str
    body: str
    attempts: int
    last_error: str
    delivered_at: float | None


class WebhookOutbox(Protocol):
    """The record behind a `WebhookSender`."""

    async def open(self) -> None: ...

    async def sending(self, event_id: str, kind: str, body: bytes) -> None:
        """This worker starts delivering the event."""
        ...

    async def delivered(self, event_id: str) -> None: ...

    async def dead_letter(
        self, event_id: str, kind: str, body: bytes, error: str, attempts: int
    ) -> None:
        """Every attempt failed (`attempts` more of them): kept for redelivery."""
        ...

    async def claim_undelivered(
        self, limit: int = 100, after: str | None = None
    ) -> list[tuple[str, str, str]]:
        """At most `limit` events to try again (event id, kind, body), oldest first, from
        the one after the event `after` on (a round goes through them a batch at a time);
        now this worker's."""
        ...

    async def dead_letters(self) -> list[DeadLetter]:
        """The dead-letter record, delivered ones included, oldest first."""
        ...

    async def purge_before(self, cutoff: float) -> int:
        """Deletes dead letters that first failed before `cutoff`; returns how many."""
        ...

    async def close(self) -> None: ...


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_dead_letters (
    event_id TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL,
    attempts INTEGER NOT NULL, last_error TEXT NOT NULL, failed_at REAL NOT NULL,
    delivered_at REAL
);
"""
# failed_at stays the first failure: retention counts from there, not from the latest retry.
_UPSERT_LETTER = (
    "INSERT INTO webhook_dead_letters VALUES (?, ?, ?, ?, ?, ?, NULL) "
    "ON CONFLICT(event_id) DO UPDATE SET attempts = attempts + excluded.attempts, "
    "last_error = excluded.last_error"
)


class SqliteOutbox:
    """Dead letters in one worker's SQLite file, on a thread of its own."""

    def __init__(self, db_path: Path | str) -> None:
        self._db_path = str(db_path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhooks-db")
        self._db: sqlite3.Connection | None = None

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        def run() -> list[Any]:
            assert self._db is not None
            return self._db.execute(sql, params).fetchall()

        return await asyncio.get_running_loop().run_in_executor(self._executor, run)

    async def open(self) -> None:
        def connect() -> None:
            if self._db_path != ":memory:":
                Path(self._db_path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._db_path, check_same_thread=False, isolation_level=None)
            db.executescript(_SQLITE_SCHEMA)
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def sending(self, event_id: str, kind: str, body: bytes) -> None:
        """Nothing: in flight, the event lives in the sender's memory only."""

    async def delivered(self, event_id: str) -> None:
        sql = "UPDATE webhook_dead_letters SET delivered_at = ? WHERE event_id = ?"
        await self._run(sql, (time.time(), event_id))

    async def dead_letter(
        self, event_id: str, kind: str, body: bytes, error: str, attempts: int
    ) -> None:
        params = (event_id, kind, body.decode(), attempts, error, time.time())
        await self._run(_UPSERT_LETTER, params)

    async def claim_undelivered(
        self, limit: int = 100, after: str | None = None
    ) -> list[tuple[str, str, str]]:
        rows = await self._run(
            "SELECT event_id, kind, body FROM webhook_dead_letters WHERE delivered_at IS NULL"
            " AND (? IS NULL OR (failed_at, event_id) > ((SELECT failed_at FROM"
            " webhook_dead_letters WHERE event_id = ?), ?)) ORDER BY failed_at, event_id LIMIT ?",
            (after, after, after, limit),
        )
        return [tuple(row) for row in rows]

    async def dead_letters(self) -> list[DeadLetter]:
        rows = await self._run(
            "SELECT event_id, kind, body, attempts, last_error, delivered_at "
            "FROM webhook_dead_letters ORDER BY failed_at"
        )
        return [DeadLetter(*row) for row in rows]

    async def purge_before(self, cutoff: float) -> int:
        def purge() -> int:
            assert self._db is not None
            sql = "DELETE FROM webhook_dead_letters WHERE failed_at < ?"
            return int(self._db.execute(sql, (cutoff,)).rowcount)

        deleted: int = await asyncio.get_running_loop().run_in_executor(self._executor, purge)
        return deleted

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=False)


_OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    event_id TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,                      -- set once every attempt of a round failed
    failed_at DOUBLE PRECISION,           -- the first such failure
    delivered_at DOUBLE PRECISION,
    claimed_by TEXT,                      -- the worker delivering it now
    claimed_at DOUBLE PRECISION
);
"""


class SqlOutbox:
    """Every event in the store's shared database until delivered (several workers).

    Args:
        store: the call store (PostgreSQL; any store with the generic SQL methods works).
        worker_id: this worker's id, written on the events it claims.
        lease_s: an event claimed longer ago than this without an outcome is claimed again
            (its worker stopped mid-delivery); longer than a whole round of attempts.
    """

    def __init__(self, store: SqlStore, worker_id: str, lease_s: float = 300.0) -> None:
        self._store = store
        self._worker_id = worker_id
        self._lease_s = lease_s
        # The sort key of the last row claimed: the next batch starts after it even if that
        # row is gone by then (delivered at the first try, its record is deleted).
        self._last: tuple[float, str] | None = None

    async def open(self) -> None:
        await self._store.sql_script(_OUTBOX_SCHEMA)

    async def sending(self, event_id: str, kind: str, body: bytes) -> None:
        now = time.time()
        await self._store.sql_execute(
            "INSERT INTO webhook_outbox (event_id, kind, body, created_at, claimed_by, claimed_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
            (event_id, kind, body.decode(), now, self._worker_id, now),
        )

    async def delivered(self, event_id: str) -> None:
        # Delivered at the first round: nothing to keep. A dead letter keeps its record.
        await self._store.sql_execute(
            "DELETE FROM webhook_outbox WHERE event_id = ? AND last_error IS NULL", (event_id,)
        )
        await self._store.sql_execute(
            "UPDATE webhook_outbox SET delivered_at = ?, claimed_by = NULL WHERE event_id = ?",
            (time.time(), event_id),
        )

    async def dead_letter(
        self, event_id: str, kind: str, body: bytes, error: str, attempts: int
    ) -> None:
        now = time.time()
        await self._store.sql_execute(
            "INSERT INTO webhook_outbox (event_id, kind, body, created_at, attempts, last_error,"
            " failed_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO UPDATE SET"
            " attempts = webhook_outbox.attempts + excluded.attempts,"
            " last_error = excluded.last_error,"
            " failed_at = COALESCE(webhook_outbox.failed_at, excluded.failed_at),"
            " claimed_by = NULL, claimed_at = NULL",
            (event_id, kind, body.decode(), now, attempts, error, now),
        )

    async def claim_undelivered(
        self, limit: int = 100, after: str | None = None
    ) -> list[tuple[str, str, str]]:
        now = time.time()
        start = self._last if after is not None and self._last and self._last[1] == after else None
        if after is not None and start is None:  # not this outbox's last batch: read its key
            found = await self._store.sql_fetch(
                "SELECT created_at FROM webhook_outbox WHERE event_id = ?", (after,)
            )
            start = (float(found[0]["created_at"]), after) if found else (math.inf, after)
        # A batch is claimed at a time (sent well within the lease); rows another worker is
        # claiming at this instant are skipped, not waited for.
        rows = await self._store.sql_fetch(
            "UPDATE webhook_outbox SET claimed_by = ?, claimed_at = ? WHERE event_id IN"
            " (SELECT event_id FROM webhook_outbox WHERE delivered_at IS NULL"
            " AND (claimed_by IS NULL OR claimed_at < ?) AND (created_at, event_id) > (?, ?)"
            " ORDER BY created_at, event_id LIMIT ? FOR UPDATE SKIP LOCKED)"
            " RETURNING event_id, kind, body, created_at",
            (self._worker_id, now, now - self._lease_s, *(start or (-math.inf, "")), limit),
        )
        rows.sort(key=lambda r: (float(r["created_at"]), str(r["event_id"])))
        if rows:
            self._last = (float(rows[-1]["created_at"]), str(rows[-1]["event_id"]))
        return [(str(r["event_id"]), str(r["kind"]), str(r["body"])) for r in rows]

    async def dead_letters(self) -> list[DeadLetter]:
        rows = await self._store.sql_fetch(
            "SELECT event_id, kind, body, attempts, last_error, delivered_at FROM webhook_outbox"
            " WHERE last_error IS NOT NULL ORDER BY failed_at"
        )
        fields = ("event_id", "kind", "body", "attempts", "last_error", "delivered_at")
        return [DeadLetter(*(r[f] for f in fields)) for r in rows]

    async def purge_before(self, cutoff: float) -> int:
        return await self._store.sql_execute(
            "DELETE FROM webhook_outbox WHERE failed_at < ?", (cutoff,)
        )

    async def close(self) -> None:
        """Nothing to release: the store's pool is the store's."""


def outbox_for(runtime: Any, sqlite_name: str) -> WebhookOutbox:
    """The shared outbox with the PostgreSQL store (`AgentRuntime.store`), else a SQLite
    file of that name in the agent's data folder: the setting that picks the store picks this.
    """
    store = getattr(runtime, "store", None)
    worker_id = getattr(store, "worker_id", None)
    if getattr(store, "dialect", "") == "postgresql" and worker_id:
        return SqlOutbox(store, worker_id)  # type: ignore[arg-type]
    return SqliteOutbox(Path(runtime.data_dir) / sqlite_name)
