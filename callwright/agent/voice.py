"""The speaking half of a call: replies, their playout, and being interrupted.

Barge-in is two-step. Caller speech over the agent ducks it at once (`pause`: it goes on at a
low volume, so the caller hears the agent yield but no gap); the words then decide, the first
ones within a few hundred ms: a backchannel restores full volume (`resume`), anything else
ends the reply (`barge_in`), keeping in the history only what the caller heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

import numpy as np

from callwright.agent.call_state import CallState
from callwright.agent.echo import EchoCanceller
from callwright.agent.history import heard_text
from callwright.agent.playout import Playout, PlayoutHooks
from callwright.agent.reply import Reply, ReplyDeps, ReplyResult
from callwright.agent.stack import AgentStack
from callwright.audio.resample import StreamResampler
from callwright.core.responder import Responder, ToolResult, TransferCall, Trigger, TurnContext
from callwright.core.timeline import TurnTimeline
from callwright.transports.base import playback_confirmer

log = logging.getLogger(__name__)


class VoiceListener(Protocol):
    """Hears what the voice did: the session's handoff policy watches replies."""

    async def reply_finished(self, text: str, trigger: Trigger) -> None:
        """A reply was spoken in full."""
        ...

    async def transfer_requested(self, end: TransferCall) -> None:
        """The responder asked to hand the caller to a person; the reply has been spoken."""
        ...


class AgentVoice:
    """Starts replies, plays them, and handles the caller talking over them.

    Args:
        stack: the shared stages.
        state: the call's shared state.
        responder: the call's responder.
        echo: the call's echo canceller, fed with every frame played.
        pipeline_rate: the rate of the listening pipeline (for the echo reference).
        listener: hears finished replies and transfer requests (the session's handoff policy).
    """

    def __init__(
        self,
        stack: AgentStack,
        state: CallState,
        responder: Responder,
        echo: EchoCanceller,
        pipeline_rate: int,
        listener: VoiceListener,
    ) -> None:
        self._stack = stack
        self._state = state
        self._responder = responder
        self._echo = echo
        transport = state.transport
        self._echo_resampler = StreamResampler(transport.output_sample_rate, pipeline_rate)
        self.playout = Playout(
            transport.send_audio,
            transport.output_sample_rate,
            hooks=PlayoutHooks(self._on_first_frame, self._on_piece_start, self._on_frame_sent),
            confirmed_played=playback_confirmer(transport),
        )
        self._reply: Reply | None = None
        self._reply_task: asyncio.Task[ReplyResult] | None = None
        self._count = 0
        self.paused_at_ms: float | None = None  # caller speech paused the agent here
        self.backchannel_end_ms: float | None = None  # a caller turn already taken as "uh-huh"
        self._background: set[asyncio.Task[Any]] = set()
        self._closing: asyncio.Task[None] | None = None
        self._heard_pieces: tuple[str, ...] = ()  # of the last interrupted reply, heard in full
        self._listener = listener

    @property
    def speaking(self) -> bool:
        """True while a reply is being produced or its audio is still playing."""
        running = self._reply_task is not None and not self._reply_task.done()
        return running or self.playout.active

    def start(
        self, trigger: Trigger, timeline: TurnTimeline, responder: Responder | None = None
    ) -> None:
        """Starts a reply (the call's responder unless another, e.g. a policy line, is given)."""
        self._count += 1
        deps = ReplyDeps(
            tts=self._stack.tts,
            playout=self.playout,
            now_ms=self._state.clock.now_ms,
            on_tool_result=self._on_tool_result,
            # Fillers cover a slow responder; a policy line (reprompt, goodbye, limit) is
            # known at once and never gets one.
            filler=self._stack.filler if responder is None else None,
            already_heard=self._heard_pieces if trigger == "user_turn" else (),
            speech=self._stack.speech,
        )
        self._heard_pieces = ()
        reply = Reply(self._count, responder or self._responder, deps, timeline)
        state = self._state
        context = TurnContext(state.call, tuple(state.history.messages), trigger)
        self._reply = reply
        self._reply_task = asyncio.create_task(self._run(reply, context))

    async def _run(self, reply: Reply, context: TurnContext) -> ReplyResult:
        result = await reply.run(context)
        state = self._state
        if result.text:
            state.history.add_assistant(result.text)
            state.add_utterance("agent", result.text)
        await self._finish_timeline(reply.timeline)
        await state.transport.send_event(
            {"type": "agent_turn_end", "turn": reply.timeline.turn_index, "interrupted": False}
        )
        end = result.end_call
        if isinstance(end, TransferCall):  # the handoff policy decides where the caller goes
            self._spawn(self._listener.transfer_requested(end))
        elif end is not None:
            if state.outcome is None:
                state.outcome = ("completed", end.reason)
            # Closing ends the inbound loop, whose shutdown cancels this task: close from outside.
            self._closing = asyncio.create_task(state.transport.close(end.reason))
        elif result.text:
            self._spawn(self._listener.reply_finished(result.text, context.trigger))
        return result

    async def wait_quiet(self) -> None:
        """Returns once no reply is being produced or played."""
        # Polled: "speaking" spans the reply task and the playout queue, which has no event.
        while self.speaking:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    async def pause(self, at_ms: float) -> None:
        """Caller speech over the agent: duck it at once (no gap); decide soon if it is real."""
        gain = self._stack.duck_gain
        # Frames already at the caller (the playout's lead) would play at full volume: take
        # them back and send them again, ducked, with no gap.
        heard_ms = self.playout.pause()
        await self._state.transport.clear_audio()
        self.playout.duck(gain)
        self.playout.resume()
        self.paused_at_ms = at_ms
        details = {"heard_ms": round(heard_ms, 1), "ducked_to": gain}
        self._state.recorder.event("agent_paused", at_ms, details)

    def resume(self, end_ms: float, text: str) -> None:
        """It was only a backchannel or a noise: back to full volume at once."""
        self.paused_at_ms = None
        self.backchannel_end_ms = end_ms
        self.playout.duck(1.0)
        self.playout.resume()
        self._state.recorder.event("backchannel", end_ms, {"text": text})

    def barge_in_soon(self, at_ms: float) -> None:
        """`barge_in` from synchronous code (a callback)."""
        self._spawn(self.barge_in(at_ms))

    async def barge_in(self, at_ms: float) -> None:
        """A real interruption: the reply ends; history keeps what the caller heard."""
        self.paused_at_ms = None
        reply, task = self._reply, self._reply_task
        if reply is None:
            return  # already handled
        self._reply = None
        if task is not None:
            task.cancel()
        stop = self.playout.stop()
        state = self._state
        await state.transport.clear_audio()
        heard = heard_text(stop.pieces, stop.heard_ms)
        self._heard_pieces = tuple(fully_heard(stop.pieces, stop.heard_ms))
        if heard:
            state.history.add_assistant(heard, interrupted=True)
            state.add_utterance("agent", heard, interrupted=True)
        turn = reply.timeline.turn_index
        details = {"heard": heard, "heard_ms": stop.heard_ms, "decided_at_ms": state.clock.now_ms()}
        state.recorder.event("barge_in", at_ms, details)
        await state.transport.send_event(
            {"type": "interruption", "turn": turn, "heard": heard, "at_ms": round(at_ms, 1)}
        )
        reply.timeline.interrupted = True
        await self._finish_timeline(reply.timeline)

    def begin(self) -> None:
        """Starts the playout loop; call once the call is up."""
        self._spawn(self.playout.run())

    async def close(self) -> None:
        """At the end of the call: keep what was heard of an unfinished reply, stop tasks."""
        if self.speaking and self._reply is not None and self._state.outcome is None:
            await self.barge_in(self._state.clock.now_ms())
        pending = [*self._background, *([self._reply_task] if self._reply_task else [])]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task
        if self._closing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._closing, timeout=3.0)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _finish_timeline(self, timeline: TurnTimeline) -> None:
        if timeline.speech_end_ms is None and timeline.turn_index != 0:
            return  # a policy line (reprompt, goodbye to a silent caller): no caller turn
        state = self._state
        log.info("call %s %s", state.call.call_id, timeline.log_line())
        state.recorder.timeline(timeline)
        await state.transport.send_event({"type": "turn_timeline", **timeline.to_dict()})

    def _on_first_frame(self, reply_id: int) -> None:
        if self._reply is not None and self._reply.reply_id == reply_id:
            self._reply.timeline.mark("first_audio_sent_ms", self._state.clock.now_ms())

    def _on_frame_sent(self, frame: np.ndarray) -> None:
        reference = self._echo_resampler.process(frame)
        self._echo.add_reference(reference, self._state.clock.now_ms())

    def _on_piece_start(self, reply_id: int, text: str) -> None:
        if self._reply is not None and self._reply.reply_id == reply_id:
            event = {"type": "agent_text", "turn": self._reply.timeline.turn_index, "text": text}
            self._spawn(self._state.transport.send_event(event))

    def _on_tool_result(self, result: ToolResult) -> None:
        call = {
            "name": result.call.name,
            "arguments": result.call.arguments,
            "result": result.result,
            "error": result.error,
            "latency_ms": result.latency_ms,
        }
        self._state.tool_calls.append(call)
        self._state.recorder.event("tool_call", self._state.clock.now_ms(), call)
        # The model sees what its tools returned on later turns too, not only in this reply.
        self._state.history.add_tool_exchange(result)


def fully_heard(pieces: list[tuple[str, float]], heard_ms: float) -> list[str]:
    """The pieces of a reply whose whole audio the caller heard, in order."""
    out: list[str] = []
    elapsed = 0.0
    for text, duration_ms in pieces:
        elapsed += duration_ms
        if elapsed > heard_ms:
            break
        out.append(text)
    return out
