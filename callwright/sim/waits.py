"""How a simulated caller waits: for an event or the call's end, and for the agent's reply to end.

A phone line carries no "reply over" message, so a simulated phone takes the agent's reply as
over once its audio has been quiet for a while; the call's record, when the caller can read
it, says for sure (a loaded machine can pause mid-reply for longer than any quiet threshold).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

POLL_S = 0.02  # how often the line's quiet is checked (one frame)
RECORD_POLL_S = 0.1  # the call record is read ten times a second at most


async def wait_or_end(event: asyncio.Event, ended: asyncio.Event, timeout_s: float) -> None:
    """Waits until `event` is set, the call has `ended`, or `timeout_s` passed."""
    done = asyncio.create_task(event.wait())
    over = asyncio.create_task(ended.wait())
    await asyncio.wait({done, over}, timeout=timeout_s, return_when="FIRST_COMPLETED")
    done.cancel()
    over.cancel()


async def wait_reply_end(
    last_audio_s: Callable[[], float],
    quiet_s: float,
    ended: asyncio.Event,
    timeout_s: float,
    playing: Callable[[], bool] = lambda: False,
    replies_done: Callable[[], Awaitable[int]] | None = None,
    replies_before: int = 0,
) -> None:
    """Waits until the agent has said something and then been quiet for `quiet_s`, the call
    has `ended`, or `timeout_s` passed.

    Args:
        last_audio_s: when (monotonic) the agent's audio was last heard; 0 before any.
        quiet_s: the quiet that ends a reply.
        ended: set when the call is over.
        timeout_s: the longest wait.
        playing: whether agent audio received is still being played out at the caller.
        replies_done: the number of replies the server has finished on this call; with it,
            the reply is over only once that number exceeds `replies_before`.
        replies_before: the number finished before the caller's last line.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not ended.is_set():
        heard = last_audio_s()
        if heard and not playing() and time.monotonic() - heard >= quiet_s:
            if replies_done is None or await replies_done() > replies_before:
                return
            await asyncio.sleep(RECORD_POLL_S)
            continue
        await asyncio.sleep(POLL_S)
