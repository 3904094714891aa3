"""A peer that sends faster than real time, or floods keypad presses, cannot grow the queue a
receiving transport (RTP, WebRTC) hands its session."""

from __future__ import annotations

import asyncio

import numpy as np

from callwright.audio.frame import AudioFrame
from callwright.transports.base import AudioIn, DtmfIn, HangupIn, InboundEvent
from callwright.transports.inbound_queue import (
    KEY_BURST,
    KEYS_PER_S,
    MAX_QUEUED_AUDIO,
    BoundedInbound,
)


def frame(n: int) -> AudioIn:
    return AudioIn(AudioFrame(np.zeros(320, np.int16), 16000, 20.0 * n))


async def test_audio_beyond_the_limit_is_dropped_and_a_hang_up_still_gets_in() -> None:
    queue: asyncio.Queue[InboundEvent] = asyncio.Queue()
    dropped: list[InboundEvent] = []
    inbound = BoundedInbound(queue, dropped.append)
    accepted = [inbound.put(frame(n)) for n in range(MAX_QUEUED_AUDIO + 100)]
    assert accepted.count(True) == MAX_QUEUED_AUDIO and len(dropped) == 100
    assert inbound.put(HangupIn("caller_ended"))
    assert queue.qsize() == MAX_QUEUED_AUDIO + 1
    queue.get_nowait()  # the session takes two frames (the hang-up holds a place too)
    queue.get_nowait()
    assert inbound.put(frame(0)) and not inbound.put(frame(1))


async def test_keys_faster_than_a_person_presses_them_are_dropped() -> None:
    queue: asyncio.Queue[InboundEvent] = asyncio.Queue()
    now = [100.0]
    inbound = BoundedInbound(queue, clock=lambda: now[0])
    # A flood of 10,000 distinct keys within one second: a burst gets in, the rest does not.
    taken = sum(inbound.put(DtmfIn("5", float(n))) for n in range(10_000))
    assert taken == int(KEY_BURST)
    # Keys at a person's pace always get in.
    now[0] += 10.0
    for n in range(50):
        now[0] += 1.0 / KEYS_PER_S
        assert inbound.put(DtmfIn("1", float(n)))
