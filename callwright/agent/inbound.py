"""The caller's events, read as they arrive and handed to the call when it is ready for them.

    transport.inbound() ─► reader task: arrival hooks (the call's clock, the idle watch, the
                            pacer that holds a sender faster than real time) ─► queue
    queue ─► the call's loop: one event at a time, but the audio frames waiting in a row
             merged into one chunk (up to `MAX_MERGE_MS`)

A call's loop handles each 20 ms frame through work shared with every other call of the worker
(the VAD's batch runs in an executor thread: a hop there and back, and back through the GIL). On
a busy worker one such round can take longer than the frame lasts. Taken one frame per round,
the call then falls behind real time for good, and further with every frame: a caller's turn
was decided seconds after they stopped talking although each stage was quick. Merged, the
frames that piled up in the meantime cost one round, so a call that falls behind catches up in
its next pass (the VAD evaluates all their windows in one hop).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

import numpy as np

from callwright.audio.frame import AudioFrame
from callwright.transports.base import AudioIn, InboundEvent

# The most audio handed over at once: enough to catch up from a long stall in a few passes,
# short enough that the turn logic still sees the silence grow in steps (a transcript that
# lands within it can still shorten the wait).
MAX_MERGE_MS = 200.0
# Frames closer than this to the end of the previous one are one stream; a wider gap is left to
# the call (which fills lost audio with silence).
CONTIGUOUS_MS = 1.0
# Events read ahead of the call at most (10 s of 20 ms frames): a call stuck for longer leaves
# the rest in the transport's socket, as it did before it had a reader.
MAX_QUEUED = 500


class InboundReader:
    """Reads one call's inbound events in a task of its own; iterate `events()` to take them.

    Args:
        events: the transport's events.
        on_arrival: awaited for each event as it is read, before the next read (so a pacing
            wait holds the transport's socket, not the call).
        max_merge_ms: the most audio merged into one chunk.
        max_queued: the most events read ahead of the call.
    """

    def __init__(
        self,
        events: AsyncIterator[InboundEvent],
        on_arrival: Callable[[InboundEvent], Awaitable[None]],
        max_merge_ms: float = MAX_MERGE_MS,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._events = events
        self._on_arrival = on_arrival
        self._max_merge_ms = max_merge_ms
        self._queue: deque[InboundEvent] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._max_queued = max_queued
        self._done = False
        self._error: Exception | None = None
        self.merged = 0  # frames handed over inside another frame's chunk (a sign of lag)

    async def events(self) -> AsyncGenerator[InboundEvent, None]:
        """The events in the order they arrived; ends when the transport's do (re-raising what
        it raised). Leaving the iteration stops the reader and closes the transport's."""
        reader = asyncio.create_task(self._read(), name="inbound-reader")
        try:
            while True:
                while not self._queue:
                    if self._done:
                        if self._error is not None:
                            raise self._error
                        return
                    self._ready.clear()
                    await self._ready.wait()
                event = self._take()
                self._room.set()
                yield event
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            close = getattr(self._events, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    async def _read(self) -> None:
        try:
            async for event in self._events:
                self._queue.append(event)
                self._ready.set()
                await self._on_arrival(event)
                while len(self._queue) >= self._max_queued:
                    self._room.clear()
                    await self._room.wait()
        except Exception as exc:  # the call's loop raises it, as if it had read it itself
            self._error = exc
        finally:
            self._done = True
            self._ready.set()

    def _take(self) -> InboundEvent:
        first = self._queue.popleft()
        if not isinstance(first, AudioIn):
            return first
        frame = first.frame
        parts = [frame.samples]
        end_ms, total_ms = frame.end_ms, frame.duration_ms
        while self._queue:
            following = self._queue[0]
            if not isinstance(following, AudioIn):
                break
            more = following.frame
            if more.sample_rate != frame.sample_rate:
                break
            if abs(more.timestamp_ms - end_ms) > CONTIGUOUS_MS:
                break
            if total_ms + more.duration_ms > self._max_merge_ms:
                break
            self._queue.popleft()
            parts.append(more.samples)
            end_ms, total_ms = more.end_ms, total_ms + more.duration_ms
        if len(parts) == 1:
            return first
        self.merged += len(parts) - 1
        samples = np.concatenate(parts)
        return AudioIn(AudioFrame(samples, frame.sample_rate, frame.timestamp_ms))
