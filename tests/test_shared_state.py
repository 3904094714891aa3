"""State one worker leaves for another through the shared store (text only, both stores)."""

from __future__ import annotations

import time

from callwright.config import LimitSettings
from callwright.server.admission import STREAM_STARTED, Admission
from callwright.server.load import WorkerLoad
from callwright.store.base import CallRecord
from callwright.telephony.calls import TelephonyCalls
from callwright.telephony.control import TwilioCallControl
from callwright.telephony.pending import (
    MemoryPendingCalls,
    PendingCall,
    PendingCalls,
    SqlPendingCalls,
)
from tests.pg_cluster import AnyStore


async def test_the_transfer_after_a_stream_is_found_by_the_worker_the_redirect_reaches(
    store: AnyStore,
) -> None:
    # Two workers on one store: the stream (and the transfer) ran on the first; Twilio's
    # <Redirect> after the stream reaches the second.
    streaming, redirected = TelephonyCalls(store), TelephonyCalls(store)
    control = TwilioCallControl("CA" + "1" * 32, streaming, None, "+15550123")
    assert await control.transfer(None) is True
    document = await redirected.take_after_stream("CA" + "1" * 32)
    assert document is not None and "<Number>+15550123</Number>" in document
    assert await streaming.take_after_stream("CA" + "1" * 32) is None  # taken once
    assert await redirected.take_after_stream("CA" + "2" * 32) is None  # another call


async def test_a_line_held_for_a_call_is_freed_when_another_worker_starts_its_stream(
    store: AnyStore,
) -> None:
    # Worker A answered two webhooks and holds a line for each; worker B started the stream
    # of the first (it leaves word in the store, as its stream handler does).
    limits = LimitSettings(max_calls=2)
    a = WorkerLoad(Admission(2, None), limits, store=store)
    a.admission.reserve("CA-first", ttl_s=60.0)
    a.admission.reserve("CA-second", ttl_s=60.0)
    assert a.full_reasons() == ["max_calls"]
    await store.put_handover(STREAM_STARTED + "CA-first", "CA-first", time.time() + 60)
    assert await a.release_streams_started_elsewhere() == 1
    assert a.admission.reserved_refs() == ["CA-second"]
    assert a.full_reasons() == []
    assert await a.release_streams_started_elsewhere() == 0  # nothing more started


async def _holds_the_pending_calls_contract(pending: PendingCalls) -> None:
    call = PendingCall("CA-ref", "id-1", "twilio", "inbound", "+15550100", {"to": "+15550199"})
    assert await pending.add(call) == call
    again = PendingCall("CA-ref", "id-2", "twilio", "inbound")
    assert (await pending.add(again)).call_id == "id-1"  # the first announcement wins
    assert await pending.find("CA-other", None) is None
    await pending.set_call_sid("CA-ref", "CA-sid")
    found = await pending.find(None, "CA-sid")
    assert found is not None and (found.call_id, found.parameters) == ("id-1", {"to": "+15550199"})
    await pending.add_status("CA-ref", {"status": "ringing"})
    await pending.add_status("CA-ref", {"status": "in-progress"})
    taken = await pending.take("CA-ref")
    assert taken is not None and [s["status"] for s in taken.statuses] == ["ringing", "in-progress"]
    assert await pending.take("CA-ref") is None  # taken once
    assert await pending.find("CA-ref", "CA-sid") is None
    old = PendingCall("CA-old", "id-3", "twilio", "outbound", created_at=time.time() - 7200)
    await pending.add(old)
    await pending.forget_before(time.time() - 3600)
    assert await pending.find("CA-old", None) is None


async def test_pending_calls_in_memory_hold_the_contract() -> None:
    await _holds_the_pending_calls_contract(MemoryPendingCalls())


async def test_pending_calls_in_the_store_hold_the_contract(store: AnyStore) -> None:
    await _holds_the_pending_calls_contract(SqlPendingCalls(store))


async def test_a_webhook_answered_by_one_worker_is_found_by_the_worker_its_stream_reaches(
    store: AnyStore,
) -> None:
    # Worker A answers the webhook; a status callback reaches worker C before the stream;
    # the stream reaches worker B, which starts the call with A's id, caller and parameters.
    a, b, c = (TelephonyCalls(store, pending=SqlPendingCalls(store)) for _ in range(3))
    params = {"caller": "+15550100", "to": "+15550199"}
    announced = await a.expect(
        "twilio", "inbound", ref="CA" + "3" * 32, caller="+15550100", parameters=params
    )
    again = await b.expect("twilio", "inbound", ref="CA" + "3" * 32)  # a re-sent webhook
    assert again.call_id == announced.call_id
    await c.status("CA" + "3" * 32, "ringing", {"From": "+15550100"}, None)
    recorded: list[tuple[str, dict[str, object]]] = []
    started = await b.stream_started(
        "CA" + "3" * 32, "CA" + "3" * 32, lambda kind, data: recorded.append((kind, data))
    )
    assert started is not None
    assert (started.call_id, started.caller, started.parameters) == (
        announced.call_id,
        "+15550100",
        params,
    )
    assert [(k, d["status"]) for k, d in recorded] == [("call_status", "ringing")]
    assert a.expected_here("CA" + "3" * 32) and not b.expected_here("CA" + "3" * 32)
    assert await a.stream_started("CA" + "3" * 32, "CA" + "3" * 32, lambda k, d: None) is None


async def test_a_status_callback_reaching_a_worker_that_does_not_run_the_call_is_recorded(
    store: AnyStore,
) -> None:
    # Worker A answered the webhook and runs the stream; Twilio's status callbacks reach B.
    a, b = (TelephonyCalls(store, pending=SqlPendingCalls(store)) for _ in range(2))
    sid = "CA" + "4" * 32
    announced = await a.expect("twilio", "inbound", ref=sid, caller="+15550100", call_sid=sid)
    await store.start_call(CallRecord(announced.call_id, "twilio", "+15550100", time.time()))
    await a.stream_started(sid, sid, lambda kind, data: None)
    await b.status(sid, "in-progress", {"CallDuration": "12"}, None)
    a.stream_ended(sid, announced.call_id, time.time())
    await b.status(sid, "completed", {"CallDuration": "31"}, None)  # after the stream, too
    detail = await store.get_call(announced.call_id)
    assert detail is not None
    statuses = [dict(e.data) for e in detail.events if e.kind == "call_status"]
    assert [(s["status"], s["CallDuration"]) for s in statuses] == [
        ("in-progress", "12"),
        ("completed", "31"),
    ]
