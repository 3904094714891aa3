"""SQL and row conversion shared by the SQLite and PostgreSQL stores.

Statements use `?` placeholders (SQLite's); the PostgreSQL store rewrites them to `%s`. None of
them contains a literal `?` or `%`, so the rewrite is exact. Rows are read as mappings (column
name to value) in both stores.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from callwright.core.timeline import TurnTimeline
from callwright.store.base import (
    ESCALATION_KINDS,
    CallFilter,
    CallRecord,
    CallSummary,
    StoredEvent,
    Usage,
    Utterance,
)

SCHEMA_VERSION = 4
# One statement of a store's `sql_transaction` and its parameters.
SqlStep = tuple[str, tuple[Any, ...]]
ORPHAN_END_REASON = "worker stopped"

TIMELINE_FIELDS = tuple(TurnTimeline.field_names())
TIMELINE_COLUMNS = (*TIMELINE_FIELDS, "ttfa_ms")
CALL_FIELDS = tuple(
    "call_id channel caller started_at ended_at status outcome end_reason parameters_json".split()
)
CALL_COLUMNS = ", ".join(CALL_FIELDS)
USAGE_FIELDS = ("stt_audio_s", "tts_chars", "llm_prompt_tokens", "llm_completion_tokens")

INSERT_CALL = f"INSERT INTO calls ({CALL_COLUMNS}) VALUES ({', '.join('?' * len(CALL_FIELDS))})"
SELECT_CALL = f"SELECT {CALL_COLUMNS} FROM calls WHERE call_id = ?"
# A call recorded before its stream named it: what the stream said, once it has.
UPDATE_CALL_DETAILS = "UPDATE calls SET caller = ?, parameters_json = ? WHERE call_id = ?"
INSERT_EVENT = """
INSERT INTO call_events (call_id, seq, kind, at_ms, data_json)
SELECT ?, COALESCE(MAX(seq) + 1, 0), ?, ?, ? FROM call_events WHERE call_id = ?
"""
UPSERT_UTTERANCE = """
INSERT INTO utterances (call_id, idx, role, text, interrupted, start_ms, end_ms)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (call_id, idx) DO UPDATE SET role = excluded.role, text = excluded.text,
    interrupted = excluded.interrupted, start_ms = excluded.start_ms, end_ms = excluded.end_ms
"""
UPSERT_RAW_UTTERANCE = """
INSERT INTO raw_utterances (call_id, idx, role, text) VALUES (?, ?, ?, ?)
ON CONFLICT (call_id, idx) DO UPDATE SET role = excluded.role, text = excluded.text
"""
SELECT_RAW_UTTERANCES = "SELECT idx, role, text FROM raw_utterances WHERE call_id = ? ORDER BY idx"
UPSERT_TIMELINE = (
    f"INSERT INTO turn_timelines (call_id, {', '.join(TIMELINE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(TIMELINE_COLUMNS) + 1))}) "
    "ON CONFLICT (call_id, turn_index) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in TIMELINE_COLUMNS if c != "turn_index")
)
UPSERT_USAGE = (
    f"INSERT INTO call_usage (call_id, {', '.join(USAGE_FIELDS)}) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (call_id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in USAGE_FIELDS)
)
SELECT_USAGE = f"SELECT {', '.join(USAGE_FIELDS)} FROM call_usage WHERE call_id = ?"
UPSERT_RECORDING_CHUNK = """
INSERT INTO recording_chunks (call_id, seq, start_ms, sample_rate, pcm) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (call_id, seq) DO UPDATE SET start_ms = excluded.start_ms,
    sample_rate = excluded.sample_rate, pcm = excluded.pcm
"""
SELECT_RECORDING = "SELECT sample_rate, pcm FROM recording_chunks WHERE call_id = ? ORDER BY seq"
HAS_RECORDING = "SELECT 1 FROM recording_chunks WHERE call_id = ? LIMIT 1"
SELECT_UTTERANCES = (
    "SELECT idx, role, text, interrupted, start_ms, end_ms FROM utterances"
    " WHERE call_id = ? ORDER BY idx"
)
SELECT_EVENTS = "SELECT seq, kind, at_ms, data_json FROM call_events WHERE call_id = ? ORDER BY seq"
UPDATE_EVENT_DATA = "UPDATE call_events SET data_json = ? WHERE call_id = ? AND seq = ?"
SELECT_TIMELINES = (
    f"SELECT {', '.join(TIMELINE_FIELDS)} FROM turn_timelines WHERE call_id = ? ORDER BY turn_index"
)
END_CALL = (
    "UPDATE calls SET status = 'ended', ended_at = ?, outcome = ?, end_reason = ? WHERE call_id = ?"
)
LIST_CALLS = f"SELECT {CALL_COLUMNS} FROM calls ORDER BY started_at DESC, call_id DESC LIMIT ?"
# An orphan's end is its last event on the audio timeline, which starts at started_at.
MARK_ORPHANS = """
UPDATE calls SET status = 'cut_off', end_reason = ?, ended_at = COALESCE(
    (SELECT calls.started_at + MAX(e.at_ms) / 1000.0 FROM call_events e
     WHERE e.call_id = calls.call_id), ?)
WHERE status = 'active'
"""
# Per worker: its own calls left active by its previous run, and calls of workers whose
# heartbeat is stale or gone (or of no known worker: written before workers were recorded).
MARK_OWN_ORPHANS = (
    MARK_ORPHANS + " AND call_id IN (SELECT cw.call_id FROM call_workers cw WHERE cw.worker_id = ?)"
)
MARK_STALE_ORPHANS = (
    MARK_ORPHANS
    + """ AND (NOT EXISTS (SELECT 1 FROM call_workers cw WHERE cw.call_id = calls.call_id)
    OR EXISTS (SELECT 1 FROM call_workers cw WHERE cw.call_id = calls.call_id
        AND cw.worker_id <> ? AND NOT EXISTS (SELECT 1 FROM workers w
            WHERE w.worker_id = cw.worker_id AND w.heartbeat_at >= ?)))"""
)
UPSERT_WORKER = """
INSERT INTO workers (worker_id, started_at, heartbeat_at) VALUES (?, ?, ?)
ON CONFLICT (worker_id) DO UPDATE SET started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at
"""
HEARTBEAT = """
INSERT INTO workers (worker_id, started_at, heartbeat_at) VALUES (?, ?, ?)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
"""
RETIRE_WORKER = "DELETE FROM workers WHERE worker_id = ?"
TAG_CALL = (
    "INSERT INTO call_workers (call_id, worker_id) VALUES (?, ?) ON CONFLICT (call_id) DO NOTHING"
)
SELECT_CALL_WORKER = "SELECT worker_id FROM call_workers WHERE call_id = ?"
PURGE_USED_ONCE = "DELETE FROM used_once WHERE expires_at < ?"
PURGE_HANDOVERS = "DELETE FROM handovers WHERE expires_at < ?"
PUT_HANDOVER = (
    "INSERT INTO handovers (key, value, expires_at) VALUES (?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)
TAKE_HANDOVER = "DELETE FROM handovers WHERE key = ? AND expires_at >= ? RETURNING value"
CLAIM_ONCE = "INSERT INTO used_once (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
_OLD_CALLS = "SELECT call_id FROM calls WHERE started_at < ?"
COUNT_OLD_RECORDINGS = (
    f"SELECT COUNT(DISTINCT call_id) AS n FROM recording_chunks WHERE call_id IN ({_OLD_CALLS})"
)
PURGE_RECORDINGS = f"DELETE FROM recording_chunks WHERE call_id IN ({_OLD_CALLS})"
PURGE_RAW_UTTERANCES = f"DELETE FROM raw_utterances WHERE call_id IN ({_OLD_CALLS})"
# Whole records (retention of call records): calls that are over, and everything kept of them.
_OLD_ENDED_CALLS = "SELECT call_id FROM calls WHERE started_at < ? AND status <> 'active'"
_CALL_TABLES = (
    "call_events",
    "utterances",
    "turn_timelines",
    "call_usage",
    "recording_chunks",
    "raw_utterances",
    "call_workers",
)
PURGE_CALL_PARTS = tuple(
    f"DELETE FROM {table} WHERE call_id IN ({_OLD_ENDED_CALLS})" for table in _CALL_TABLES
)
PURGE_CALLS = "DELETE FROM calls WHERE started_at < ? AND status <> 'active'"

_ESCALATION_IN = ", ".join(f"'{kind}'" for kind in ESCALATION_KINDS)
_ESCALATION_EXISTS = (
    f"EXISTS (SELECT 1 FROM call_events e WHERE e.call_id = c.call_id"
    f" AND e.kind IN ({_ESCALATION_IN}))"
)
_SUMMARY_SELECT = f"""
SELECT {", ".join(f"c.{name}" for name in CALL_FIELDS)},
    (SELECT COUNT(*) FROM turn_timelines t
     WHERE t.call_id = c.call_id AND t.turn_index > 0) AS turns,
    (SELECT COUNT(*) FROM utterances u
     WHERE u.call_id = c.call_id AND u.role = 'caller') AS caller_utterances,
    (SELECT MAX(t.ttfa_ms) FROM turn_timelines t WHERE t.call_id = c.call_id) AS max_ttfa_ms,
    (SELECT MIN(e.at_ms) FROM call_events e
     WHERE e.call_id = c.call_id AND e.kind IN ({_ESCALATION_IN})) AS escalated_at_ms,
    (SELECT MAX(e.at_ms) FROM call_events e WHERE e.call_id = c.call_id) AS last_event_ms,
    {", ".join(f"COALESCE(us.{f}, 0) AS {f}" for f in USAGE_FIELDS)}
FROM calls c LEFT JOIN call_usage us ON us.call_id = c.call_id
"""


def summaries_query(query: CallFilter) -> tuple[str, tuple[Any, ...]]:
    """The SELECT for `list_summaries` and its parameters."""
    where: list[str] = []
    params: list[Any] = []
    if query.outcome is not None:
        where.append("c.outcome = ?")
        params.append(query.outcome)
    if query.status is not None:
        where.append("c.status = ?")
        params.append(query.status)
    if query.since is not None:
        where.append("c.started_at >= ?")
        params.append(query.since)
    if query.until is not None:
        where.append("c.started_at < ?")
        params.append(query.until)
    if query.escalated is not None:
        where.append(_ESCALATION_EXISTS if query.escalated else f"NOT {_ESCALATION_EXISTS}")
    if query.slow_ms is not None:
        where.append(
            "EXISTS (SELECT 1 FROM turn_timelines t WHERE t.call_id = c.call_id AND t.ttfa_ms >= ?)"
        )
        params.append(query.slow_ms)
    sql = _SUMMARY_SELECT
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY c.started_at DESC, c.call_id DESC LIMIT ?"
    params.append(max(0, query.limit))
    return sql, tuple(params)


def timelines_query(
    since: float | None, until: float | None, finished: bool = False
) -> tuple[str, tuple[Any, ...]]:
    """The SELECT for `list_timelines` and its parameters."""
    sql = (
        f"SELECT {', '.join(f't.{f}' for f in TIMELINE_FIELDS)} FROM turn_timelines t"
        " JOIN calls c ON c.call_id = t.call_id WHERE 1 = 1"
    )
    if finished:  # the calls the KPIs describe: over, and not refused before they began
        sql += " AND c.status IN ('ended', 'cut_off') AND COALESCE(c.outcome, '') <> 'rejected'"
    params: list[Any] = []
    if since is not None:
        sql += " AND c.started_at >= ?"
        params.append(since)
    if until is not None:
        sql += " AND c.started_at < ?"
        params.append(until)
    return sql + " ORDER BY c.started_at, t.call_id, t.turn_index", tuple(params)


def call_details_params(record: CallRecord) -> tuple[Any, ...]:
    return (record.caller, dumps(record.parameters), record.call_id)


def call_params(record: CallRecord) -> tuple[Any, ...]:
    values = {
        "call_id": record.call_id,
        "channel": record.channel,
        "caller": record.caller,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "status": record.status,
        "outcome": record.outcome,
        "end_reason": record.end_reason,
        "parameters_json": dumps(record.parameters),
    }
    return tuple(values[name] for name in CALL_FIELDS)


def utterance_params(call_id: str, u: Utterance) -> tuple[Any, ...]:
    return (call_id, u.index, u.role, u.text, int(u.interrupted), u.start_ms, u.end_ms)


def timeline_params(call_id: str, timeline: TurnTimeline) -> tuple[Any, ...]:
    # Snapshot now: the timeline keeps being marked while the write waits for the database.
    values = timeline.to_dict()
    for flag in ("speculative_hit", "interrupted"):
        values[flag] = None if values[flag] is None else int(cast(bool, values[flag]))
    return (call_id, *(values[c] for c in TIMELINE_COLUMNS))


def usage_params(call_id: str, usage: Usage) -> tuple[Any, ...]:
    return (call_id, *(getattr(usage, f) for f in USAGE_FIELDS))


def record_from(row: Mapping[str, Any]) -> CallRecord:
    values = {key: row[key] for key in CALL_FIELDS if key != "parameters_json"}
    return CallRecord(**values, parameters=loads(row["parameters_json"]))


def utterance_from(row: Mapping[str, Any]) -> Utterance:
    return Utterance(
        row["idx"],
        row["role"],
        row["text"],
        bool(row["interrupted"]),
        row["start_ms"],
        row["end_ms"],
    )


def event_from(row: Mapping[str, Any]) -> StoredEvent:
    return StoredEvent(row["seq"], row["kind"], row["at_ms"], loads(row["data_json"]))


def timeline_from(row: Mapping[str, Any]) -> TurnTimeline:
    values = {name: row[name] for name in TIMELINE_FIELDS}
    hit = values["speculative_hit"]
    values["speculative_hit"] = None if hit is None else bool(hit)
    values["interrupted"] = bool(values["interrupted"])
    return TurnTimeline(**values)


def usage_from(row: Mapping[str, Any] | None) -> Usage:
    if row is None:
        return Usage()
    return Usage(
        stt_audio_s=float(row["stt_audio_s"]),
        tts_chars=int(row["tts_chars"]),
        llm_prompt_tokens=int(row["llm_prompt_tokens"]),
        llm_completion_tokens=int(row["llm_completion_tokens"]),
    )


def summary_from(row: Mapping[str, Any]) -> CallSummary:
    return CallSummary(
        record=record_from(row),
        turns=int(row["turns"]),
        caller_utterances=int(row["caller_utterances"]),
        max_ttfa_ms=row["max_ttfa_ms"],
        escalated_at_ms=row["escalated_at_ms"],
        last_event_ms=row["last_event_ms"],
        usage=usage_from(row),
    )


def event_updates(
    call_id: str,
    rows: Iterable[Mapping[str, Any]],
    rewrite: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[tuple[str, str, int]]:
    """`UPDATE_EVENT_DATA` parameters for the events (`SELECT_EVENTS` rows) that `rewrite`
    changes."""
    updates = []
    for row in rows:
        data = json.loads(row["data_json"])
        new = rewrite(data)
        if new != data:
            updates.append((dumps(new), call_id, int(row["seq"])))
    return updates


def dumps(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"), default=_jsonable)


def loads(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(text))


def _jsonable(value: object) -> object:
    # A stray value (numpy scalar, enum, path) must not cost the whole event: numpy values
    # become plain numbers/lists, anything else its string form.
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return str(value)
