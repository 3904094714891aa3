"""Telephony calls known to this server: before their stream starts, while live, just after.

Platforms tell us about a call on several channels that do not share a connection: the
incoming-call webhook (or our own outbound request), the media stream, status callbacks, and
the `<Redirect>` fetched after the stream. This registry ties them together by call reference
and records every status callback on the call's record, whether the call is live, already
over, or never got as far as a stream (busy, no answer). One registry per server; the calls
still to stream are kept in `PendingCalls` (shared by the workers on PostgreSQL), the live
and just-ended ones by the worker that runs them.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from callwright.store.base import CallRecord, CallStore
from callwright.telephony.pending import MemoryPendingCalls, PendingCall, PendingCalls

log = logging.getLogger(__name__)

# Statuses after which the call is over; a call that never streamed keeps it as its outcome.
TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
RecordEvent = Callable[[str, dict[str, Any]], None]
_AFTER = "after-stream:"  # handover key prefix: the TwiML a call's <Redirect> gets


@dataclass(slots=True)
class _LiveCall:
    call_id: str
    record: RecordEvent


class TelephonyCalls:
    """Pending, live and recently ended telephony calls of one server.

    Args:
        store: where calls that never streamed, and late callbacks, are written.
        max_age_s: pending calls older than this are forgotten.
        remember_ended: how many ended calls late callbacks can still find.
        pending: where calls still to stream are kept (this process's memory by default).
    """

    def __init__(
        self,
        store: CallStore,
        max_age_s: float = 3600.0,
        remember_ended: int = 2000,
        pending: PendingCalls | None = None,
    ) -> None:
        self._store = store
        self._max_age_s = max_age_s
        self._remember = remember_ended
        self._pending = pending or MemoryPendingCalls()
        self._here: OrderedDict[str, float] = OrderedDict()  # refs this worker announced
        self._live: dict[str, _LiveCall] = {}  # by call_sid
        self._ended: OrderedDict[str, tuple[str, float]] = OrderedDict()  # sid → id, start

    async def expect(
        self,
        channel: str,
        direction: str,
        ref: str | None = None,
        caller: str | None = None,
        parameters: Mapping[str, str] | None = None,
        call_sid: str | None = None,
    ) -> PendingCall:
        """Registers a call whose stream will start soon.

        A platform re-sending the same webhook (same `ref`) gets the same pending call back,
        on whichever worker: one call record, however many times it is announced.
        """
        now = time.time()
        await self._pending.forget_before(now - self._max_age_s)
        while self._here and next(iter(self._here.values())) < now - self._max_age_s:
            self._here.popitem(last=False)
        if ref is not None and (known := await self._pending.find(ref, None)) is not None:
            return known
        call_id = uuid.uuid4().hex
        pending = PendingCall(
            ref=ref or call_id,
            call_id=call_id,
            channel=channel,
            direction=direction,
            caller=caller,
            parameters=dict(parameters or {}),
            call_sid=call_sid,
        )
        pending = await self._pending.add(pending)
        self._here[pending.ref] = now
        return pending

    def expected_here(self, ref: str) -> bool:
        """Whether this worker announced the call (and so holds a line for it)."""
        return ref in self._here

    async def find(self, ref: str | None, call_sid: str | None) -> PendingCall | None:
        """The pending call a stream token (`ref`) or a platform call id names."""
        return await self._pending.find(ref, call_sid)

    async def set_call_sid(self, ref: str, call_sid: str) -> None:
        """The platform answered our outbound request with the call's id."""
        await self._pending.set_call_sid(ref, call_sid)

    async def stream_started(
        self, ref: str, call_sid: str, record: RecordEvent
    ) -> PendingCall | None:
        """The call's stream is up; returns its pending entry (with early statuses), if any."""
        found = await self._pending.find(ref, call_sid)
        pending = await self._pending.take(found.ref) if found is not None else None
        if pending is not None:
            self._here.pop(pending.ref, None)
            for status in pending.statuses:
                record("call_status", status)
            self._live[call_sid] = _LiveCall(pending.call_id, record)
            await self._pending.streamed(call_sid, pending.call_id, time.time())
        return pending

    async def stream_live(self, call_sid: str, call_id: str, record: RecordEvent) -> None:
        """Tracks a live call that had no pending entry (its webhook was not announced)."""
        self._live.setdefault(call_sid, _LiveCall(call_id, record))
        await self._pending.streamed(call_sid, call_id, time.time())

    def stream_ended(self, call_sid: str, call_id: str, started_at: float) -> None:
        """The stream is over; callbacks may still arrive for a while."""
        self._live.pop(call_sid, None)
        self._ended[call_sid] = (call_id, started_at)
        while len(self._ended) > self._remember:
            self._ended.popitem(last=False)

    async def call_id_of(self, call_sid: str) -> str | None:
        """Our call id for a platform call id, while we know it."""
        if call_sid in self._live:
            return self._live[call_sid].call_id
        if call_sid in self._ended:
            return self._ended[call_sid][0]
        pending = await self.find(None, call_sid)
        return pending.call_id if pending else None

    async def status(
        self, call_sid: str, status: str, data: Mapping[str, str], ref: str | None
    ) -> None:
        """Records a status callback on its call, wherever the call is in its life."""
        event: dict[str, Any] = {"status": status, "call_sid": call_sid, **_useful(data)}
        if await self.record(call_sid, "call_status", event) is not None:
            return
        pending = await self.find(ref, call_sid)
        if pending is None:
            log.warning("status %s for unknown call %s; not recorded", status, call_sid)
            return
        if pending.call_sid is None:
            await self._pending.set_call_sid(pending.ref, call_sid)
        await self._pending.add_status(pending.ref, event)
        if status in TERMINAL_STATUSES:
            # It ended before any stream (busy, no answer, failed): the record says so.
            taken = await self._pending.take(pending.ref)
            if taken is None:
                return  # a stream took it meanwhile (or another worker recorded the end)
            self._here.pop(taken.ref, None)
            await self._record_unstreamed(taken, status)
            self._ended[call_sid] = (taken.call_id, taken.created_at)

    async def record(self, call_sid: str, kind: str, data: dict[str, Any]) -> str | None:
        """Records an event on a call that has streamed (live here, over, or live on another
        worker); returns its call id, or None if no stream of it is known."""
        live = self._live.get(call_sid)
        if live is not None:
            live.record(kind, data)
            return live.call_id
        streamed = self._ended.get(call_sid) or await self._pending.find_streamed(call_sid)
        if streamed is None:
            return None
        call_id, started_at = streamed
        at_ms = max(0.0, 1000.0 * (time.time() - started_at))
        await self._store.add_event(call_id, kind, at_ms, data)
        return call_id

    async def dial_failed(self, ref: str, reason: str, detail: dict[str, Any]) -> str | None:
        """Our request to place the call failed (or its answer never came): the call's record
        is written, ended with outcome "dial_error" and a `dial_error` event (`detail`), and
        the pending call is forgotten. Returns its call id (None if it was gone already)."""
        taken = await self._pending.take(ref)
        if taken is None:
            return None
        self._here.pop(taken.ref, None)
        await self._store.start_call(self._record_of(taken))
        await self._store.add_event(taken.call_id, "dial_error", 0.0, {"reason": reason, **detail})
        await self._store.end_call(taken.call_id, "dial_error", reason)
        return taken.call_id

    @staticmethod
    def _record_of(pending: PendingCall) -> CallRecord:
        return CallRecord(
            call_id=pending.call_id,
            channel=pending.channel,
            caller=pending.caller,
            started_at=pending.created_at,
            parameters={**pending.parameters, "direction": pending.direction},
        )

    async def _record_unstreamed(self, pending: PendingCall, status: str) -> None:
        await self._store.start_call(self._record_of(pending))
        for event in pending.statuses:
            at_ms = 0.0
            await self._store.add_event(pending.call_id, "call_status", at_ms, event)
        outcome = status.replace("-", "_")
        await self._store.end_call(pending.call_id, outcome, f"call {status} before answering")

    async def after_stream(self, call_sid: str, twiml: str) -> None:
        """What to answer when the platform follows the `<Redirect>` after this stream.

        Kept in the store: the platform's request may reach any worker of the deployment.
        """
        await self._store.put_handover(_AFTER + call_sid, twiml, time.time() + self._max_age_s)

    async def take_after_stream(self, call_sid: str) -> str | None:
        """The TwiML left for this call's `<Redirect>` (once), whichever worker left it."""
        return await self._store.take_handover(_AFTER + call_sid)


def _useful(data: Mapping[str, str]) -> dict[str, str]:
    keep = ("CallDuration", "Direction", "From", "To", "Timestamp", "SequenceNumber", "AnsweredBy")
    return {k: data[k] for k in keep if k in data}
