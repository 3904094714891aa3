"""A call's outcome is the first one decided: a shutdown or a time limit that comes after a
transfer (or any other ending) closes the call but does not rewrite why it ended."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np

from callwright.agent.session import CallSession
from callwright.agent.stack import AgentStack
from callwright.core.responder import CallInfo, Message, ResponseEvent, TextDelta, TurnContext
from callwright.transports.base import InboundEvent
from tests.conftest import finished_call


class QuietLine:
    """A caller who stays on the line, silent, until we close it."""

    channel = "test"
    input_sample_rate = 16000
    output_sample_rate = 16000

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def inbound(self) -> AsyncIterator[InboundEvent]:
        await self.closed.wait()
        return
        yield  # an async generator that yields nothing

    async def send_audio(self, samples: np.ndarray) -> None:
        """Drops the agent's audio."""

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Drops control events."""

    async def clear_audio(self) -> None:
        """Nothing buffered."""

    async def close(self, reason: str) -> None:
        self.closed.set()


async def test_a_shutdown_after_a_transfer_keeps_transferred(stack: AgentStack) -> None:
    call = CallInfo(call_id=uuid.uuid4().hex, channel="test")
    session = CallSession(stack, QuietLine(), call)
    running = asyncio.create_task(session.run())
    await asyncio.sleep(0.5)  # the greeting starts
    # What the handoff does once the transfer went through, before the line closes.
    session.state.outcome = ("transferred", "caller asked for a person")
    await asyncio.wait_for(session.end(None, "server_shutdown"), 30)
    await asyncio.wait_for(running, 30)
    detail = await finished_call(stack, call.call_id)
    assert detail.record.outcome == "transferred"
    assert [e.data["outcome"] for e in detail.events if e.kind == "ending"] == ["server_shutdown"]


async def test_a_shutdown_with_nothing_decided_is_the_outcome(stack: AgentStack) -> None:
    call = CallInfo(call_id=uuid.uuid4().hex, channel="test")
    session = CallSession(stack, QuietLine(), call)
    running = asyncio.create_task(session.run())
    await asyncio.sleep(0.5)
    await asyncio.wait_for(session.end(None, "server_shutdown"), 30)
    await asyncio.wait_for(running, 30)
    detail = await finished_call(stack, call.call_id)
    assert detail.record.outcome == "server_shutdown"


async def test_an_ending_line_the_caller_hangs_up_on_keeps_what_they_heard(
    stack: AgentStack,
) -> None:
    line = QuietLine()
    call = CallInfo(call_id=uuid.uuid4().hex, channel="test")
    session = CallSession(stack, line, call)
    running = asyncio.create_task(session.run())
    await asyncio.sleep(0.5)
    await asyncio.wait_for(session.voice.wait_quiet(), 30)  # the greeting played out
    goodbye = (
        "Thanks for calling. We have to end this call now, because we did not hear anything "
        "from you for a while, and we hope to hear from you again very soon. Goodbye."
    )
    session._say_policy_line(goodbye, "caller_silent")
    await asyncio.sleep(2.0)  # the first sentence is out, the rest is not
    line.closed.set()  # the caller hangs up
    await asyncio.wait_for(running, 30)
    detail = await finished_call(stack, call.call_id)
    cut = [u for u in detail.utterances if u.role == "agent" and u.interrupted]
    assert len(cut) == 1 and cut[0].text
    assert goodbye.startswith(cut[0].text) and cut[0].text != goodbye
    assert detail.record.outcome == "caller_silent"


class PreparingResponder:
    """Answers in fixed words and records what it was asked to prepare (`Preempts`)."""

    def __init__(self) -> None:
        self.prepared: list[object] = []

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        yield TextDelta("Hello.")

    def prepare(self, context: TurnContext | None) -> None:
        self.prepared.append(context)


class PreparingFactory:
    name = "preparing"

    def __init__(self) -> None:
        self.responders: list[PreparingResponder] = []

    def for_call(self, call: CallInfo) -> PreparingResponder:
        self.responders.append(PreparingResponder())
        return self.responders[-1]


async def test_a_request_started_on_the_last_words_is_dropped_when_the_call_ends(
    stack: AgentStack,
) -> None:
    """The caller paused (a reply was started on their words) and hung up: the request must
    not run on, and be paid for, after the call."""
    factory = PreparingFactory()
    own = dataclasses.replace(stack, responders=factory)
    call = CallInfo(call_id=uuid.uuid4().hex, channel="test")
    session = CallSession(own, QuietLine(), call)
    running = asyncio.create_task(session.run())
    await asyncio.sleep(0.5)
    [responder] = factory.responders
    responder.prepare(TurnContext(call, (Message(role="user", content="What are your"),)))
    await asyncio.wait_for(session.end(None, "caller_hung_up"), 30)
    await asyncio.wait_for(running, 30)
    assert responder.prepared[-1] is None
