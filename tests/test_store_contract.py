"""The call store contract, run against SQLite and a real PostgreSQL server started here."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from callwright.core.timeline import TurnTimeline
from callwright.store.base import CallFilter, CallRecord, CallStore, Usage, Utterance
from callwright.store.sql_common import ORPHAN_END_REASON
from callwright.store.sqlite import (
    CallExistsError,
    StoreClosedError,
    UnknownCallError,
)
from tests.pg_cluster import AnyStore


def _record(
    call_id: str, started_at: float = 1_700_000_000.0, caller: str = "+15550100"
) -> CallRecord:
    return CallRecord(call_id, "websocket", caller, started_at, {"lang": "en"})


async def test_satisfies_protocol(store: AnyStore) -> None:
    as_protocol: CallStore = store
    assert await as_protocol.list_calls() == []


async def test_round_trip(store: AnyStore) -> None:
    await store.start_call(_record("c1"))
    await store.add_event("c1", "call_started", 0.0, {"sample_rate": 16000})
    await store.add_utterance("c1", Utterance(0, "caller", "Hi, a table please.", False, 0, 900))
    await store.add_event("c1", "turn_end", 950.5, {"nested": {"a": [1, 2]}, "é": "ü"})
    await store.add_utterance("c1", Utterance(1, "agent", "For how many?", True, 1200, 1800))
    first = TurnTimeline(1, speech_start_ms=0.0, speech_end_ms=900.0, first_audio_sent_ms=1200.0)
    first.speculative_hit = True
    await store.add_timeline("c1", first)
    before_end = time.time()
    await store.end_call("c1", "completed", "caller said goodbye")

    detail = await store.get_call("c1")
    assert detail is not None
    rec = detail.record
    assert (rec.call_id, rec.caller, rec.started_at) == ("c1", "+15550100", 1_700_000_000.0)
    assert rec.parameters == {"lang": "en"}
    assert (rec.status, rec.outcome) == ("ended", "completed")
    assert rec.ended_at is not None and rec.ended_at >= before_end - 1
    assert [u.text for u in detail.utterances] == ["Hi, a table please.", "For how many?"]
    assert detail.utterances[1].interrupted and detail.utterances[1].end_ms == 1800
    assert [e.seq for e in detail.events] == [0, 1]
    assert detail.events[1].data == {"nested": {"a": [1, 2]}, "é": "ü"}
    assert detail.timelines == [first] and detail.timelines[0].ttfa_ms == 300.0
    assert detail.usage == Usage() and not detail.has_recording


async def test_errors(store: AnyStore) -> None:
    await store.start_call(_record("dup"))
    with pytest.raises(CallExistsError):
        await store.start_call(_record("dup", caller="other"))
    with pytest.raises(UnknownCallError):
        await store.end_call("ghost", "completed", "n/a")
    detail = await store.get_call("dup")
    assert detail is not None and detail.record.caller == "+15550100"
    assert await store.get_call("ghost") is None


async def test_a_call_recorded_early_gets_its_details_later(store: AnyStore) -> None:
    # A phone stream is recorded before its start message says who is calling.
    await store.start_call(CallRecord("early", "twilio", None, 1_700_000_000.0, {"a": "1"}))
    await store.add_event("early", "pause", 10.0, {})
    details = CallRecord("early", "ignored", "+15550100", 1_800_000_000.0, {"stream_sid": "MZ"})
    await store.update_call_details(details)
    detail = await store.get_call("early")
    assert detail is not None
    rec = detail.record
    assert (rec.caller, rec.parameters) == ("+15550100", {"stream_sid": "MZ"})
    # What the early write decided stays: the channel, the start, the status, the events.
    assert (rec.channel, rec.started_at, rec.status) == ("twilio", 1_700_000_000.0, "active")
    assert [e.kind for e in detail.events] == ["pause"]
    with pytest.raises(UnknownCallError):
        await store.update_call_details(_record("never-recorded"))


async def test_concurrent_events_get_contiguous_seqs(store: AnyStore) -> None:
    await store.start_call(_record("busy"))
    await asyncio.gather(*(store.add_event("busy", "tick", float(i), {"i": i}) for i in range(40)))
    detail = await store.get_call("busy")
    assert detail is not None
    assert [e.seq for e in detail.events] == list(range(40))
    assert sorted(e.data["i"] for e in detail.events) == list(range(40))


async def test_events_are_rewritten_in_place_where_they_change(store: AnyStore) -> None:
    await store.start_call(_record("rewrite"))
    await store.add_event("rewrite", "transcript", 1.0, {"text": "Ada Lovelace"})
    await store.add_event("rewrite", "pause", 2.0, {"wait_ms": 400})
    await store.start_call(_record("other"))
    await store.add_event("other", "transcript", 1.0, {"text": "Ada Lovelace"})

    def hide(data: dict[str, Any]) -> dict[str, Any]:
        return {k: ("[NAME]" if v == "Ada Lovelace" else v) for k, v in data.items()}

    assert await store.rewrite_events("rewrite", hide) == 1
    detail, other = await store.get_call("rewrite"), await store.get_call("other")
    assert detail is not None and other is not None
    assert [(e.seq, e.kind, e.data) for e in detail.events] == [
        (0, "transcript", {"text": "[NAME]"}), (1, "pause", {"wait_ms": 400})
    ]  # fmt: skip
    assert other.events[0].data == {"text": "Ada Lovelace"}  # another call's are its own


async def test_timelines_of_finished_calls_leave_out_live_and_refused_ones(
    store: AnyStore,
) -> None:
    for call_id, outcome in (("done", "completed"), ("live", None), ("busy", "rejected")):
        await store.start_call(_record(call_id, started_at=1_800_000_000.0))
        timeline = TurnTimeline(turn_index=1, speech_end_ms=1000.0, first_audio_sent_ms=1400.0)
        await store.add_timeline(call_id, timeline)
        if outcome is not None:
            await store.end_call(call_id, outcome, "")
    everything = await store.list_timelines(since=1_800_000_000.0)
    finished = await store.list_timelines(since=1_800_000_000.0, finished=True)
    assert (len(everything), len(finished)) == (3, 1)


async def test_writes_before_start_call_are_kept(store: AnyStore) -> None:
    await store.add_event("early", "speech_started", 5.0, {})
    await store.add_utterance("early", Utterance(0, "caller", "hello"))
    await store.start_call(_record("early"))
    detail = await store.get_call("early")
    assert detail is not None and [u.text for u in detail.utterances] == ["hello"]


async def test_usage_and_recording(store: AnyStore) -> None:
    await store.start_call(_record("u"))
    await store.set_usage("u", Usage(1.5, 40, 100, 20))
    await store.set_usage("u", Usage(3.25, 80, 200, 30))
    first, second = bytes(range(256)) * 4, b"\x01\x00\xff\x7f" * 100
    await store.add_recording_chunk("u", 0, 0.0, 16000, first)
    await store.add_recording_chunk("u", 1, 32.0, 16000, second)
    detail = await store.get_call("u")
    assert detail is not None
    assert detail.usage == Usage(3.25, 80, 200, 30) and detail.has_recording
    recording = await store.get_recording("u")
    assert recording is not None
    assert (recording.sample_rate, recording.channels, recording.pcm) == (16000, 2, first + second)
    assert await store.get_recording("nothing") is None


async def _seed_summaries(store: AnyStore) -> None:
    base = 1_700_000_000.0
    for i, (outcome, escalate, ttfa) in enumerate(
        [
            ("completed", False, 400.0),
            ("transferred", True, 1500.0),
            ("caller_hung_up", False, None),
        ]
    ):
        call_id = f"s{i}"
        await store.start_call(_record(call_id, base + i * 60))
        await store.add_event(call_id, "speech_started", 100.0, {})
        if escalate:
            await store.add_event(call_id, "escalation", 2500.0, {"reason": "asked for a human"})
        await store.add_event(call_id, "call_ended", 4000.0 + i, {})
        await store.add_timeline(call_id, TurnTimeline(0, first_audio_sent_ms=300.0))
        if ttfa is not None:
            await store.add_utterance(call_id, Utterance(0, "caller", "hi"))
            await store.add_timeline(
                call_id, TurnTimeline(1, speech_end_ms=1000.0, first_audio_sent_ms=1000.0 + ttfa)
            )
        await store.set_usage(call_id, Usage(stt_audio_s=float(i), tts_chars=10 * i))
        await store.end_call(call_id, outcome, "done")


async def test_summaries_and_filters(store: AnyStore) -> None:
    await _seed_summaries(store)
    every = await store.list_summaries(CallFilter())
    assert [s.record.call_id for s in every] == ["s2", "s1", "s0"]
    by_id = {s.record.call_id: s for s in every}
    assert (by_id["s0"].turns, by_id["s0"].caller_utterances, by_id["s0"].max_ttfa_ms) == (
        1,
        1,
        400.0,
    )
    assert by_id["s1"].escalated and by_id["s1"].escalated_at_ms == 2500.0
    assert not by_id["s2"].escalated and by_id["s2"].turns == 0 and by_id["s2"].max_ttfa_ms is None
    assert by_id["s2"].last_event_ms == 4002.0
    assert by_id["s2"].usage == Usage(stt_audio_s=2.0, tts_chars=20)

    async def ids(**kwargs: object) -> list[str]:
        found = await store.list_summaries(CallFilter(**kwargs))  # type: ignore[arg-type]
        return [s.record.call_id for s in found]

    assert await ids(outcome="transferred") == ["s1"]
    assert await ids(escalated=True) == ["s1"]
    assert await ids(escalated=False) == ["s2", "s0"]
    assert await ids(slow_ms=1000.0) == ["s1"]
    assert await ids(since=1_700_000_060.0) == ["s2", "s1"]
    assert await ids(until=1_700_000_060.0) == ["s0"]
    assert await ids(status="ended", limit=1) == ["s2"]
    assert await ids(status="active") == []
    timelines = await store.list_timelines(since=1_700_000_000.0, until=1_700_000_100.0)
    assert [(t.turn_index, t.ttfa_ms) for t in timelines] == [
        (0, None),
        (1, 400.0),
        (0, None),
        (1, 1500.0),
    ]


async def test_raw_transcript_and_purge(store: AnyStore) -> None:
    old, new = 1_600_000_000.0, 1_700_000_000.0
    for call_id, started in (("old", old), ("new", new)):
        await store.start_call(_record(call_id, started))
        await store.add_utterance(call_id, Utterance(0, "caller", "my number is [PHONE]"))
        await store.add_raw_utterance(call_id, Utterance(0, "caller", "my number is 555 0100"))
        await store.add_recording_chunk(call_id, 0, 0.0, 16000, b"\x00\x00" * 64)
    result = await store.purge_before(new - 1)
    assert (result.raw_utterances, result.recordings) == (1, 1)
    assert await store.get_raw_utterances("old") == []
    assert await store.get_recording("old") is None
    assert [u.text for u in await store.get_raw_utterances("new")] == ["my number is 555 0100"]
    assert await store.get_recording("new") is not None
    # The redacted transcript is the record of the call: retention keeps it.
    detail = await store.get_call("old")
    assert detail is not None and [u.text for u in detail.utterances] == ["my number is [PHONE]"]


async def test_whole_records_of_ended_calls_are_purged(store: AnyStore) -> None:
    """Record retention deletes everything kept of a call that is over and older than the
    cutoff (line, event, timeline, usage, recording, raw line), leaves a newer call whole,
    and never touches a call still going on, however old."""
    old, new = 1_600_000_000.0, 1_700_000_000.0
    for call_id, started in (("old", old), ("live", old), ("new", new)):
        await store.start_call(_record(call_id, started))
        await store.add_utterance(call_id, Utterance(0, "caller", "my number is [PHONE]"))
        await store.add_raw_utterance(call_id, Utterance(0, "caller", "my number is 555 0100"))
        await store.add_event(call_id, "pause", 10.0, {"wait_ms": 280})
        await store.add_timeline(call_id, TurnTimeline(1, speech_end_ms=900.0))
        await store.set_usage(call_id, Usage(stt_audio_s=2.0))
        await store.add_recording_chunk(call_id, 0, 0.0, 16000, b"\x00\x00" * 64)
    await store.end_call("old", "completed", "ok")
    await store.end_call("new", "completed", "ok")
    assert await store.purge_calls_before(new - 1) == 1
    assert await store.get_call("old") is None
    assert await store.get_raw_utterances("old") == []
    assert await store.get_recording("old") is None
    assert [t.turn_index for t in await store.list_timelines(since=old - 1, until=old + 1)] == [1]
    for kept in ("live", "new"):
        detail = await store.get_call(kept)
        assert detail is not None and [e.kind for e in detail.events] == ["pause"]
        assert detail.usage.stt_audio_s == 2.0 and detail.has_recording
        assert len(detail.timelines) == 1 and len(detail.utterances) == 1
    assert await store.purge_calls_before(new - 1) == 0  # nothing more to delete


async def test_mark_orphans_cut_off(store: AnyStore) -> None:
    await store.start_call(_record("orphan", 1_700_000_000.0))
    await store.add_event("orphan", "tick", 2500.0, {})
    await store.start_call(_record("done"))
    await store.end_call("done", "completed", "ok")
    assert await store.mark_orphans_cut_off() == 1
    detail = await store.get_call("orphan")
    assert detail is not None
    assert (detail.record.status, detail.record.end_reason) == ("cut_off", ORPHAN_END_REASON)
    assert detail.record.ended_at == pytest.approx(1_700_000_002.5)
    assert await store.mark_orphans_cut_off() == 0


async def test_closed_store_refuses_work(store: AnyStore) -> None:
    await store.close()
    await store.close()
    with pytest.raises(StoreClosedError):
        await store.list_calls()


async def test_a_handover_is_taken_once_by_whoever_asks_and_forgotten_at_expiry(
    store: AnyStore,
) -> None:
    now = time.time()
    await store.put_handover("after-stream:CA1", "<Response><Dial>+15550123</Dial></Response>",
                             now + 60)  # fmt: skip
    await store.put_handover("after-stream:CA2", "<Response><Hangup/></Response>", now - 1)
    assert await store.take_handover("after-stream:CA2") is None  # expired
    taken = await store.take_handover("after-stream:CA1")
    assert taken == "<Response><Dial>+15550123</Dial></Response>"
    assert await store.take_handover("after-stream:CA1") is None  # once
    await store.put_handover("k", "first", now + 60)
    await store.put_handover("k", "second", now + 60)  # the latest wins
    assert await store.take_handover("k") == "second"
