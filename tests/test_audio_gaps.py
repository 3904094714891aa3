"""Frames lost on the way in: the timeline goes on as silence, fed to the VAD a little at a
time (its windows are batched with every other call's)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import numpy as np

from callwright.agent.session import CallSession
from callwright.agent.stack import AgentStack
from callwright.core.responder import CallInfo
from callwright.transports.base import HangupIn
from callwright.vad.base import VadWindow
from tests.test_consent_with_handoff import PhoneLine


async def test_a_gap_in_the_callers_audio_reaches_the_vad_in_short_pieces(
    stack: AgentStack,
) -> None:
    """Lost frames are filled with silence so the timeline goes on; the VAD's windows are
    batched with every other call's, so a long gap goes to it a little at a time."""
    line = PhoneLine()
    call = CallInfo(call_id=uuid.uuid4().hex, channel="test")
    no_opening = dataclasses.replace(stack.disclosure, channels=())
    session = CallSession(dataclasses.replace(stack, disclosure=no_opening), line, call)
    sizes: list[int] = []
    vad = session._vad
    process = vad.process

    async def measured(samples: np.ndarray, timestamp_ms: float) -> list[VadWindow]:
        sizes.append(samples.size)
        return await process(samples, timestamp_ms)

    vad.process = measured  # type: ignore[method-assign]
    running = asyncio.create_task(session.run())
    await line.quiet(0.4)
    line.at_ms += 10_000.0  # ten seconds of frames lost
    await line.quiet(0.4)
    await line.queue.put(HangupIn("caller_hung_up"))
    await asyncio.wait_for(running, 30)
    assert sum(sizes) >= 10 * 16000  # the gap was fed as silence
    assert max(sizes) <= 16000 // 5  # never more than 200 ms at once
