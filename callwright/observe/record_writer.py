"""Writes a call's record in the background, in order, without ever stalling the call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from callwright.core.timeline import TurnTimeline
from callwright.store.base import CallRecord, CallStore, Utterance

log = logging.getLogger(__name__)


class CallRecordWriter:
    """Queues store writes for one call and applies them one by one on a background task.

    The session never awaits the database on its hot path; a failing store is logged and the
    call goes on.
    """

    def __init__(self, store: CallStore, call_id: str) -> None:
        self._store = store
        self.call_id = call_id
        self._queue: asyncio.Queue[Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self, record: CallRecord, recorded_early: bool = False) -> None:
        """Writes the call's record first; `recorded_early`: it exists (a phone stream's, written
        before the WebSocket upgrade), so only its caller and parameters are set."""
        self._task = asyncio.create_task(self._drain(), name=f"recorder-{self.call_id}")
        if recorded_early:
            self._queue.put_nowait(lambda: self._store.update_call_details(record))
        else:
            self._queue.put_nowait(lambda: self._store.start_call(record))

    def event(self, kind: str, at_ms: float, data: Mapping[str, Any] | None = None) -> None:
        payload = dict(data or {})
        self._queue.put_nowait(lambda: self._store.add_event(self.call_id, kind, at_ms, payload))

    def utterance(self, utterance: Utterance) -> None:
        self._queue.put_nowait(lambda: self._store.add_utterance(self.call_id, utterance))

    def timeline(self, timeline: TurnTimeline) -> None:
        self._queue.put_nowait(lambda: self._store.add_timeline(self.call_id, timeline))

    async def finish(self, outcome: str, end_reason: str) -> None:
        """Records the end of the call and waits until everything is written."""
        self._queue.put_nowait(lambda: self._store.end_call(self.call_id, outcome, end_reason))
        self._queue.put_nowait(None)
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        while True:
            write = await self._queue.get()
            if write is None:
                return
            try:
                await write()
            except Exception:
                log.exception("call %s: store write failed", self.call_id)
