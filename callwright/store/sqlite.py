"""Embedded SQLite call store.

All SQLite work runs on one thread owned by the store, which also owns the connection: the
event loop never blocks on disk, and writes are serialized without locks of our own. The
database is in WAL mode with `synchronous=NORMAL` and every write commits before its coroutine
returns, so a worker killed mid-call (even by SIGKILL) leaves every completed write on disk; only
a power loss or OS crash can lose the last few commits.

Writes for a call id that has no record yet are stored rather than rejected: events,
utterances and timelines can race ahead of `start_call`, and they show up in `get_call` once
the record exists. `end_call` on an unknown call raises `UnknownCallError` (there is nothing to
end), and `start_call` on an existing id raises `CallExistsError`. A failed write is rolled back
before the next one runs, so it cannot disturb other calls.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from callwright.core.timeline import TurnTimeline
from callwright.store import sql_common as q
from callwright.store.base import (
    CallDetail,
    CallFilter,
    CallRecord,
    CallSummary,
    PurgeResult,
    Recording,
    Usage,
    Utterance,
)

SCHEMA_VERSION = q.SCHEMA_VERSION
ORPHAN_END_REASON = q.ORPHAN_END_REASON
MEMORY_PATH = ":memory:"

_T = TypeVar("_T")


class StoreError(Exception):
    """Base class of call store errors."""


class StoreClosedError(StoreError):
    """The store was used after `close()`."""


class CallExistsError(StoreError):
    """`start_call` was given a call id that is already recorded."""


class UnknownCallError(StoreError, LookupError):
    """The call id has no record to update."""


class SqliteCallStore:
    """A `CallStore` kept in one SQLite file (or `":memory:"`).

    Constructing the store does no I/O; the file, its parent directories and the schema are
    created on `connect()` (or lazily by the first operation). Prefer `await
    SqliteCallStore.open(path)`, or `async with SqliteCallStore(path) as store:`.

    Args:
        path: database file, or ":memory:" for a throwaway store.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="callwright-sqlite")
        # Only ever touched on the executor thread.
        self._conn: sqlite3.Connection | None = None
        self._close_future: asyncio.Future[None] | None = None
        self._worker_id: str | None = None  # set by register_worker; tags new calls

    @classmethod
    async def open(cls, path: str | Path) -> SqliteCallStore:
        """Creates a store and its schema, ready to use."""
        store = cls(path)
        try:
            await store.connect()
        except BaseException:
            await store.close()
            raise
        return store

    async def connect(self) -> None:
        """Opens the database and applies the schema; does nothing if already open."""
        await self._run(lambda conn: None)

    # Generic SQL for tables kept beside the calls (users, sessions, keys, audit log: see
    # `callwright.store.access`), so they live in the same database as the calls.
    dialect = "sqlite"

    async def sql_execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Runs one write statement in its own transaction; returns the rows it changed."""
        return await self._run(lambda conn: _write(conn, sql, params))

    async def sql_fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Runs one query; rows as dicts."""
        return await self._run(lambda conn: [dict(r) for r in conn.execute(sql, params)])

    async def sql_transaction(self, lock: str, steps: Sequence[q.SqlStep]) -> list[int]:
        """Runs write statements in one transaction that no other writer on the file (in any
        process) interleaves with: `BEGIN IMMEDIATE` takes the database's one write lock up
        front, so `lock` (which names what the statements guard, for the PostgreSQL store) is
        not needed here. A statement that changes no rows ends the transaction (the ones after
        it depend on it; what ran is committed). Returns the row counts of those that ran."""

        def run(conn: sqlite3.Connection) -> list[int]:
            counts: list[int] = []
            with _transaction(conn):
                for sql, params in steps:
                    counts.append(conn.execute(sql, params).rowcount)
                    if counts[-1] == 0:
                        break
            return counts

        return await self._run(run)

    async def sql_script(self, ddl: str) -> None:
        """Applies idempotent DDL (several statements) in one transaction."""

        def apply(conn: sqlite3.Connection) -> None:
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\n{ddl}\nCOMMIT;")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        await self._run(apply)

    async def __aenter__(self) -> SqliteCallStore:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start_call(self, record: CallRecord) -> None:
        """Records a new call.

        Raises:
            CallExistsError: a call with this id is already recorded.
        """
        params = q.call_params(record)
        worker = self._worker_id

        def write(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                if conn.execute(q.SELECT_CALL, (record.call_id,)).fetchone():
                    raise CallExistsError(f"call {record.call_id!r} is already recorded")
                conn.execute(q.INSERT_CALL, params)
                if worker is not None:
                    conn.execute(q.TAG_CALL, (record.call_id, worker))

        await self._run(write)

    async def add_event(
        self, call_id: str, kind: str, at_ms: float, data: Mapping[str, Any]
    ) -> None:
        """Appends an event; its seq is the call's next number, starting at 0."""
        # Serialized here so the caller may mutate `data` as soon as this is awaited.
        params = (call_id, kind, at_ms, q.dumps(data), call_id)
        await self._run(lambda conn: _write(conn, q.INSERT_EVENT, params))

    async def rewrite_events(
        self, call_id: str, rewrite: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        """Stores each event's data as `rewrite` returns it, where it changed."""

        def run(conn: sqlite3.Connection) -> int:
            rows = conn.execute(q.SELECT_EVENTS, (call_id,)).fetchall()
            updates = q.event_updates(call_id, rows, rewrite)  # outside the write transaction
            with _transaction(conn):
                conn.executemany(q.UPDATE_EVENT_DATA, updates)
            return len(updates)

        return await self._run(run)

    async def add_utterance(self, call_id: str, utterance: Utterance) -> None:
        """Stores a transcript line; saving the same index again replaces it."""
        params = q.utterance_params(call_id, utterance)
        await self._run(lambda conn: _write(conn, q.UPSERT_UTTERANCE, params))

    async def add_timeline(self, call_id: str, timeline: TurnTimeline) -> None:
        """Stores a turn's timeline; saving the same turn again replaces it."""
        params = q.timeline_params(call_id, timeline)
        await self._run(lambda conn: _write(conn, q.UPSERT_TIMELINE, params))

    async def update_call_details(self, record: CallRecord) -> None:
        """Sets a recorded call's caller and parameters (see `CallStore`)."""
        params = q.call_details_params(record)
        if await self._run(lambda conn: _write(conn, q.UPDATE_CALL_DETAILS, params)) == 0:
            raise UnknownCallError(f"no call {record.call_id!r} to update")

    async def end_call(self, call_id: str, outcome: str, end_reason: str) -> None:
        """Marks a call "ended" now, with its outcome and reason.

        Raises:
            UnknownCallError: no call with this id is recorded.
        """
        params = (time.time(), outcome, end_reason, call_id)
        if await self._run(lambda conn: _write(conn, q.END_CALL, params)) == 0:
            raise UnknownCallError(f"no call {call_id!r} to end")

    async def get_call(self, call_id: str) -> CallDetail | None:
        """Returns the call with its transcript, events and timelines in order, or None."""
        return await self._run(lambda conn: _read_call(conn, call_id))

    async def list_calls(self, limit: int = 100) -> list[CallRecord]:
        """Returns up to `limit` calls, newest first."""
        if limit <= 0:
            return []
        return await self._run(
            lambda conn: [q.record_from(row) for row in conn.execute(q.LIST_CALLS, (limit,))]
        )

    async def add_raw_utterance(self, call_id: str, utterance: Utterance) -> None:
        """Keeps the unredacted line; saving the same index again replaces it."""
        params = (call_id, utterance.index, utterance.role, utterance.text)
        await self._run(lambda conn: _write(conn, q.UPSERT_RAW_UTTERANCE, params))

    async def get_raw_utterances(self, call_id: str) -> list[Utterance]:
        """The unredacted transcript, if it was kept and not yet purged."""
        rows = await self._run(
            lambda conn: conn.execute(q.SELECT_RAW_UTTERANCES, (call_id,)).fetchall()
        )
        return [Utterance(r["idx"], r["role"], r["text"]) for r in rows]

    async def set_usage(self, call_id: str, usage: Usage) -> None:
        """Stores the call's usage totals so far."""
        params = q.usage_params(call_id, usage)
        await self._run(lambda conn: _write(conn, q.UPSERT_USAGE, params))

    async def add_recording_chunk(
        self, call_id: str, seq: int, start_ms: float, sample_rate: int, pcm: bytes
    ) -> None:
        """Stores one piece of the stereo recording."""
        params = (call_id, seq, start_ms, sample_rate, bytes(pcm))
        await self._run(lambda conn: _write(conn, q.UPSERT_RECORDING_CHUNK, params))

    async def get_recording(self, call_id: str) -> Recording | None:
        """The call's recording, chunks joined, or None if it has none."""
        rows = await self._run(lambda conn: conn.execute(q.SELECT_RECORDING, (call_id,)).fetchall())
        if not rows:
            return None
        return Recording(rows[0]["sample_rate"], b"".join(bytes(r["pcm"]) for r in rows))

    async def list_summaries(self, query: CallFilter) -> list[CallSummary]:
        """Calls matching `query`, newest first, with their aggregates."""
        sql, params = q.summaries_query(query)
        return await self._run(
            lambda conn: [q.summary_from(row) for row in conn.execute(sql, params)]
        )

    async def list_timelines(
        self, since: float | None = None, until: float | None = None, finished: bool = False
    ) -> list[TurnTimeline]:
        """Timelines of the calls started in [since, until) (`finished`: of the calls over
        and not refused), oldest call first."""
        sql, params = q.timelines_query(since, until, finished)
        return await self._run(
            lambda conn: [q.timeline_from(row) for row in conn.execute(sql, params)]
        )

    async def purge_before(self, cutoff: float) -> PurgeResult:
        """Deletes raw transcripts and recordings of calls started before `cutoff`."""

        def purge(conn: sqlite3.Connection) -> PurgeResult:
            with _transaction(conn):
                recordings = conn.execute(q.COUNT_OLD_RECORDINGS, (cutoff,)).fetchone()["n"]
                conn.execute(q.PURGE_RECORDINGS, (cutoff,))
                raw = conn.execute(q.PURGE_RAW_UTTERANCES, (cutoff,)).rowcount
            return PurgeResult(raw_utterances=raw, recordings=int(recordings))

        return await self._run(purge)

    async def purge_calls_before(self, cutoff: float) -> int:
        """Deletes the whole record of every call started before `cutoff` that is over."""

        def purge(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                for statement in q.PURGE_CALL_PARTS:
                    conn.execute(statement, (cutoff,))
                return int(conn.execute(q.PURGE_CALLS, (cutoff,)).rowcount)

        return await self._run(purge)

    async def mark_orphans_cut_off(self, stale_after_s: float | None = None) -> int:
        """Marks orphaned "active" calls as "cut_off"; returns how many.

        Without `stale_after_s` (or before `register_worker`) every active call is taken to be
        the leftover of a dead worker: meant for a lone worker's start-up. With it, only calls
        of workers whose heartbeat is older than that, or gone, and calls of no known worker.
        The end time is the call's last event if it has one, else now.
        """
        now = time.time()
        if stale_after_s is None or self._worker_id is None:
            params: tuple[Any, ...] = (ORPHAN_END_REASON, now)
            return await self._run(lambda conn: _write(conn, q.MARK_ORPHANS, params))
        params = (ORPHAN_END_REASON, now, self._worker_id, now - stale_after_s)
        return await self._run(lambda conn: _write(conn, q.MARK_STALE_ORPHANS, params))

    async def register_worker(self, worker_id: str) -> int:
        """Records this worker; its calls carry its id; its previous run's calls are cut off."""
        self._worker_id = worker_id
        now = time.time()

        def register(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                conn.execute(q.UPSERT_WORKER, (worker_id, now, now))
                own = (ORPHAN_END_REASON, now, worker_id)
                return int(conn.execute(q.MARK_OWN_ORPHANS, own).rowcount)

        return await self._run(register)

    async def heartbeat(self) -> None:
        """Refreshes this worker's heartbeat (nothing before `register_worker`)."""
        if self._worker_id is not None:
            now = time.time()
            params = (self._worker_id, now, now)
            await self._run(lambda conn: _write(conn, q.HEARTBEAT, params))

    async def retire_worker(self) -> None:
        """Removes this worker's heartbeat row."""
        if self._worker_id is not None:
            params = (self._worker_id,)
            await self._run(lambda conn: _write(conn, q.RETIRE_WORKER, params))

    async def call_worker(self, call_id: str) -> str | None:
        """The id of the worker that ran the call, if recorded."""

        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(q.SELECT_CALL_WORKER, (call_id,)).fetchone()
            return None if row is None else str(row["worker_id"])

        return await self._run(read)

    async def claim_once(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is claimed on this database, until it expires."""
        now = time.time()

        def claim(conn: sqlite3.Connection) -> bool:
            with _transaction(conn):
                conn.execute(q.PURGE_USED_ONCE, (now,))
                return bool(conn.execute(q.CLAIM_ONCE, (key, expires_at)).rowcount)

        return await self._run(claim)

    async def put_handover(self, key: str, value: str, expires_at: float) -> None:
        """Leaves `value` under `key` until `expires_at` (see `CallStore.put_handover`)."""
        now = time.time()

        def put(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                conn.execute(q.PURGE_HANDOVERS, (now,))
                conn.execute(q.PUT_HANDOVER, (key, value, expires_at))

        await self._run(put)

    async def take_handover(self, key: str) -> str | None:
        """The value under `key`, removed as it is read; None if absent or expired."""
        now = time.time()

        def take(conn: sqlite3.Connection) -> str | None:
            with _transaction(conn):
                row = conn.execute(q.TAKE_HANDOVER, (key, now)).fetchone()
            return None if row is None else str(row[0])

        return await self._run(take)

    async def close(self) -> None:
        """Waits for pending writes, closes the connection and stops the thread. Idempotent."""
        if self._close_future is None:
            loop = asyncio.get_running_loop()
            self._close_future = loop.run_in_executor(self._executor, self._close_sync)
            # Already-queued jobs still run; the thread exits once the queue is drained.
            self._executor.shutdown(wait=False)
        await asyncio.shield(self._close_future)

    async def _run(self, job: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._close_future is not None:
            raise StoreClosedError(f"call store {self._path!r} is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: job(self._connection()))

    def _connection(self) -> sqlite3.Connection:
        # Runs on the store thread only.
        if self._conn is None:
            if self._path != MEMORY_PATH:
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per write.
            conn = sqlite3.connect(
                self._path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            try:
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                _apply_schema(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@contextmanager
def _transaction(
    conn: sqlite3.Connection, mode: Literal["IMMEDIATE", "DEFERRED"] = "IMMEDIATE"
) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so read-then-write (event seq) is atomic even
    # against another process on the same file.
    conn.execute(f"BEGIN {mode}")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        # Never leave a transaction open for the next job, whichever call it is for.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _write(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> int:
    with _transaction(conn):
        return conn.execute(sql, params).rowcount


def _apply_schema(conn: sqlite3.Connection) -> None:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists:
        current = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        if current is not None and current > SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {current} is newer than this callwright"
                f" ({SCHEMA_VERSION}); upgrade callwright"
            )
    ddl = resources.files("callwright.store").joinpath("schema.sql").read_text("utf-8")
    # One script so a crash mid-way leaves either the whole schema or none of it.
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{ddl}\nCOMMIT;")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    _write(
        conn,
        "INSERT INTO schema_version (version, applied_at) SELECT ?, ?"
        " WHERE NOT EXISTS (SELECT 1 FROM schema_version WHERE version = ?)",
        (SCHEMA_VERSION, time.time(), SCHEMA_VERSION),
    )


def _read_call(conn: sqlite3.Connection, call_id: str) -> CallDetail | None:
    key = (call_id,)
    # One read transaction: a consistent snapshot even if another process is writing.
    with _transaction(conn, "DEFERRED"):
        row = conn.execute(q.SELECT_CALL, key).fetchone()
        if row is None:
            return None
        utterances = conn.execute(q.SELECT_UTTERANCES, key).fetchall()
        events = conn.execute(q.SELECT_EVENTS, key).fetchall()
        timelines = conn.execute(q.SELECT_TIMELINES, key).fetchall()
        usage = conn.execute(q.SELECT_USAGE, key).fetchone()
        has_recording = conn.execute(q.HAS_RECORDING, key).fetchone() is not None
    return CallDetail(
        record=q.record_from(row),
        utterances=[q.utterance_from(u) for u in utterances],
        events=[q.event_from(e) for e in events],
        timelines=[q.timeline_from(t) for t in timelines],
        usage=q.usage_from(usage),
        has_recording=has_recording,
    )
