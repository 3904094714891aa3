"""Writes a call's record in the background, in order, without ever stalling the call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from callwright.core.timeline import TurnTimeline
from callwright.store.base import CallRecord, CallStore, Utterance
from callwright.store.sqlite import CallExistsError, UnknownCallError

log = logging.getLogger(__name__)


# The writes a record cannot do without (that it exists, and how the call ended) are tried
# again after these pauses when the store fails: a brief outage (a database failover, a locked
# file) must not leave a call "active" for good.
RETRY_PAUSES_S = (0.2, 1.0, 3.0)

Write = Callable[[], Awaitable[None]]


class CallRecordWriter:
    """Queues store writes for one call and applies them one by one on a background task.

    The session never awaits the database on its hot path; a failing store is logged and the
    call goes on. The record's start and end are retried (`RETRY_PAUSES_S`); a write that
    comes after `finish` (a platform's status callback racing the hang-up) is written on its
    own rather than dropped.
    """

    def __init__(self, store: CallStore, call_id: str) -> None:
        self._store = store
        self.call_id = call_id
        self._queue: asyncio.Queue[tuple[Write, bool] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._finished = False
        self._late: set[asyncio.Task[None]] = set()
        self._record: CallRecord | None = None

    def start(self, record: CallRecord, recorded_early: bool = False) -> None:
        """Writes the call's record first; `recorded_early`: it exists (a phone stream's, written
        before the WebSocket upgrade), so only its caller and parameters are set."""
        self._task = asyncio.create_task(self._drain(), name=f"recorder-{self.call_id}")
        self._record = record
        if recorded_early:
            self._put(lambda: self._store.update_call_details(record), vital=True)
        else:
            self._put(lambda: self._store.start_call(record), vital=True)

    def event(self, kind: str, at_ms: float, data: Mapping[str, Any] | None = None) -> None:
        payload = dict(data or {})
        self._put(lambda: self._store.add_event(self.call_id, kind, at_ms, payload))

    def utterance(self, utterance: Utterance) -> None:
        self._put(lambda: self._store.add_utterance(self.call_id, utterance))

    def timeline(self, timeline: TurnTimeline) -> None:
        self._put(lambda: self._store.add_timeline(self.call_id, timeline))

    async def finish(self, outcome: str, end_reason: str) -> None:
        """Records the end of the call and waits until everything is written."""
        self._put(lambda: self._end(outcome, end_reason), vital=True)
        self._queue.put_nowait(None)
        self._finished = True
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _end(self, outcome: str, end_reason: str) -> None:
        """Ends the record; one whose start never got written (the store was down for all its
        tries) is written now, so the call still leaves a record."""
        try:
            await self._store.end_call(self.call_id, outcome, end_reason)
        except UnknownCallError:
            if self._record is None:
                raise
            log.warning("call %s: its record's start was lost; written at its end", self.call_id)
            with contextlib.suppress(CallExistsError):
                await self._store.start_call(self._record)
            await self._store.end_call(self.call_id, outcome, end_reason)

    def _put(self, write: Write, vital: bool = False) -> None:
        if not self._finished:
            self._queue.put_nowait((write, vital))
            return
        late = asyncio.create_task(self._apply(write, vital))
        self._late.add(late)
        late.add_done_callback(self._late.discard)

    async def _drain(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            await self._apply(*item)

    async def _apply(self, write: Write, vital: bool) -> None:
        pauses = RETRY_PAUSES_S if vital else ()
        for attempt in range(len(pauses) + 1):
            try:
                await write()
                return
            except Exception:
                if attempt == len(pauses):
                    log.exception("call %s: store write failed", self.call_id)
                    return
                log.warning("call %s: store write failed; trying again", self.call_id)
                await asyncio.sleep(pauses[attempt])
