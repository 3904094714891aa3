"""A caller on hold for a person: hold audio, their place in line, and the wait limit.

`CallHandoff` runs one `Hold` while its call waits in the queue; the hold only plays and
tells, and says why it stopped (`HoldEnd`): the handoff decides what the caller is offered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Literal

from callwright.handoff.desk import Desk
from callwright.handoff.hold_music import HoldAudio
from callwright.handoff.options import CallState, HandoffOptions, position_line

HOLD_LEAD_S = 0.06  # hold audio queued ahead of real time, like the agent's playout

# Why a hold stopped: the call no longer waits (picked up, called back, hung up), it has
# waited `wait_limit_s`, or nobody has been signed in for `nobody_left_s`.
HoldEnd = Literal["left", "wait_limit", "nobody"]


class Hold:
    """The waiting side of one call.

    Args:
        state: the call's shared state.
        desk: the deployment's handoff desk.
        say: speaks a line through the agent's voice, returning once it has been played.
    """

    def __init__(self, state: CallState, desk: Desk, say: Callable[[str], Awaitable[None]]) -> None:
        self.state = state
        self.desk = desk
        self._say = say

    async def position(self) -> int:
        """The call's place in line (0 when it is not waiting)."""
        return await self.desk.position(self.state.call.call_id) or 0

    async def tell_position(self, position: int) -> None:
        """The caller's client hears of its place in line (a `queue_position` event)."""
        with contextlib.suppress(Exception):  # a line that cannot take events just waits
            await self.state.transport.send_event({"type": "queue_position", "position": position})

    async def run(
        self,
        options: Callable[[], HandoffOptions],
        waiting: Callable[[], bool],
        told: int = 0,
        limit: bool = True,
    ) -> HoldEnd:
        """Hold audio, a place-in-line update every interval, until the call stops `waiting`,
        everyone has left the console for `nobody_left_s`, or, with `limit`, it has waited
        `wait_limit_s`; a `queue_position` event whenever the place in line changes (`told`:
        the last one).

        Args:
            options: the lines and timing, in the call's language now.
            waiting: whether the call still waits for a person.
            told: the place in line the caller was last told of.
            limit: stop at the wait limit (False once the caller has been offered a callback).
        """
        moved = asyncio.Event()  # the queue changed (on any worker): the place may have too
        moved.set()  # it may have changed since `told`
        unsubscribe = self.desk.subscribe(moved.set)
        try:
            return await self._until_done(options, waiting, moved, told, limit)
        finally:
            unsubscribe()

    async def _until_done(
        self,
        wording: Callable[[], HandoffOptions],
        waiting: Callable[[], bool],
        moved: asyncio.Event,
        told: int,
        limit: bool,
    ) -> HoldEnd:
        loop = asyncio.get_running_loop()
        options, state = wording(), self.state
        call_id = state.call.call_id
        entered = loop.time()
        next_update = entered  # the first update right after "I'll connect you"
        audio = HoldAudio(state.transport.output_sample_rate)
        started, frames = loop.time(), 0
        nobody_since: float | None = None  # when the console was last seen with nobody
        while waiting():
            if moved.is_set():  # a change (people signing out are one)
                moved.clear()
                position = await self.position()
                if position and position != told:
                    told = position
                    state.recorder.event("queue_position", state.clock.now_ms(), {"position": told})
                    await self.tell_position(told)
                nobody_since = await self._nobody_since(nobody_since, loop.time())
            now = loop.time()
            if limit and now - entered >= options.wait_limit_s:
                return "wait_limit"
            if nobody_since is not None and now - nobody_since >= options.nobody_left_s:
                # Still nobody (someone back would have been a change, but ask again)?
                if (nobody_since := await self._nobody_since(nobody_since, now)) is not None:
                    return "nobody"
            if now >= next_update:
                # Also asked here: a worker that died takes its people with it unannounced.
                nobody_since = await self._nobody_since(nobody_since, now)
                next_update = now + options.update_interval_s
                position = await self.position()
                wait_s = await self.desk.expected_wait_s(call_id)
                state.recorder.event(
                    "queue_update",
                    state.clock.now_ms(),
                    {"position": position, "expected_wait_s": wait_s},
                )
                if position:  # 0: a person is being put through, no place in line to tell
                    await self._say(position_line(position, wait_s, wording()))
                    started, frames = loop.time(), 0
                continue
            if options.hold_audio:
                while frames * 0.02 < loop.time() - started + HOLD_LEAD_S:
                    await state.transport.send_audio(audio.next_frame())
                    frames += 1
            await asyncio.sleep(0.02)
        return "left"

    async def _nobody_since(self, since: float | None, now: float) -> float | None:
        """When the console was first seen with nobody signed in (None: someone is)."""
        if await self.desk.signed_in():
            return None
        return now if since is None else since
