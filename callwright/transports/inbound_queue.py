"""What a transport that receives on its own (RTP, WebRTC) may queue for its call's session.

Those transports read their peer as fast as it sends and hand each event to the session
through a queue. A peer that sends faster than real time, or floods keypad presses, must not
grow that queue without bound: audio beyond `MAX_QUEUED_AUDIO` waiting events is dropped
(5 s of 20 ms frames: more is a peer out of step, not a caller), and keys beyond a human's
pace (`KEYS_PER_S`, in bursts of `KEY_BURST`) are dropped. A hang-up is always queued.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from callwright.core.pace import TokenBucket
from callwright.transports.base import AudioIn, DtmfIn, InboundEvent

MAX_QUEUED_AUDIO = 250
KEYS_PER_S = 10.0
KEY_BURST = 20.0


class BoundedInbound:
    """Puts a transport's events on the session's queue within the limits above.

    Args:
        queue: the session's queue.
        on_drop: told of each event dropped (a transport's statistics).
        clock: monotonic seconds (the keys' pace).
    """

    def __init__(
        self,
        queue: asyncio.Queue[InboundEvent] | asyncio.Queue[InboundEvent | None],
        on_drop: Callable[[InboundEvent], None] = lambda _event: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queue = queue
        self._on_drop = on_drop
        self._keys = TokenBucket(KEYS_PER_S, KEY_BURST, clock)

    def put(self, event: InboundEvent) -> bool:
        """Queues `event`; False if it was dropped."""
        if isinstance(event, AudioIn) and self._queue.qsize() >= MAX_QUEUED_AUDIO:
            self._on_drop(event)
            return False
        if isinstance(event, DtmfIn) and not self._keys.take():
            self._on_drop(event)
            return False
        self._queue.put_nowait(event)
        return True
