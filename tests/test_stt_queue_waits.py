"""How long transcriptions wait for the shared recogniser (`stt/queue_waits.py`): the figure
`/readyz` reads to say an embedded worker no longer keeps up with its calls."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from callwright.sim.espeak import espeak_clip
from callwright.stt.base import HasQueue, Transcript
from callwright.stt.fallback import FallbackStt
from callwright.stt.queue_waits import QueueWaits
from callwright.stt.whisper import WhisperOptions, WhisperStt


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_idle_queue_waits_nothing() -> None:
    assert QueueWaits(Clock()).wait_ms(5.0) == 0.0


def test_p95_of_started_requests_then_the_oldest_still_waiting() -> None:
    clock = Clock()
    waits = QueueWaits(clock)
    a, b = waits.queued(), waits.queued()
    clock.now += 0.1
    waits.started(a)  # waited 100 ms
    clock.now += 0.4
    waits.started(b)  # waited 500 ms
    # numpy's default percentile interpolates linearly: 100 + 0.95 * (500 - 100)
    assert waits.wait_ms(5.0) == pytest.approx(100 + 0.95 * 400)
    c = waits.queued()
    clock.now += 2.0
    assert waits.wait_ms(5.0) == pytest.approx(2000.0)  # c has waited 2 s and is still waiting
    waits.left(c)  # cancelled: it no longer counts, and starting it later changes nothing
    waits.started(c)
    assert waits.wait_ms(5.0) == pytest.approx(100 + 0.95 * 400)
    clock.now += 5.0
    assert waits.wait_ms(5.0) == 0.0  # both starts are older than the window


def test_starts_on_other_threads_are_all_counted() -> None:
    clock = Clock()
    waits = QueueWaits(clock)
    tokens = [waits.queued() for _ in range(200)]
    clock.now += 0.25

    def start(part: list[int]) -> None:
        for token in part:
            waits.started(token)

    threads = [threading.Thread(target=start, args=(p,)) for p in (tokens[0::2], tokens[1::2])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert waits.wait_ms(5.0) == pytest.approx(
        250.0
    )  # every one waited 250 ms; none is left waiting


async def test_whisper_requests_behind_a_busy_worker_wait() -> None:
    stt = WhisperStt.load(WhisperOptions(model="tiny.en", workers=1, cpu_threads=1))
    try:
        assert isinstance(stt, HasQueue)
        assert stt.queue_wait_ms(60.0) == 0.0
        clip = espeak_clip("I would like to book an appointment for Tuesday morning.")
        # One worker: the third request cannot start before the first two have finished.
        transcripts = await asyncio.gather(*(stt.transcribe(clip) for _ in range(3)))
        assert all(t.text for t in transcripts)
        waited = stt.queue_wait_ms(60.0)
        assert waited > 0.0
        # A fallback chain reports its embedded recogniser's queue.
        chain = FallbackStt(primary=_NoQueue(), fallback=stt)
        assert isinstance(chain, HasQueue) and chain.queue_wait_ms(60.0) == waited
    finally:
        stt.close()


class _NoQueue:
    """A recognizer without a queue of its own (a remote service)."""

    name = "remote"
    sample_rate = 16000

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        raise AssertionError("not used")
