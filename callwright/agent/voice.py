"""The speaking half of a call: replies, their playout, and being interrupted.

The voice carries out what barge-in decides (agent/barge_in.py): `duck` lowers it at once
(the caller hears the agent yield, but no gap), `restore` brings back full volume after a
backchannel, `barge_in` ends the reply, keeping in the history only what the caller heard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from callwright.agent.call_state import CallState
from callwright.agent.echo import EchoCanceller
from callwright.agent.head_start import HeadStart
from callwright.agent.history import heard_text
from callwright.agent.playout import Playout, PlayoutHooks
from callwright.agent.reply import Reply, ReplyDeps, ReplyResult
from callwright.agent.silence import FillerOptions
from callwright.agent.stack import AgentStack
from callwright.audio.resample import StreamResampler
from callwright.core.responder import (
    Message,
    Preempts,
    PreviewsReply,
    Responder,
    ToolResult,
    TransferCall,
    Trigger,
    TurnContext,
)
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
        self._background: set[asyncio.Task[Any]] = set()
        self._closing: asyncio.Task[None] | None = None
        self._heard_pieces: tuple[str, ...] = ()  # of the last interrupted reply, heard in full
        self._listener = listener
        self._head_start: HeadStart | None = None  # for the turn being decided
        # What the responder was last asked to prepare: (history length, the words).
        self._prepared_key: tuple[int, tuple[str, ...]] | None = None
        self._head_start_turns: dict[HeadStart, TurnTimeline] = {}  # handed to a reply

    @property
    def speaking(self) -> bool:
        """True while a reply is being produced or its audio is still playing."""
        running = self._reply_task is not None and not self._reply_task.done()
        return running or self.playout.active

    def prepare(self, text: str | None) -> None:
        """Lets the responder start on what the caller probably said (`Preempts`), and
        synthesizes the first clause of what it writes (`PreviewsReply`, `HeadStart`); None:
        the caller went on, drop both. The same words again (a second look at a long pause
        that only added a full stop) keep both: the request and its audio are well under way.
        """
        responder = self._responder
        history = self._state.history.messages
        key = (len(history), tuple(re.findall(r"\w+", text.lower()))) if text else None
        if key is not None and key == self._prepared_key:
            return
        self._prepared_key = key
        self._drop_head_start("the caller went on" if text is None else "newer words")
        if not isinstance(responder, Preempts):
            return
        context = None
        if text:
            history = (*self._state.history.messages, Message(role="user", content=text))
            context = TurnContext(
                self._state.call, history, "user_turn", language=self._state.language
            )
        try:
            responder.prepare(context)
            # Only a reply the responder really started can be previewed: a turn answered in
            # fixed words (no LLM, a guardrail, a goodbye) gets no head start.
            if (
                context is not None
                and isinstance(responder, PreviewsReply)
                and responder.has_preview()
            ):
                spoken = self._stack.spoken(self._state.language)
                self._head_start = HeadStart(
                    responder.preview(),
                    spoken.tts,
                    spoken.speech,
                    self._state.clock.now_ms,
                    on_closed=self._record_head_start,
                    pace=spoken.pace,
                )
        except Exception:  # a head start only: the turn is answered without it
            log.exception("call %s: preparing a reply failed", self._state.call.call_id)

    def _filler(self) -> FillerOptions:
        """The stack's filler timing, with the fillers of the call's language."""
        phrases = self._stack.lines(self._state.language).fillers
        return replace(self._stack.filler, phrases=phrases)

    def _drop_head_start(self, reason: str) -> None:
        head, self._head_start = self._head_start, None
        if head is not None:
            head.close("dropped", reason)

    def _record_head_start(self, head: HeadStart) -> None:
        data = head.record()
        timeline = self._head_start_turns.pop(head, None)
        if timeline is not None:  # the turn it was for: where the benchmark measures from
            data |= {
                "speech_end_ms": timeline.speech_end_ms,
                "end_of_turn_ms": timeline.end_of_turn_ms,
            }
        self._state.recorder.event("head_start", head.marks["words_ms"], data)

    def start(
        self, trigger: Trigger, timeline: TurnTimeline, responder: Responder | None = None
    ) -> None:
        """Starts a reply (the call's responder unless another, e.g. a policy line, is given)."""
        self._count += 1
        spoken = self._stack.spoken(self._state.language)
        head_start = None
        if responder is None and trigger == "user_turn":
            head_start, self._head_start = self._head_start, None
            self._prepared_key = None  # this turn's words are answered now
            if head_start is not None:
                self._head_start_turns[head_start] = timeline
        deps = ReplyDeps(
            tts=spoken.tts,
            playout=self.playout,
            now_ms=self._state.clock.now_ms,
            on_tool_result=self._on_tool_result,
            # Fillers cover a slow responder; a policy line (reprompt, goodbye, limit) is
            # known at once and never gets one.
            filler=self._filler() if responder is None else None,
            already_heard=self._heard_pieces if trigger == "user_turn" else (),
            speech=spoken.speech,
            head_start=head_start,
        )
        self._heard_pieces = ()
        reply = Reply(self._count, responder or self._responder, deps, timeline)
        state = self._state
        context = TurnContext(
            state.call, tuple(state.history.messages), trigger, language=state.language
        )
        self._reply = reply
        self._reply_task = asyncio.create_task(self._run(reply, context))

    async def _run(self, reply: Reply, context: TurnContext) -> ReplyResult:
        result = await reply.run(context)
        state = self._state
        if result.text:
            state.history.add_assistant(result.text)
            state.add_utterance("agent", result.text)
        if result.failed:  # the apology answered: the turn was no answer, and figures say so
            turn = reply.timeline.turn_index
            state.recorder.event("reply_failed", state.clock.now_ms(), {"turn": turn})
        await self._finish_timeline(reply.timeline, failed=result.failed)
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

    async def duck(self, at_ms: float, gain: float) -> None:
        """Caller speech over the agent at `at_ms`: play on at `gain` from now, with no gap."""
        # Frames already at the caller (the playout's lead) would play at full volume: take
        # them back and send them again, ducked, with no gap.
        heard_ms = self.playout.pause()
        await self._state.transport.clear_audio()
        self.playout.duck(gain)
        await self.playout.refill_lead()  # no gap: the ducked lead follows the clear at once
        self.playout.resume()
        # When the ducked lead was on its way, on the audio timeline: the yield's latency.
        decided_at = round(self._state.clock.now_ms(), 1)
        details = {"heard_ms": round(heard_ms, 1), "ducked_to": gain, "decided_at_ms": decided_at}
        self._state.recorder.event("agent_paused", at_ms, details)

    def restore(self, end_ms: float, text: str) -> None:
        """It was only a backchannel or a noise: back to full volume at once."""
        self.playout.duck(1.0)
        self.playout.resume()
        self._state.recorder.event("backchannel", end_ms, {"text": text})

    async def barge_in(self, at_ms: float) -> None:
        """A real interruption: the reply ends; history keeps what the caller heard."""
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
        self._spawn(self.playout.run(), "playout")

    async def close(self) -> None:
        """At the end of the call: keep what was heard of an unfinished reply, stop tasks."""
        # The line may be cut by the caller hanging up, an ending line included ("goodbye",
        # the time limit): what they heard of it stays in the transcript.
        producing = self._reply_task is not None and not self._reply_task.done()
        playing = self.playout.active and self._state.outcome is None
        if self._reply is not None and (producing or playing):
            await self.barge_in(self._state.clock.now_ms())
        self._drop_head_start("the call ended")
        if isinstance(self._responder, Preempts):
            # A request started on the caller's last words would run on (and be paid for)
            # after the call ended.
            with contextlib.suppress(Exception):
                self._responder.prepare(None)
        pending = [*self._background, *([self._reply_task] if self._reply_task else [])]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task
        if self._closing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._closing, timeout=3.0)

    def _spawn(self, coro: Coroutine[Any, Any, None], stage: str = "voice") -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda done: self._failed(done, stage))

    def _failed(self, task: asyncio.Task[None], stage: str) -> None:
        if self._state.task_failed(task, stage) is not None and stage == "playout":
            # Nothing more can be said to the caller: end the call rather than leave it mute.
            if self._state.outcome is None:
                self._state.outcome = ("error", "the agent's audio output failed")
            self._closing = asyncio.create_task(self._state.transport.close("error"))

    async def _finish_timeline(self, timeline: TurnTimeline, failed: bool = False) -> None:
        if timeline.speech_end_ms is None and timeline.turn_index != 0:
            return  # a policy line (reprompt, goodbye to a silent caller): no caller turn
        state = self._state
        log.info("call %s %s", state.call.call_id, timeline.log_line())
        state.recorder.timeline(timeline)
        event = {"type": "turn_timeline", **timeline.to_dict()}
        if failed:  # answered by the apology of a responder that failed
            event["failed"] = True
        await state.transport.send_event(event)

    def _on_first_frame(self, reply_id: int, offset_ms: float) -> None:
        if self._reply is not None and self._reply.reply_id == reply_id:
            now_ms = self._state.clock.now_ms()
            self._reply.timeline.mark("first_audio_sent_ms", now_ms + offset_ms)

    def _on_frame_sent(self, frame: np.ndarray, plays_at_s: float) -> None:
        # Stamped when the caller plays it, not when it left: its echo follows the playing.
        # After the event loop stalls, the caller's buffered lead plays on, so its echo moves
        # by less than the send time did, and a reference stamped at sending would shift
        # against the echo until the canceller found the delay again, letting it through.
        reference = self._echo_resampler.process(frame)
        at_ms = self._state.clock.now_ms() + 1000.0 * (plays_at_s - time.monotonic())
        self._echo.add_reference(reference, at_ms)

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
