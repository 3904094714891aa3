"""One clock for the 20 ms frames of all load callers in a process.

Each caller used to sleep until its own next frame: hundreds of timer wake-ups every 20 ms,
which cost the load generator more CPU than the frames themselves. Here one task per event
loop wakes `SLOTS` times per frame period and sends the frames of the callers in that slot, so
the frames of different calls still reach the server spread over the period (as a platform's
do), not all in one burst, and each caller still keeps an absolute 20 ms schedule.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from collections.abc import Awaitable, Callable

FRAME_S = 0.02
SLOTS = 4  # wake-ups per frame period; a caller's frames go out in one of them

Tick = Callable[[], Awaitable[bool]]  # sends one frame; False: the caller stops sending


class FrameClock:
    """Runs every joined caller's tick once per 20 ms, callers spread over `SLOTS` slots."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._slots: list[dict[int, Tick]] = [{} for _ in range(SLOTS)]
        self._ids = itertools.count()
        self._task: asyncio.Task[None] | None = None

    def join(self, tick: Tick) -> int:
        """Adds a caller (to the least used slot); returns its handle for `leave`."""
        handle = next(self._ids)
        min(self._slots, key=len)[handle] = tick
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="frame-clock")
        return handle

    def leave(self, handle: int) -> None:
        """Removes a caller; the clock stops when none is left."""
        for slot in self._slots:
            slot.pop(handle, None)

    @property
    def callers(self) -> int:
        return sum(len(slot) for slot in self._slots)

    async def _run(self) -> None:
        began = self._clock()
        wake = 0
        while self.callers:
            wake += 1
            await asyncio.sleep(max(0.0, began + wake * FRAME_S / SLOTS - self._clock()))
            slot = self._slots[wake % SLOTS]
            for handle, tick in list(slot.items()):
                if handle not in slot:
                    continue  # left while an earlier caller's frame was being sent
                try:
                    going = await tick()
                except Exception:  # a broken connection: that caller stops sending
                    going = False
                if not going:
                    slot.pop(handle, None)


_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FrameClock] = (
    weakref.WeakKeyDictionary()
)


def frame_clock() -> FrameClock:
    """The running event loop's frame clock."""
    loop = asyncio.get_running_loop()
    found = _clocks.get(loop)
    if found is None:
        found = _clocks[loop] = FrameClock()
    return found
