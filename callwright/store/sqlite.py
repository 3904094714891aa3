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
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from callwright.observe.timeline import TurnTimeline
from callwright.store.base import CallDetail, CallRecord, StoredEvent, Utterance

SCHEMA_VERSION = 1
MEMORY_PATH = ":memory:"
ORPHAN_END_REASON = "worker stopped"

_T = TypeVar("_T")
_TIMELINE_FIELDS = tuple(TurnTimeline.field_names())
_TIMELINE_COLUMNS = (*_TIMELINE_FIELDS, "ttfa_ms")
_CALL_FIELDS = (
    "call_id channel caller started_at ended_at status outcome end_reason parameters_json"
).split()
_CALL_COLUMNS = ", ".join(_CALL_FIELDS)
_INSERT_CALL = f"INSERT INTO calls ({_CALL_COLUMNS}) VALUES (:{', :'.join(_CALL_FIELDS)})"
_INSERT_EVENT = """
INSERT INTO call_events (call_id, seq, kind, at_ms, data_json)
SELECT ?, COALESCE(MAX(seq) + 1, 0), ?, ?, ? FROM call_events WHERE call_id = ?
"""
_UPSERT_UTTERANCE = """
INSERT INTO utterances (call_id, idx, role, text, interrupted, start_ms, end_ms)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (call_id, idx) DO UPDATE SET role = excluded.role, text = excluded.text,
    interrupted = excluded.interrupted, start_ms = excluded.start_ms, end_ms = excluded.end_ms
"""
_UPSERT_TIMELINE = (
    f"INSERT INTO turn_timelines (call_id, {', '.join(_TIMELINE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(_TIMELINE_COLUMNS) + 1))}) "
    "ON CONFLICT (call_id, turn_index) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _TIMELINE_COLUMNS if c != "turn_index")
)
_END_CALL = (
    "UPDATE calls SET status = 'ended', ended_at = ?, outcome = ?, end_reason = ? WHERE call_id = ?"
)
_LIST_CALLS = f"SELECT {_CALL_COLUMNS} FROM calls ORDER BY started_at DESC, call_id DESC LIMIT ?"
# An orphan's end is its last event on the audio timeline, which starts at started_at.
_MARK_ORPHANS = """
UPDATE calls SET status = 'cut_off', end_reason = ?, ended_at = COALESCE(
    (SELECT calls.started_at + MAX(e.at_ms) / 1000.0 FROM call_events e
     WHERE e.call_id = calls.call_id), ?)
WHERE status = 'active'
"""


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
        params = {**asdict(record), "parameters_json": _dumps(record.parameters)}

        def write(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                if conn.execute("SELECT 1 FROM calls WHERE call_id = :call_id", params).fetchone():
                    raise CallExistsError(f"call {record.call_id!r} is already recorded")
                conn.execute(_INSERT_CALL, params)

        await self._run(write)

    async def add_event(
        self, call_id: str, kind: str, at_ms: float, data: Mapping[str, Any]
    ) -> None:
        """Appends an event; its seq is the call's next number, starting at 0."""
        # Serialized here so the caller may mutate `data` as soon as this is awaited.
        params = (call_id, kind, at_ms, _dumps(data), call_id)
        await self._run(lambda conn: _write(conn, _INSERT_EVENT, params))

    async def add_utterance(self, call_id: str, utterance: Utterance) -> None:
        """Stores a transcript line; saving the same index again replaces it."""
        u = utterance
        params = (call_id, u.index, u.role, u.text, int(u.interrupted), u.start_ms, u.end_ms)
        await self._run(lambda conn: _write(conn, _UPSERT_UTTERANCE, params))

    async def add_timeline(self, call_id: str, timeline: TurnTimeline) -> None:
        """Stores a turn's timeline; saving the same turn again replaces it."""
        # Snapshot now: the timeline keeps being marked while the write waits for the thread.
        values = timeline.to_dict()
        for flag in ("speculative_hit", "interrupted"):
            values[flag] = None if values[flag] is None else int(cast(bool, values[flag]))
        params = (call_id, *(values[c] for c in _TIMELINE_COLUMNS))
        await self._run(lambda conn: _write(conn, _UPSERT_TIMELINE, params))

    async def end_call(self, call_id: str, outcome: str, end_reason: str) -> None:
        """Marks a call "ended" now, with its outcome and reason.

        Raises:
            UnknownCallError: no call with this id is recorded.
        """
        params = (time.time(), outcome, end_reason, call_id)
        if await self._run(lambda conn: _write(conn, _END_CALL, params)) == 0:
            raise UnknownCallError(f"no call {call_id!r} to end")

    async def get_call(self, call_id: str) -> CallDetail | None:
        """Returns the call with its transcript, events and timelines in order, or None."""
        return await self._run(lambda conn: _read_call(conn, call_id))

    async def list_calls(self, limit: int = 100) -> list[CallRecord]:
        """Returns up to `limit` calls, newest first."""
        if limit <= 0:
            return []
        return await self._run(
            lambda conn: [_record(row) for row in conn.execute(_LIST_CALLS, (limit,))]
        )

    async def mark_orphans_cut_off(self) -> int:
        """Marks every "active" call as "cut_off"; returns how many.

        Meant for worker start-up, before any call begins: every active call in the database is
        taken to be the leftover of a dead worker. The end time is the call's last event if it
        has one, else now.
        """
        params = (ORPHAN_END_REASON, time.time())
        return await self._run(lambda conn: _write(conn, _MARK_ORPHANS, params))

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
        row = conn.execute(f"SELECT {_CALL_COLUMNS} FROM calls WHERE call_id = ?", key).fetchone()
        if row is None:
            return None
        utterances = conn.execute(
            "SELECT idx, role, text, interrupted, start_ms, end_ms FROM utterances"
            " WHERE call_id = ? ORDER BY idx",
            key,
        ).fetchall()
        events = conn.execute(
            "SELECT seq, kind, at_ms, data_json FROM call_events WHERE call_id = ? ORDER BY seq",
            key,
        ).fetchall()
        timelines = conn.execute(
            f"SELECT {', '.join(_TIMELINE_FIELDS)} FROM turn_timelines"
            " WHERE call_id = ? ORDER BY turn_index",
            key,
        ).fetchall()
    return CallDetail(
        record=_record(row),
        utterances=[
            Utterance(u["idx"], u["role"], u["text"], bool(u["interrupted"]), *u[4:])
            for u in utterances
        ],
        events=[StoredEvent(e[0], e[1], e[2], _loads(e["data_json"])) for e in events],
        timelines=[_timeline(t) for t in timelines],
    )


def _record(row: sqlite3.Row) -> CallRecord:
    values = {key: row[key] for key in row.keys() if key != "parameters_json"}
    return CallRecord(**values, parameters=_loads(row["parameters_json"]))


def _timeline(row: sqlite3.Row) -> TurnTimeline:
    values = {name: row[name] for name in _TIMELINE_FIELDS}
    hit = values["speculative_hit"]
    values["speculative_hit"] = None if hit is None else bool(hit)
    values["interrupted"] = bool(values["interrupted"])
    return TurnTimeline(**values)


def _dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"), default=_jsonable)


def _loads(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(text))


def _jsonable(value: object) -> object:
    # A stray value (numpy scalar, enum, path) must not cost the whole event: numpy values
    # become plain numbers/lists, anything else its string form.
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(value)
