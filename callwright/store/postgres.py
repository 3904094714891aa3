"""PostgreSQL call store, for operators running several workers against one database.

Same contract as the SQLite store (`callwright.store.sqlite`): every write commits before its
coroutine returns, writes may race ahead of `start_call`, `start_call` on an existing id raises
`CallExistsError`, `end_call` on an unknown one `UnknownCallError`. It uses psycopg 3's async
driver with a small connection pool, so the event loop never blocks on the database.

The schema is `schema.sql`, the same file SQLite applies (it is kept to portable SQL). Workers
starting together serialize the schema step on an advisory lock, since concurrent
`CREATE TABLE IF NOT EXISTS` can still collide in PostgreSQL's catalogs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

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
from callwright.store.sqlite import (
    CallExistsError,
    StoreClosedError,
    StoreError,
    UnknownCallError,
)

_SCHEMA_LOCK = 0x63616C6C  # any constant shared by every worker: "call"
# The first key of `sql_transaction`'s locks (the second is the hash of their name): two-key
# advisory locks are a key space of their own, apart from the schema's and a call's events'.
_NAMED_LOCKS = 0x6C6F636B  # "lock"
_INSERT_CALL_ONCE = q.INSERT_CALL + " ON CONFLICT (call_id) DO NOTHING"


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresCallStore:
    """A `CallStore` in a PostgreSQL database.

    Prefer `await PostgresCallStore.open(dsn)`, or `async with PostgresCallStore(dsn):`.

    Args:
        dsn: a libpq connection string or URL, e.g. "postgresql://callwright@db:5432/calls".
        max_connections: pool size: call writes of a busy worker (tens of calls, each
            recording) queue for these; the heartbeat has a connection of its own.
    """

    def __init__(self, dsn: str, max_connections: int = 10) -> None:
        self._dsn = dsn
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=max_connections,
            open=False,
            kwargs={"autocommit": False},
        )
        self._opened = False
        self._closed = False
        self._worker_id: str | None = None  # set by register_worker; tags new calls
        self._beat_conn: AsyncConnection[Any] | None = None
        self._beat_lock = asyncio.Lock()

    @classmethod
    async def open(cls, dsn: str, max_connections: int = 10) -> PostgresCallStore:
        """Connects and applies the schema."""
        store = cls(dsn, max_connections)
        try:
            await store.connect()
        except BaseException:
            await store.close()
            raise
        return store

    async def connect(self) -> None:
        """Opens the pool and applies the schema; does nothing if already open."""
        if self._closed:
            raise StoreClosedError("call store is closed")
        if self._opened:
            return
        await self._pool.open(wait=True, timeout=15.0)
        self._opened = True
        await self._apply_schema()

    # Generic SQL for tables kept beside the calls (see `callwright.store.access`).
    dialect = "postgresql"

    @property
    def dsn(self) -> str:
        """The connection string (for connections of their own: `store.pg_notify`)."""
        return self._dsn

    @property
    def worker_id(self) -> str | None:
        """This worker's id, once `register_worker` has run."""
        return self._worker_id

    async def sql_execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Runs one write statement (`?` placeholders) and commits; returns the rows changed."""
        return await self._execute(sql, params)

    async def sql_fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Runs one query (`?` placeholders); rows as dicts."""
        return await self._fetch(sql, params)

    async def sql_transaction(self, lock: str, steps: Sequence[q.SqlStep]) -> list[int]:
        """Runs write statements (`?` placeholders) in one transaction, holding the advisory
        lock named `lock` from before the first: every worker's transaction under the same name
        waits for this one to commit, and each statement (read committed) sees what the ones
        before it committed, so a count and the write it allows are one step across workers.
        A statement that changes no rows ends the transaction (the ones after it depend on it;
        what ran is committed). Returns the row counts of those that ran."""
        self._check_open()
        await self.connect()
        counts: list[int] = []
        async with self._pool.connection() as conn:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_NAMED_LOCKS, lock)
            )
            for sql, params in steps:
                counts.append((await conn.execute(_pg(sql), params)).rowcount)
                if counts[-1] == 0:
                    break
        return counts

    async def sql_script(self, ddl: str) -> None:
        """Applies idempotent DDL, serialized across workers like the schema."""
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            await conn.execute(ddl)

    async def __aenter__(self) -> PostgresCallStore:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _apply_schema(self) -> None:
        ddl = resources.files("callwright.store").joinpath("schema.sql").read_text("utf-8")
        async with self._pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            exists = await (await conn.execute("SELECT to_regclass('schema_version')")).fetchone()
            if exists is not None and exists[0] is not None:
                row = await (
                    await conn.execute("SELECT MAX(version) FROM schema_version")
                ).fetchone()
                current = row[0] if row else None
                if current is not None and current > q.SCHEMA_VERSION:
                    raise StoreError(
                        f"database schema version {current} is newer than this callwright"
                        f" ({q.SCHEMA_VERSION}); upgrade callwright"
                    )
            await conn.execute(ddl)  # no parameters: several statements are allowed
            await conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)"
                " ON CONFLICT (version) DO NOTHING",
                (q.SCHEMA_VERSION, time.time()),
            )

    async def _execute(self, sql: str, params: Sequence[Any]) -> int:
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_pg(sql), params)
            return cursor.rowcount

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_pg(sql), params)
            return await cur.fetchall()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("call store is closed")

    async def start_call(self, record: CallRecord) -> None:
        """Records a new call.

        Raises:
            CallExistsError: a call with this id is already recorded.
        """
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:  # one transaction: the call and its worker
            cursor = await conn.execute(_pg(_INSERT_CALL_ONCE), q.call_params(record))
            if cursor.rowcount == 0:
                raise CallExistsError(f"call {record.call_id!r} is already recorded")
            if self._worker_id is not None:
                await conn.execute(_pg(q.TAG_CALL), (record.call_id, self._worker_id))

    async def add_event(
        self, call_id: str, kind: str, at_ms: float, data: Mapping[str, Any]
    ) -> None:
        """Appends an event; its seq is the call's next number, starting at 0."""
        params = (call_id, kind, at_ms, q.dumps(data), call_id)
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:
            # Concurrent appends to one call would read the same MAX(seq): serialize per call.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (call_id,))
            await conn.execute(_pg(q.INSERT_EVENT), params)

    async def rewrite_events(
        self, call_id: str, rewrite: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> int:
        """Stores each event's data as `rewrite` returns it, where it changed."""
        rows = await self._fetch(q.SELECT_EVENTS, (call_id,))
        updates = q.event_updates(call_id, rows, rewrite)
        for params in updates:
            await self._execute(q.UPDATE_EVENT_DATA, params)
        return len(updates)

    async def add_utterance(self, call_id: str, utterance: Utterance) -> None:
        """Stores a transcript line; saving the same index again replaces it."""
        await self._execute(q.UPSERT_UTTERANCE, q.utterance_params(call_id, utterance))

    async def add_raw_utterance(self, call_id: str, utterance: Utterance) -> None:
        """Keeps the unredacted line; saving the same index again replaces it."""
        params = (call_id, utterance.index, utterance.role, utterance.text)
        await self._execute(q.UPSERT_RAW_UTTERANCE, params)

    async def get_raw_utterances(self, call_id: str) -> list[Utterance]:
        """The unredacted transcript, if it was kept and not yet purged."""
        rows = await self._fetch(q.SELECT_RAW_UTTERANCES, (call_id,))
        return [Utterance(r["idx"], r["role"], r["text"]) for r in rows]

    async def add_timeline(self, call_id: str, timeline: TurnTimeline) -> None:
        """Stores a turn's timeline; saving the same turn again replaces it."""
        await self._execute(q.UPSERT_TIMELINE, q.timeline_params(call_id, timeline))

    async def set_usage(self, call_id: str, usage: Usage) -> None:
        """Stores the call's usage totals so far."""
        await self._execute(q.UPSERT_USAGE, q.usage_params(call_id, usage))

    async def add_recording_chunk(
        self, call_id: str, seq: int, start_ms: float, sample_rate: int, pcm: bytes
    ) -> None:
        """Stores one piece of the stereo recording."""
        params = (call_id, seq, start_ms, sample_rate, bytes(pcm))
        await self._execute(q.UPSERT_RECORDING_CHUNK, params)

    async def get_recording(self, call_id: str) -> Recording | None:
        """The call's recording, chunks joined, or None if it has none."""
        rows = await self._fetch(q.SELECT_RECORDING, (call_id,))
        if not rows:
            return None
        return Recording(rows[0]["sample_rate"], b"".join(bytes(r["pcm"]) for r in rows))

    async def update_call_details(self, record: CallRecord) -> None:
        """Sets a recorded call's caller and parameters (see `CallStore`)."""
        if await self._execute(q.UPDATE_CALL_DETAILS, q.call_details_params(record)) == 0:
            raise UnknownCallError(f"no call {record.call_id!r} to update")

    async def end_call(self, call_id: str, outcome: str, end_reason: str) -> None:
        """Marks a call "ended" now, with its outcome and reason.

        Raises:
            UnknownCallError: no call with this id is recorded.
        """
        if await self._execute(q.END_CALL, (time.time(), outcome, end_reason, call_id)) == 0:
            raise UnknownCallError(f"no call {call_id!r} to end")

    async def get_call(self, call_id: str) -> CallDetail | None:
        """Returns the call with its transcript, events and timelines in order, or None."""
        self._check_open()
        await self.connect()
        key = (call_id,)
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            # One snapshot for the whole read, as SQLite's read transaction gives.
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

            async def rows(sql: str) -> list[dict[str, Any]]:
                await cur.execute(_pg(sql), key)
                return await cur.fetchall()

            found = await rows(q.SELECT_CALL)
            if not found:
                return None
            utterances = await rows(q.SELECT_UTTERANCES)
            events = await rows(q.SELECT_EVENTS)
            timelines = await rows(q.SELECT_TIMELINES)
            usage = await rows(q.SELECT_USAGE)
            recording = await rows(q.HAS_RECORDING)
        return CallDetail(
            record=q.record_from(found[0]),
            utterances=[q.utterance_from(u) for u in utterances],
            events=[q.event_from(e) for e in events],
            timelines=[q.timeline_from(t) for t in timelines],
            usage=q.usage_from(usage[0] if usage else None),
            has_recording=bool(recording),
        )

    async def list_calls(self, limit: int = 100) -> list[CallRecord]:
        """Returns up to `limit` calls, newest first."""
        if limit <= 0:
            return []
        return [q.record_from(r) for r in await self._fetch(q.LIST_CALLS, (limit,))]

    async def list_summaries(self, query: CallFilter) -> list[CallSummary]:
        """Calls matching `query`, newest first, with their aggregates."""
        sql, params = q.summaries_query(query)
        return [q.summary_from(r) for r in await self._fetch(sql, params)]

    async def list_timelines(
        self, since: float | None = None, until: float | None = None, finished: bool = False
    ) -> list[TurnTimeline]:
        """Timelines of the calls started in [since, until) (`finished`: of the calls over
        and not refused), oldest call first."""
        sql, params = q.timelines_query(since, until, finished)
        return [q.timeline_from(r) for r in await self._fetch(sql, params)]

    async def purge_before(self, cutoff: float) -> PurgeResult:
        """Deletes raw transcripts and recordings of calls started before `cutoff`."""
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:
            count = await (await conn.execute(_pg(q.COUNT_OLD_RECORDINGS), (cutoff,))).fetchone()
            await conn.execute(_pg(q.PURGE_RECORDINGS), (cutoff,))
            raw = (await conn.execute(_pg(q.PURGE_RAW_UTTERANCES), (cutoff,))).rowcount
        return PurgeResult(raw_utterances=raw, recordings=int(count[0]) if count else 0)

    async def purge_calls_before(self, cutoff: float) -> int:
        """Deletes the whole record of every call started before `cutoff` that is over (one
        transaction)."""
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:
            for statement in q.PURGE_CALL_PARTS:
                await conn.execute(_pg(statement), (cutoff,))
            return (await conn.execute(_pg(q.PURGE_CALLS), (cutoff,))).rowcount

    async def mark_orphans_cut_off(self, stale_after_s: float | None = None) -> int:
        """Marks orphaned "active" calls as "cut_off"; returns how many (see the SQLite store)."""
        now = time.time()
        if stale_after_s is None or self._worker_id is None:
            return await self._execute(q.MARK_ORPHANS, (q.ORPHAN_END_REASON, now))
        params = (q.ORPHAN_END_REASON, now, self._worker_id, now - stale_after_s)
        return await self._execute(q.MARK_STALE_ORPHANS, params)

    async def register_worker(self, worker_id: str) -> int:
        """Records this worker; its calls carry its id; its previous run's calls are cut off."""
        self._worker_id = worker_id
        now = time.time()
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:
            await conn.execute(_pg(q.UPSERT_WORKER), (worker_id, now, now))
            own = (q.ORPHAN_END_REASON, now, worker_id)
            return (await conn.execute(_pg(q.MARK_OWN_ORPHANS), own)).rowcount

    async def heartbeat(self) -> None:
        """Refreshes this worker's heartbeat (nothing before `register_worker`).

        On a connection of its own: with every pooled connection busy writing calls, a
        heartbeat waiting its turn would look like a dead worker to the others, who would
        then cut off its live calls.
        """
        if self._worker_id is None:
            return
        self._check_open()
        async with self._beat_lock:
            if self._beat_conn is None or self._beat_conn.closed:
                self._beat_conn = await AsyncConnection.connect(self._dsn, autocommit=True)
            try:
                now = time.time()  # taken once the connection is ours: the row says now
                await self._beat_conn.execute(_pg(q.HEARTBEAT), (self._worker_id, now, now))
            except Exception:
                await self._beat_conn.close()
                self._beat_conn = None
                raise

    async def retire_worker(self) -> None:
        """Removes this worker's heartbeat row."""
        if self._worker_id is not None:
            await self._execute(q.RETIRE_WORKER, (self._worker_id,))

    async def call_worker(self, call_id: str) -> str | None:
        """The id of the worker that ran the call, if recorded."""
        rows = await self._fetch(q.SELECT_CALL_WORKER, (call_id,))
        return str(rows[0]["worker_id"]) if rows else None

    async def claim_once(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is claimed on this database, until it expires."""
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:
            await conn.execute(_pg(q.PURGE_USED_ONCE), (time.time(),))
            return bool((await conn.execute(_pg(q.CLAIM_ONCE), (key, expires_at))).rowcount)

    async def put_handover(self, key: str, value: str, expires_at: float) -> None:
        """Leaves `value` under `key` until `expires_at` (see `CallStore.put_handover`)."""
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:
            await conn.execute(_pg(q.PURGE_HANDOVERS), (time.time(),))
            await conn.execute(_pg(q.PUT_HANDOVER), (key, value, expires_at))

    async def take_handover(self, key: str) -> str | None:
        """The value under `key`, removed as it is read; None if absent or expired."""
        self._check_open()
        await self.connect()
        async with self._pool.connection() as conn:
            row = await (await conn.execute(_pg(q.TAKE_HANDOVER), (key, time.time()))).fetchone()
        return None if row is None else str(row[0])

    async def close(self) -> None:
        """Waits for the pool's connections to be returned and closes them. Idempotent."""
        if not self._closed:
            self._closed = True
            if self._beat_conn is not None:
                await self._beat_conn.close()
            await self._pool.close()
