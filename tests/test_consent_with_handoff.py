"""The recording consent question and a handoff asked for before it is answered.

A caller who presses 0 while the consent question is open is handed over: their words are
then the handoff's ("Yes, please call me back" asks for the callback, it does not consent), the
held recording is dropped, and a caller who then says nothing at the callback offer is
reprompted and let go, not held on the line until the call's time limit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np
import pytest

from callwright.agent import call_compliance
from callwright.agent.session import CallSession
from callwright.agent.silence import SilenceOptions
from callwright.agent.stack import AgentStack
from callwright.audio.frame import AudioFrame
from callwright.audio.resample import StreamResampler
from callwright.core.responder import CallInfo
from callwright.transports.base import AudioIn, DtmfIn, HangupIn, InboundEvent
from examples.clinic.front_desk import DemoResponderFactory
from tests.conftest import BRIEF_GREETING, finished_call

RATE = 8000


class PhoneLine:
    """A caller's line: what the test puts in its queue, in real time; agent audio dropped."""

    channel = "test"
    input_sample_rate = RATE
    output_sample_rate = RATE

    def __init__(self) -> None:
        self.queue: asyncio.Queue[InboundEvent | None] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.at_ms = 0.0
        self._noise = np.random.default_rng(7)

    async def inbound(self) -> AsyncIterator[InboundEvent]:
        while not self.closed.is_set():
            event = await self.queue.get()
            if event is None:
                return
            yield event
            if isinstance(event, HangupIn):
                return

    async def send_audio(self, samples: np.ndarray) -> None:
        """Drops the agent's audio."""

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Drops control events."""

    async def clear_audio(self) -> None:
        """Nothing buffered."""

    async def close(self, reason: str) -> None:
        self.closed.set()
        self.queue.put_nowait(None)

    async def play(self, samples: np.ndarray) -> None:
        """Sends `samples` as 20 ms frames, paced as a phone sends them."""
        start = time.monotonic()
        for k, first in enumerate(range(0, samples.size - 159, 160)):
            if self.closed.is_set():
                return
            frame = samples[first : first + 160].astype(np.int16)
            await self.queue.put(AudioIn(AudioFrame(frame, RATE, self.at_ms)))
            self.at_ms += 20.0
            delay = start + (k + 1) * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def quiet(self, seconds: float) -> None:
        """A line's hiss, no speech."""
        await self.play(self._noise.standard_normal(int(seconds * RATE)) * 30.0)


def consent_asked(stack: AgentStack, silence: SilenceOptions | None = None) -> AgentStack:
    """The demo agent, a brief opening, and consent asked of every caller on this line."""
    disclosure = dataclasses.replace(
        stack.disclosure, channels=("test",), always_ask=True, text="This call is recorded."
    )
    return dataclasses.replace(
        stack,
        responders=DemoResponderFactory(greeting=BRIEF_GREETING),
        disclosure=disclosure,
        silence=silence or stack.silence,
    )


async def test_words_after_a_handoff_are_the_handoffs_not_consent(stack: AgentStack) -> None:
    own = consent_asked(stack)
    spoken = [c async for c in own.tts.synthesize("Yes, please call me back.")]
    words = StreamResampler(own.tts.sample_rate, RATE).process(np.concatenate(spoken))
    line = PhoneLine()
    call = CallInfo(call_id=uuid.uuid4().hex, channel="test", caller="+15550100")
    session = CallSession(own, line, call)
    running = asyncio.create_task(session.run())
    await line.quiet(6.0)  # the consent question is asked
    await line.queue.put(DtmfIn("0", line.at_ms))  # a person, please
    await line.quiet(6.0)  # nobody at the desk: a callback is offered
    await line.play(words)
    await line.quiet(6.0)
    await line.queue.put(HangupIn("caller_hung_up"))
    await asyncio.wait_for(running, 30)
    detail = await finished_call(own, call.call_id)
    kinds = [e.kind for e in detail.events]
    assert "callback_requested" in kinds, kinds
    consent = [e.data.get("answer") for e in detail.events if e.kind == "recording_consent"]
    assert "granted" not in consent
    stopped = [e.data["reason"] for e in detail.events if e.kind == "recording_stopped"]
    assert stopped == ["handed over before answering"]
    assert not detail.has_recording


async def test_a_silent_caller_at_the_callback_offer_is_let_go(stack: AgentStack) -> None:
    own = consent_asked(stack, SilenceOptions(reprompt_after_ms=2500.0, max_reprompts=1))
    line = PhoneLine()
    call = CallInfo(call_id=uuid.uuid4().hex, channel="test", caller="+15550100")
    session = CallSession(own, line, call)
    running = asyncio.create_task(session.run())
    await line.quiet(6.0)
    await line.queue.put(DtmfIn("0", line.at_ms))
    await line.quiet(1.0)
    assert session.handoff.mode == "callback_offer"  # nobody at the desk to take the call
    pumping = asyncio.create_task(line.quiet(60.0))  # silence, until the call lets go
    await asyncio.wait_for(running, 60)
    pumping.cancel()
    detail = await finished_call(own, call.call_id)
    kinds = [e.kind for e in detail.events]
    assert "reprompt" in kinds and "caller_silent" in kinds, kinds
    assert detail.record.outcome == "caller_silent"


async def test_a_recording_held_past_its_limit_is_dropped(
    stack: AgentStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held for the consent answer, the recording is in memory only: a question left
    unanswered past the limit drops it, rather than hold a growing recording all call."""
    monkeypatch.setattr(call_compliance, "MAX_HELD_RECORDING_S", 3.0)
    own = consent_asked(stack)
    line = PhoneLine()
    call = CallInfo(call_id=uuid.uuid4().hex, channel="test", caller="+15550100")
    session = CallSession(own, line, call)
    running = asyncio.create_task(session.run())
    await line.quiet(5.0)
    held = session._observer.recording_held
    await line.queue.put(HangupIn("caller_hung_up"))
    await asyncio.wait_for(running, 30)
    detail = await finished_call(own, call.call_id)
    stopped = [e.data["reason"] for e in detail.events if e.kind == "recording_stopped"]
    assert stopped == ["no answer to the consent question in time"]
    assert not held and not detail.has_recording
