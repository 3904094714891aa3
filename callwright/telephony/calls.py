"""Telephony calls known to this server: before their stream starts, while live, just after.

Platforms tell us about a call on several channels that do not share a connection: the
incoming-call webhook (or our own outbound request), the media stream, status callbacks, and
the `<Redirect>` fetched after the stream. This registry ties them together by call reference
and records every status callback on the call's record, whether the call is live, already
over, or never got as far as a stream (busy, no answer). One registry per server.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from callwright.store.base import CallRecord, CallStore

log = logging.getLogger(__name__)

# Statuses after which the call is over; a call that never streamed keeps it as its outcome.
TERMINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
RecordEvent = Callable[[str, dict[str, Any]], None]


@dataclass(slots=True)
class PendingCall:
    """A call a verified webhook (or our outbound request) announced; its stream is to come.

    Attributes:
        ref: what the stream token names (the CallSid, or our id for an outbound call).
        call_id: the call record's id, chosen now so early status callbacks have a home.
        channel: "twilio" or "telnyx".
        direction: "inbound" or "outbound".
        caller: the other party's number.
        parameters: per-call parameters (also sent as stream `<Parameter>`s).
        call_sid: the platform's id, once known.
        statuses: status callbacks received before the stream started.
    """

    ref: str
    call_id: str
    channel: str
    direction: str
    caller: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    call_sid: str | None = None
    statuses: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)


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
    """

    def __init__(self, store: CallStore, max_age_s: float = 3600.0, remember_ended: int = 2000):
        self._store = store
        self._max_age_s = max_age_s
        self._remember = remember_ended
        self._pending: dict[str, PendingCall] = {}
        self._live: dict[str, _LiveCall] = {}  # by call_sid
        self._ended: OrderedDict[str, tuple[str, float]] = OrderedDict()  # sid → id, start
        self._after: dict[str, str] = {}  # call_sid → TwiML for the <Redirect> after the stream

    def expect(
        self,
        channel: str,
        direction: str,
        ref: str | None = None,
        caller: str | None = None,
        parameters: Mapping[str, str] | None = None,
        call_sid: str | None = None,
    ) -> PendingCall:
        """Registers a call whose stream will start soon.

        A platform re-sending the same webhook (same `ref`) gets the same pending call back:
        one call record, however many times it is announced.
        """
        now = time.time()
        for key in [k for k, p in self._pending.items() if now - p.created_at > self._max_age_s]:
            del self._pending[key]
        if ref is not None and ref in self._pending:
            return self._pending[ref]
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
        self._pending[pending.ref] = pending
        return pending

    def find(self, ref: str | None, call_sid: str | None) -> PendingCall | None:
        """The pending call a stream token (`ref`) or a platform call id names."""
        if ref is not None and ref in self._pending:
            return self._pending[ref]
        if call_sid is not None:
            for pending in self._pending.values():
                if pending.call_sid == call_sid or pending.ref == call_sid:
                    return pending
        return None

    def set_call_sid(self, ref: str, call_sid: str) -> None:
        """The platform answered our outbound request with the call's id."""
        if ref in self._pending:
            self._pending[ref].call_sid = call_sid

    def stream_started(self, ref: str, call_sid: str, record: RecordEvent) -> PendingCall | None:
        """The call's stream is up; returns its pending entry (with early statuses), if any."""
        pending = self.find(ref, call_sid)
        if pending is not None:
            del self._pending[pending.ref]
            for status in pending.statuses:
                record("call_status", status)
            self._live[call_sid] = _LiveCall(pending.call_id, record)
        return pending

    def stream_live(self, call_sid: str, call_id: str, record: RecordEvent) -> None:
        """Tracks a live call that had no pending entry (another worker took its webhook)."""
        self._live.setdefault(call_sid, _LiveCall(call_id, record))

    def stream_ended(self, call_sid: str, call_id: str, started_at: float) -> None:
        """The stream is over; callbacks may still arrive for a while."""
        self._live.pop(call_sid, None)
        self._ended[call_sid] = (call_id, started_at)
        while len(self._ended) > self._remember:
            self._ended.popitem(last=False)

    def call_id_of(self, call_sid: str) -> str | None:
        """Our call id for a platform call id, while we know it."""
        if call_sid in self._live:
            return self._live[call_sid].call_id
        if call_sid in self._ended:
            return self._ended[call_sid][0]
        pending = self.find(None, call_sid)
        return pending.call_id if pending else None

    async def status(
        self, call_sid: str, status: str, data: Mapping[str, str], ref: str | None
    ) -> None:
        """Records a status callback on its call, wherever the call is in its life."""
        event: dict[str, Any] = {"status": status, "call_sid": call_sid, **_useful(data)}
        live = self._live.get(call_sid)
        if live is not None:
            live.record("call_status", event)
            return
        if call_sid in self._ended:
            call_id, started_at = self._ended[call_sid]
            at_ms = max(0.0, 1000.0 * (time.time() - started_at))
            await self._store.add_event(call_id, "call_status", at_ms, event)
            return
        pending = self.find(ref, call_sid)
        if pending is None:
            log.warning("status %s for unknown call %s; not recorded", status, call_sid)
            return
        pending.call_sid = pending.call_sid or call_sid
        pending.statuses.append(event)
        if status in TERMINAL_STATUSES:
            # It ended before any stream (busy, no answer, failed): the record says so.
            del self._pending[pending.ref]
            await self._record_unstreamed(pending, status)
            self._ended[call_sid] = (pending.call_id, pending.created_at)

    async def _record_unstreamed(self, pending: PendingCall, status: str) -> None:
        record = CallRecord(
            call_id=pending.call_id,
            channel=pending.channel,
            caller=pending.caller,
            started_at=pending.created_at,
            parameters={**pending.parameters, "direction": pending.direction},
        )
        await self._store.start_call(record)
        for event in pending.statuses:
            at_ms = 0.0
            await self._store.add_event(pending.call_id, "call_status", at_ms, event)
        outcome = status.replace("-", "_")
        await self._store.end_call(pending.call_id, outcome, f"call {status} before answering")

    def after_stream(self, call_sid: str, twiml: str) -> None:
        """What to answer when the platform follows the `<Redirect>` after this stream."""
        self._after[call_sid] = twiml

    def take_after_stream(self, call_sid: str) -> str | None:
        return self._after.pop(call_sid, None)


def _useful(data: Mapping[str, str]) -> dict[str, str]:
    keep = ("CallDuration", "Direction", "From", "To", "Timestamp", "SequenceNumber", "AnsweredBy")
    return {k: data[k] for k in keep if k in data}
