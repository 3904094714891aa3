"""A call that falls behind real time catches up: caller frames that waited while it was busy
are handed over as one chunk, in order, with keys and the hang-up where they arrived."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from callwright.agent.inbound import InboundReader
from callwright.audio.frame import AudioFrame
from callwright.transports.base import AudioIn, DtmfIn, HangupIn, InboundEvent

RATE = 8000
FRAME = 160  # 20 ms


def _frame(index: int) -> AudioIn:
    samples = np.full(FRAME, index, dtype=np.int16)  # each frame's samples say which it was
    return AudioIn(AudioFrame(samples, RATE, index * 20.0))


async def _stream(
    events: list[InboundEvent], handled: asyncio.Event | None = None
) -> AsyncIterator[InboundEvent]:
    """The events as fast as they are read, or each only once the last one was `handled`."""
    for event in events:
        yield event
        if handled is not None:
            await handled.wait()
            handled.clear()


async def _nothing(_event: InboundEvent) -> None:
    return None


def test_frames_waiting_behind_a_busy_call_come_as_one_chunk_in_order() -> None:
    async def run() -> list[InboundEvent]:
        sent: list[InboundEvent] = [_frame(i) for i in range(5)]
        sent += [DtmfIn("7", 100.0), *(_frame(i) for i in range(5, 8)), HangupIn("caller_hung_up")]
        reader = InboundReader(_stream(sent), _nothing)
        got: list[InboundEvent] = []
        async for event in reader.events():
            got.append(event)
            await asyncio.sleep(0.01)  # busy: everything has arrived by the time it looks
        return got

    got = asyncio.run(run())
    kinds = [type(e).__name__ for e in got]
    assert kinds == ["AudioIn", "DtmfIn", "AudioIn", "HangupIn"]
    audio = [e for e in got if isinstance(e, AudioIn)]
    merged = np.concatenate([a.frame.samples for a in audio])
    expected = np.repeat(np.arange(8, dtype=np.int16), FRAME)
    assert np.array_equal(merged, expected), "every sample, once, in order"
    assert [a.frame.timestamp_ms for a in audio] == [0.0, 100.0]
    assert audio[0].frame.end_ms == 100.0 and audio[1].frame.end_ms == 160.0


def test_a_call_keeping_up_gets_every_frame_alone() -> None:
    async def run() -> list[InboundEvent]:
        handled = asyncio.Event()
        reader = InboundReader(_stream([_frame(i) for i in range(4)], handled), _nothing)
        got: list[InboundEvent] = []
        async for event in reader.events():
            got.append(event)
            handled.set()  # the next frame arrives only once this one is handled
        return got

    got = asyncio.run(run())
    assert [e.frame.num_samples for e in got if isinstance(e, AudioIn)] == [FRAME] * 4


def test_merging_stops_at_a_gap_a_rate_change_and_the_limit() -> None:
    async def run() -> list[InboundEvent]:
        gap = AudioIn(AudioFrame(np.ones(FRAME, np.int16), RATE, 200.0))  # 120 ms lost before it
        wide = AudioIn(AudioFrame(np.ones(320, np.int16), 16000, 220.0))
        many = [
            AudioIn(AudioFrame(np.ones(FRAME, np.int16), RATE, 240.0 + 20 * i)) for i in range(6)
        ]
        sent: list[InboundEvent] = [_frame(0), _frame(1), _frame(2), _frame(3), gap, wide, *many]
        reader = InboundReader(_stream(sent), _nothing, max_merge_ms=60.0)
        got: list[InboundEvent] = []
        async for event in reader.events():
            got.append(event)
            await asyncio.sleep(0.01)
        return got

    got = asyncio.run(run())
    spans = [(e.frame.timestamp_ms, e.frame.duration_ms) for e in got if isinstance(e, AudioIn)]
    assert spans == [
        (0.0, 60.0),  # at most 60 ms at once
        (60.0, 20.0),
        (200.0, 20.0),  # after the gap: the call fills it with silence itself
        (220.0, 20.0),  # another rate
        (240.0, 60.0),
        (300.0, 60.0),
    ]


def test_arrival_hook_runs_for_every_event_as_it_is_read() -> None:
    async def run() -> tuple[list[float], list[InboundEvent]]:
        arrived: list[float] = []

        async def on_arrival(event: InboundEvent) -> None:
            if isinstance(event, AudioIn):
                arrived.append(event.frame.end_ms)

        reader = InboundReader(_stream([_frame(i) for i in range(6)]), on_arrival)
        got: list[InboundEvent] = []
        async for event in reader.events():
            got.append(event)
            await asyncio.sleep(0.01)
        return arrived, got

    arrived, got = asyncio.run(run())
    assert arrived == [20.0 * (i + 1) for i in range(6)], "each frame, not each chunk"
    assert len(got) < 6


def test_the_transports_error_reaches_the_call_after_what_came_before_it() -> None:
    async def failing() -> AsyncIterator[InboundEvent]:
        yield _frame(0)
        raise ConnectionResetError("socket broke")

    async def run() -> tuple[int, str]:
        reader = InboundReader(failing(), _nothing)
        count = 0
        try:
            async for _event in reader.events():
                count += 1
        except ConnectionResetError as exc:
            return count, str(exc)
        return count, ""

    assert asyncio.run(run()) == (1, "socket broke")


def test_leaving_early_stops_the_reader_and_closes_the_transports_stream() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[InboundEvent]:
        i = 0
        try:
            while True:
                yield _frame(i)
                i += 1
                await asyncio.sleep(0.001)
        finally:
            closed.set()

    async def run() -> bool:
        reader = InboundReader(endless(), _nothing)
        events = reader.events()
        async for _event in events:
            break
        await events.aclose()
        return closed.is_set()

    assert asyncio.run(run())


def test_a_stuck_call_leaves_the_rest_unread() -> None:
    pulled: list[int] = []

    async def source() -> AsyncIterator[InboundEvent]:
        for i in range(20):
            pulled.append(i)
            yield _frame(i)

    async def run() -> tuple[int, int]:
        reader = InboundReader(source(), _nothing, max_queued=3)
        events = reader.events()
        first = await anext(events)
        assert isinstance(first, AudioIn)
        await asyncio.sleep(0.02)  # the call is stuck on its first chunk
        stuck = len(pulled)
        rest = [e async for e in events]
        samples = first.frame.num_samples + sum(
            e.frame.num_samples for e in rest if isinstance(e, AudioIn)
        )
        return stuck, samples

    stuck, samples = asyncio.run(run())
    # The first chunk took three frames off the queue, three more were read behind it.
    assert stuck == 6, "read ahead by at most the limit"
    assert samples == 20 * FRAME, "and the rest once the call went on"
