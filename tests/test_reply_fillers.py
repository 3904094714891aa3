"""Dead-air fillers in one reply: they cover a slow responder, never a slow voice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np

from callwright.agent.playout import Playout
from callwright.agent.reply import Reply, ReplyDeps, ReplyResult
from callwright.agent.silence import CannedResponder, FillerOptions
from callwright.core.responder import CallInfo, ResponseEvent, TextDelta, TurnContext
from callwright.core.timeline import TurnTimeline
from callwright.tts.espeak import EspeakTts

CALL = CallInfo(call_id="fillers", channel="test", caller="+15550100")
QUICK = FillerOptions(first_after_ms=50.0, again_after_ms=50.0, phrases=("One moment.",))
GOODBYE = "We have reached the time limit for this call. Goodbye."


class SlowStartTts:
    """espeak-ng that takes a while before its first audio, like a voice on a loaded machine."""

    def __init__(self, delay_s: float) -> None:
        self.inner = EspeakTts()
        self.name = self.inner.name
        self.sample_rate = self.inner.sample_rate
        self.delay_s = delay_s
        self.texts: list[str] = []

    async def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        self.texts.append(text)
        await asyncio.sleep(self.delay_s)
        async for chunk in self.inner.synthesize(text):
            yield chunk


class SlowResponder:
    """Answers after a pause, like a slow tool call."""

    def __init__(self, delay_s: float, text: str) -> None:
        self.delay_s = delay_s
        self.text = text

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        await asyncio.sleep(self.delay_s)
        yield TextDelta(self.text)


async def _run(responder: CannedResponder | SlowResponder, tts: SlowStartTts) -> ReplyResult:
    async def send(frame: np.ndarray) -> None:
        return None

    playout = Playout(send, 16000)
    playing = asyncio.create_task(playout.run())
    deps = ReplyDeps(
        tts=tts, playout=playout, now_ms=lambda: time.monotonic() * 1000.0, filler=QUICK
    )
    try:
        reply = Reply(1, responder, deps, TurnTimeline(turn_index=1))
        return await reply.run(TurnContext(CALL, (), "user_turn"))
    finally:
        playing.cancel()


async def test_a_line_ready_at_once_gets_no_filler_even_when_the_voice_is_slow() -> None:
    tts = SlowStartTts(delay_s=0.4)  # far beyond the 50 ms before a filler
    result = await _run(CannedResponder(GOODBYE, end_call="max_duration"), tts)
    assert " ".join(tts.texts) == GOODBYE  # sentence by sentence, and nothing else
    assert result.text == GOODBYE
    assert result.end_call is not None and result.end_call.reason == "max_duration"


async def test_a_slow_responder_still_gets_its_filler_first() -> None:
    tts = SlowStartTts(delay_s=0.0)
    result = await _run(SlowResponder(0.4, "Your appointment is booked."), tts)
    assert tts.texts[0] == "One moment."
    assert tts.texts[-1] == "Your appointment is booked."
    assert result.text.startswith("One moment.")
    assert result.text.endswith("Your appointment is booked.")
