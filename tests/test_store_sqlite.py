"""Tests of the embedded SQLite call store."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callwright.core.timeline import TurnTimeline
from callwright.store.base import CallRecord, CallStore, Utterance
from callwright.store.sqlite import (
    ORPHAN_END_REASON,
    SCHEMA_VERSION,
    CallExistsError,
    SqliteCallStore,
    StoreClosedError,
    StoreError,
    UnknownCallError,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _record(call_id: str, started_at: float = 1_700_000_000.0) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        channel="websocket",
        caller="+15550100",
        started_at=started_at,
        parameters={"lang": "en", "flow": "booking"},
    )


def _sqlite_query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
async def store() -> AsyncIterator[SqliteCallStore]:
    s = await SqliteCallStore.open(":memory:")
    yield s
    await s.close()


async def test_satisfies_protocol(store: SqliteCallStore) -> None:
    as_protocol: CallStore = store
    assert await as_protocol.list_calls() == []


async def test_round_trip(store: SqliteCallStore) -> None:
    await store.start_call(_record("c1"))
    await store.add_event("c1", "call_started", 0.0, {"sample_rate": 16000})
    await store.add_utterance("c1", Utterance(0, "caller", "Hi, I'd like a table.", False, 0, 900))
    await store.add_event("c1", "turn_end", 950.5, {"turn": 0, "nested": {"a": [1, 2]}})
    await store.add_utterance("c1", Utterance(1, "agent", "Sure, for how many?", True, 1200, 1800))
    first = TurnTimeline(0, speech_start_ms=0.0, speech_end_ms=900.0, first_audio_sent_ms=1200.0)
    first.speculative_hit = True
    await store.add_timeline("c1", first)
    await store.add_timeline("c1", TurnTimeline(1, speech_end_ms=3000.0, interrupted=True))
    before_end = time.time()
    await store.end_call("c1", "completed", "caller said goodbye")

    detail = await store.get_call("c1")
    assert detail is not None
    record = detail.record
    assert (record.call_id, record.channel, record.caller) == ("c1", "websocket", "+15550100")
    assert record.started_at == 1_700_000_000.0
    assert record.parameters == {"lang": "en", "flow": "booking"}
    assert (record.status, record.outcome, record.end_reason) == (
        "ended",
        "completed",
        "caller said goodbye",
    )
    assert record.ended_at is not None and before_end <= record.ended_at <= time.time()
    assert detail.utterances == [
        Utterance(0, "caller", "Hi, I'd like a table.", False, 0.0, 900.0),
        Utterance(1, "agent", "Sure, for how many?", True, 1200.0, 1800.0),
    ]
    assert [(e.seq, e.kind, e.at_ms, dict(e.data)) for e in detail.events] == [
        (0, "call_started", 0.0, {"sample_rate": 16000}),
        (1, "turn_end", 950.5, {"turn": 0, "nested": {"a": [1, 2]}}),
    ]
    assert detail.timelines == [first, TurnTimeline(1, speech_end_ms=3000.0, interrupted=True)]
    assert detail.timelines[0].ttfa_ms == 300.0
    assert detail.timelines[1].speculative_hit is None


async def test_get_unknown_call_is_none(store: SqliteCallStore) -> None:
    assert await store.get_call("nope") is None


async def test_concurrent_add_event_gives_contiguous_seqs(store: SqliteCallStore) -> None:
    await store.start_call(_record("a"))
    await store.start_call(_record("b"))
    per_call = 150
    await asyncio.gather(
        *(
            store.add_event(call_id, "tick", float(i), {"i": i})
            for i in range(per_call)
            for call_id in ("a", "b")
        )
    )
    for call_id in ("a", "b"):
        detail = await store.get_call(call_id)
        assert detail is not None
        assert [e.seq for e in detail.events] == list(range(per_call))
        assert sorted(e.data["i"] for e in detail.events) == list(range(per_call))


async def test_writes_before_start_call_are_kept(store: SqliteCallStore) -> None:
    await store.add_event("early", "transport_connected", 0.0, {})
    await store.add_utterance("early", Utterance(0, "caller", "hello?"))
    assert await store.get_call("early") is None
    await store.start_call(_record("early"))
    await store.add_event("early", "call_started", 5.0, {})
    detail = await store.get_call("early")
    assert detail is not None
    assert [(e.seq, e.kind) for e in detail.events] == [
        (0, "transport_connected"),
        (1, "call_started"),
    ]
    assert [u.text for u in detail.utterances] == ["hello?"]


async def test_start_call_twice_raises_and_keeps_original(store: SqliteCallStore) -> None:
    await store.start_call(_record("dup"))
    duplicate = _record("dup")
    duplicate.channel = "twilio"
    with pytest.raises(CallExistsError):
        await store.start_call(duplicate)
    detail = await store.get_call("dup")
    assert detail is not None and detail.record.channel == "websocket"


async def test_failed_write_does_not_disturb_other_calls(store: SqliteCallStore) -> None:
    await store.start_call(_record("ok"))
    with pytest.raises(UnknownCallError):
        await store.end_call("ghost", "completed", "n/a")
    # The store is still usable and nothing was left half-written.
    await store.add_event("ok", "after_error", 1.0, {})
    await store.end_call("ok", "completed", "done")
    detail = await store.get_call("ok")
    assert detail is not None
    assert detail.record.status == "ended"
    assert [e.kind for e in detail.events] == ["after_error"]
    assert [r.call_id for r in await store.list_calls()] == ["ok"]


async def test_timeline_and_utterance_upsert(store: SqliteCallStore) -> None:
    await store.start_call(_record("u"))
    timeline = TurnTimeline(0)
    timeline.mark("speech_end_ms", 500.0)
    await store.add_timeline("u", timeline)
    timeline.mark("first_audio_sent_ms", 812.34)
    timeline.stt_compute_ms = 42.0
    timeline.speculative_hit = False
    await store.add_timeline("u", timeline)
    await store.add_utterance("u", Utterance(0, "agent", "Let me check that for", False))
    await store.add_utterance("u", Utterance(0, "agent", "Let me check", True, 10.0, 20.0))

    detail = await store.get_call("u")
    assert detail is not None
    assert len(detail.timelines) == 1
    saved = detail.timelines[0]
    assert (saved.first_audio_sent_ms, saved.stt_compute_ms) == (812.3, 42.0)
    assert saved.speculative_hit is False
    assert saved.ttfa_ms == 312.3
    assert detail.utterances == [Utterance(0, "agent", "Let me check", True, 10.0, 20.0)]


async def test_timeline_snapshot_taken_at_call_time(store: SqliteCallStore) -> None:
    timeline = TurnTimeline(3, speech_end_ms=1.0)
    await store.start_call(_record("snap"))
    pending = asyncio.ensure_future(store.add_timeline("snap", timeline))
    await asyncio.sleep(0)  # the write is queued; later marks must not leak into it
    timeline.mark("first_audio_sent_ms", 99.0)
    await pending
    detail = await store.get_call("snap")
    assert detail is not None and detail.timelines[0].first_audio_sent_ms is None


async def test_non_json_event_data_is_stringified(store: SqliteCallStore) -> None:
    await store.start_call(_record("j"))
    await store.add_event("j", "odd", 0.0, {"path": Path("/tmp/x"), "ok": 1})
    detail = await store.get_call("j")
    assert detail is not None and dict(detail.events[0].data) == {"path": "/tmp/x", "ok": 1}


async def test_list_calls_newest_first_with_limit(store: SqliteCallStore) -> None:
    for call_id, started_at in [("mid", 200.0), ("old", 100.0), ("new", 300.0), ("newest", 400.0)]:
        await store.start_call(_record(call_id, started_at))
    assert [r.call_id for r in await store.list_calls()] == ["newest", "new", "mid", "old"]
    assert [r.call_id for r in await store.list_calls(limit=2)] == ["newest", "new"]
    assert await store.list_calls(limit=0) == []


async def test_mark_orphans_cut_off(store: SqliteCallStore) -> None:
    await store.start_call(_record("with_events", 1000.0))
    await store.add_event("with_events", "a", 1500.0, {})
    await store.add_event("with_events", "b", 2500.0, {})
    await store.start_call(_record("silent", 1000.0))
    await store.start_call(_record("finished", 1000.0))
    await store.end_call("finished", "completed", "bye")
    before = time.time()

    assert await store.mark_orphans_cut_off() == 2

    with_events = await store.get_call("with_events")
    silent = await store.get_call("silent")
    finished = await store.get_call("finished")
    assert with_events is not None and silent is not None and finished is not None
    assert with_events.record.status == "cut_off"
    assert with_events.record.ended_at == pytest.approx(1002.5)
    assert with_events.record.end_reason == ORPHAN_END_REASON
    assert silent.record.status == "cut_off"
    assert silent.record.ended_at is not None and silent.record.ended_at >= before
    assert (finished.record.status, finished.record.end_reason) == ("ended", "bye")
    assert await store.mark_orphans_cut_off() == 0


async def test_close_is_idempotent_and_blocks_further_use() -> None:
    s = await SqliteCallStore.open(":memory:")
    await asyncio.gather(s.close(), s.close())
    await s.close()
    with pytest.raises(StoreClosedError):
        await s.list_calls()


async def test_close_flushes_queued_writes(tmp_path: Path) -> None:
    path = tmp_path / "flush.db"
    s = await SqliteCallStore.open(path)
    await s.start_call(_record("q"))
    writes = [asyncio.ensure_future(s.add_event("q", "e", float(i), {})) for i in range(50)]
    await asyncio.sleep(0)  # let every write reach the store thread's queue
    await s.close()
    await asyncio.gather(*writes)
    async with SqliteCallStore(path) as reopened:
        detail = await reopened.get_call("q")
    assert detail is not None and len(detail.events) == 50


async def test_reopen_creates_dirs_and_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "calls.db"
    async with SqliteCallStore(path) as first:
        await first.start_call(_record("persisted"))
    async with SqliteCallStore(path) as second:
        assert [r.call_id for r in await second.list_calls()] == ["persisted"]
    assert _sqlite_query(path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    assert _sqlite_query(path, "PRAGMA journal_mode") == [("wal",)]


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    async with SqliteCallStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer"):
        await SqliteCallStore.open(path)


async def test_timeline_columns_match_dataclass(tmp_path: Path) -> None:
    path = tmp_path / "cols.db"
    async with SqliteCallStore(path):
        pass
    columns = [row[1] for row in _sqlite_query(path, "PRAGMA table_info(turn_timelines)")]
    assert columns == ["call_id", *TurnTimeline.field_names(), "ttfa_ms"]


_CHILD = """
import asyncio, sys
from callwright.core.timeline import TurnTimeline
from callwright.store.base import CallRecord, Utterance
from callwright.store.sqlite import SqliteCallStore

async def main(path):
    store = await SqliteCallStore.open(path)
    await store.start_call(CallRecord("doomed", "twilio", "+15550199", 1000.0, {"k": "v"}))
    await store.add_utterance("doomed", Utterance(0, "caller", "are you there?"))
    await store.add_timeline("doomed", TurnTimeline(0, speech_end_ms=10.0))
    seq = 0
    while True:
        await store.add_event("doomed", "tick", seq * 20.0, {"n": seq})
        print(seq, flush=True)
        seq += 1

asyncio.run(main(sys.argv[1]))
"""


async def test_durable_when_worker_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, str(path), stdout=asyncio.subprocess.PIPE, env=env
    )
    assert child.stdout is not None
    acknowledged = -1
    try:
        async with asyncio.timeout(30):
            while acknowledged < 40:
                line = await child.stdout.readline()
                assert line, "child exited before writing"
                acknowledged = int(line)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL

    assert _sqlite_query(path, "PRAGMA integrity_check") == [("ok",)]
    async with SqliteCallStore(path) as reopened:
        detail = await reopened.get_call("doomed")
        assert detail is not None
        assert detail.record.status == "active"
        assert detail.record.parameters == {"k": "v"}
        assert [u.text for u in detail.utterances] == ["are you there?"]
        assert [t.speech_end_ms for t in detail.timelines] == [10.0]
        # Every acknowledged write is there (possibly one more that committed before the kill).
        seqs = [e.seq for e in detail.events]
        assert len(seqs) > acknowledged
        assert seqs == list(range(len(seqs)))
        assert all(e.data["n"] == e.seq for e in detail.events)

        assert await reopened.mark_orphans_cut_off() == 1
        after = await reopened.get_call("doomed")
    assert after is not None
    assert after.record.status == "cut_off"
    assert after.record.end_reason == ORPHAN_END_REASON
    assert after.record.ended_at == pytest.approx(1000.0 + detail.events[-1].at_ms / 1000.0)
