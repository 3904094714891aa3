"""The per-call session: where every frame of caller audio goes, and every reply comes from.

transport ─AudioIn─► resample to 16 kHz ─► CallerAudio (kept for STT)
                                        └► VAD ─► Endpointer ─► turn events
PauseStarted  ─► speculative STT on the utterance so far
TurnEnded     ─► transcript (speculative result if the turn really ended) ─► Reply
SpeechStarted while the agent talks ─► barge-in: stop playout, keep only what was heard
Reply: responder ─► SentenceBuffer ─► TTS ─► Playout ─► transport
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import numpy as np

from callwright.agent.caller_audio import CallerAudio
from callwright.agent.clock import AudioClock
from callwright.agent.echo import EchoCanceller
from callwright.agent.history import ConversationHistory, heard_text
from callwright.agent.playout import Playout, PlayoutHooks
from callwright.agent.reply import Reply, ReplyDeps, ReplyResult
from callwright.agent.silence import CannedResponder
from callwright.agent.stack import AgentStack
from callwright.audio.frame import AudioFrame
from callwright.audio.resample import StreamResampler
from callwright.llm.base import CallInfo, Responder, ToolResult, Trigger, TurnContext
from callwright.observe.recorder import CallRecorder
from callwright.observe.timeline import TurnTimeline
from callwright.store.base import CallRecord, Utterance
from callwright.stt.base import Transcript
from callwright.transports.base import AudioIn, CallTransport, DtmfIn, HangupIn
from callwright.turns.backchannel import is_backchannel
from callwright.turns.endpointer import (
    Endpointer,
    PauseStarted,
    SpeechResumed,
    SpeechStarted,
    TurnEnded,
    TurnEvent,
)
from callwright.turns.semantic import PatiencePolicy, completeness

log = logging.getLogger(__name__)

PIPELINE_RATE = 16000
PREROLL_MS = 250.0  # speech onset is confirmed late; keep the audio just before it
GAP_FILL_MS = 40.0  # inbound timestamp jumps larger than this are filled with silence


class CallSession:
    """Runs one call from its first frame to its record being written."""

    def __init__(self, stack: AgentStack, transport: CallTransport, call: CallInfo) -> None:
        self.call = call
        self._stack = stack
        self._transport = transport
        self._clock = AudioClock()
        self._vad = stack.vad.open_stream(PIPELINE_RATE)
        self._endpointer = Endpointer(stack.turns)
        self._resampler = StreamResampler(transport.input_sample_rate, PIPELINE_RATE)
        self._audio = CallerAudio(PIPELINE_RATE)
        self._pipeline_ms = 0.0  # end of the 16 kHz audio fed so far
        self.history = ConversationHistory()
        self._responder = stack.responders.for_call(call)
        self._recorder = CallRecorder(stack.store, call.call_id)
        self._playout = Playout(
            transport.send_audio,
            transport.output_sample_rate,
            hooks=PlayoutHooks(self._on_first_frame, self._on_piece_start, self._on_frame_sent),
        )
        self._echo = EchoCanceller(PIPELINE_RATE)
        self._echo_resampler = StreamResampler(transport.output_sample_rate, PIPELINE_RATE)
        self._reply: Reply | None = None
        self._reply_task: asyncio.Task[ReplyResult] | None = None
        self._reply_count = 0
        self._speculation: tuple[float, asyncio.Task[Transcript]] | None = None
        self._turn_tasks: set[asyncio.Task[None]] = set()
        self._next_timeline: TurnTimeline | None = None
        self._turn_count = 0
        self._utterances = 0
        self._carry_text = ""
        self._patience = PatiencePolicy(stack.patience)
        self._paused_at_ms: float | None = None  # caller speech paused the agent here
        self._backchannel_end_ms: float | None = None  # a turn already handled as "uh-huh"
        self._last_activity_ms = 0.0  # for the silence watchdog
        self._reprompts = 0
        self._outcome: tuple[str, str] | None = None
        self._closer: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Serves the call until either side ends it; always leaves a record."""
        self._recorder.start(
            CallRecord(
                call_id=self.call.call_id,
                channel=self.call.channel,
                caller=self.call.caller,
                started_at=time.time(),
                parameters=dict(self.call.parameters),
            )
        )
        playout_task = asyncio.create_task(self._playout.run(), name="playout")
        watchdog = asyncio.create_task(self._watch_silence(), name="silence-watchdog")
        self._turn_tasks.add(watchdog)  # cancelled with the call's other tasks
        self._start_reply("call_start", TurnTimeline(turn_index=0))
        outcome, reason = "caller_hung_up", "connection closed"
        try:
            async for event in self._transport.inbound():
                if isinstance(event, AudioIn):
                    await self._on_audio(event.frame)
                elif isinstance(event, DtmfIn):
                    self._recorder.event("dtmf", event.at_ms, {"digit": event.digit})
                elif isinstance(event, HangupIn):
                    outcome, reason = event.reason, "ended by the caller"
                    break
        except Exception as exc:
            log.exception("call %s failed", self.call.call_id)
            outcome, reason = "error", f"{type(exc).__name__}: {exc}"
        finally:
            if self._outcome is not None:
                outcome, reason = self._outcome
            await self._shutdown(outcome, reason, playout_task)

    # --- inbound audio -------------------------------------------------------------------

    async def _on_audio(self, frame: AudioFrame) -> None:
        self._clock.on_inbound(frame.end_ms)
        gap = frame.timestamp_ms - self._pipeline_ms
        if gap > GAP_FILL_MS:  # lost frames: the timeline keeps going, as silence
            await self._feed(np.zeros(int(gap * PIPELINE_RATE / 1000), dtype=np.int16))
        await self._feed(self._resampler.process(frame.samples))

    async def _feed(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        start = self._pipeline_ms
        if self._echo.active:
            samples = self._echo.process(samples, start)
        self._audio.append(samples, start)
        self._pipeline_ms += 1000.0 * samples.size / PIPELINE_RATE
        for window in await self._vad.process(samples, start):
            for event in self._endpointer.feed(window):
                await self._on_turn_event(event)
        if self._endpointer.in_turn:
            self._last_activity_ms = self._pipeline_ms
        paused_at = self._paused_at_ms
        if paused_at is not None and self._endpointer.speaking:
            # Still talking well past a backchannel's length: a real interruption.
            if self._pipeline_ms - paused_at >= self._stack.barge_in_confirm_ms:
                await self._barge_in(paused_at)

    async def _on_turn_event(self, event: TurnEvent) -> None:
        if isinstance(event, SpeechStarted):
            self._recorder.event("speech_started", event.at_ms)
            if self._agent_speaking():
                await self._pause_agent(event.at_ms)
            self._next_timeline = TurnTimeline(self._turn_count + 1, speech_start_ms=event.at_ms)
        elif isinstance(event, PauseStarted):
            self._speculate(event.speech_start_ms, event.speech_end_ms)
        elif isinstance(event, SpeechResumed):
            self._patience.caller_resumed(event.pause_ms)
            self._drop_speculation()
            if self._agent_speaking() and self._paused_at_ms is None:
                await self._pause_agent(event.at_ms)
        elif isinstance(event, TurnEnded):
            self._turn_count += 1
            timeline = self._next_timeline or TurnTimeline(self._turn_count)
            timeline.turn_index = self._turn_count
            timeline.mark("speech_start_ms", event.speech_start_ms)
            timeline.mark("speech_end_ms", event.speech_end_ms)
            timeline.mark("end_of_turn_ms", self._clock.now_ms())
            self._next_timeline = None
            task = asyncio.create_task(self._finish_turn(event, timeline))
            self._turn_tasks.add(task)
            task.add_done_callback(self._turn_tasks.discard)

    # --- transcription -------------------------------------------------------------------

    def _utterance_audio(self, start_ms: float, end_ms: float) -> np.ndarray:
        return self._audio.extract(start_ms - PREROLL_MS, end_ms + self._stack.turns.pause_ms)

    def _speculate(self, start_ms: float, end_ms: float) -> None:
        self._drop_speculation()
        audio = self._utterance_audio(start_ms, end_ms)
        task = asyncio.create_task(self._stack.stt.transcribe(audio))
        task.add_done_callback(lambda done: self._on_speculation(end_ms, done))
        self._speculation = (end_ms, task)

    def _on_speculation(self, end_ms: float, task: asyncio.Task[Transcript]) -> None:
        """Decides how long to wait, and whether a pausing agent may go on, from the words."""
        current = self._speculation
        if task.cancelled() or task.exception() or current is None or current[0] != end_ms:
            return
        text = f"{self._carry_text} {task.result().text}".strip()
        verdict = completeness(text)
        wait_ms = self._patience.end_of_turn_ms(verdict)
        self._endpointer.set_end_of_turn_ms(wait_ms)
        self._recorder.event("pause", end_ms, {"completeness": verdict.value, "wait_ms": wait_ms})
        if self._paused_at_ms is not None:
            if is_backchannel(text):
                self._resume_agent(end_ms, text)
            else:
                asyncio.get_running_loop().create_task(self._barge_in(self._paused_at_ms))

    def _drop_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation[1].cancel()
            self._speculation = None

    async def _finish_turn(self, event: TurnEnded, timeline: TurnTimeline) -> None:
        spec = self._speculation
        self._speculation = None
        if spec is not None and spec[0] == event.speech_end_ms:
            timeline.speculative_hit = True
            transcript = await spec[1]
        else:
            if spec is not None:
                spec[1].cancel()
            timeline.speculative_hit = False
            audio = self._utterance_audio(event.speech_start_ms, event.speech_end_ms)
            transcript = await self._stack.stt.transcribe(audio)
        timeline.mark("transcript_ready_ms", self._clock.now_ms())
        timeline.stt_compute_ms = round(transcript.compute_ms, 1)
        text = f"{self._carry_text} {transcript.text}".strip()
        self._recorder.event("transcript", event.speech_end_ms, {"text": transcript.text})
        self._last_activity_ms = self._pipeline_ms
        if self._backchannel_end_ms == event.speech_end_ms or (
            self._agent_speaking() and is_backchannel(text)
        ):
            if self._paused_at_ms is not None:
                self._resume_agent(event.speech_end_ms, text)
            return  # "uh-huh" while the agent talks: it goes on, and no turn is taken
        if self._paused_at_ms is not None:
            await self._barge_in(self._paused_at_ms)
        if not text:
            return  # a noise, a cough: not a turn
        if self._endpointer.in_turn:
            # The caller is already talking again: answer once they are done, with both parts.
            self._carry_text = text
            return
        self._carry_text = ""
        self.history.add_user(text)
        self._add_utterance(
            "caller", text, start_ms=event.speech_start_ms, end_ms=event.speech_end_ms
        )
        await self._transport.send_event(
            {"type": "transcript", "role": "caller", "turn": timeline.turn_index, "text": text}
        )
        self._start_reply("user_turn", timeline)

    # --- replies ---------------------------------------------------------------------------

    def _agent_speaking(self) -> bool:
        reply_running = self._reply_task is not None and not self._reply_task.done()
        return reply_running or self._playout.active

    def _start_reply(
        self, trigger: Trigger, timeline: TurnTimeline, responder: Responder | None = None
    ) -> None:
        self._reply_count += 1
        if trigger != "silence":
            self._reprompts = 0
        deps = ReplyDeps(
            tts=self._stack.tts,
            playout=self._playout,
            now_ms=self._clock.now_ms,
            on_tool_result=self._on_tool_result,
            filler=self._stack.filler,
        )
        reply = Reply(self._reply_count, responder or self._responder, deps, timeline)
        context = TurnContext(self.call, tuple(self.history.messages), trigger)
        self._reply = reply
        self._reply_task = asyncio.create_task(self._run_reply(reply, context))

    async def _run_reply(self, reply: Reply, context: TurnContext) -> ReplyResult:
        result = await reply.run(context)
        self._last_activity_ms = self._pipeline_ms
        if result.text:
            self.history.add_assistant(result.text)
            self._add_utterance("agent", result.text)
        await self._finish_timeline(reply.timeline)
        await self._transport.send_event(
            {"type": "agent_turn_end", "turn": reply.timeline.turn_index, "interrupted": False}
        )
        if result.end_call is not None:
            if self._outcome is None:
                self._outcome = ("completed", result.end_call.reason)
            # Closing ends the inbound loop, whose shutdown cancels this task: close from outside.
            self._closer = asyncio.create_task(self._transport.close(result.end_call.reason))
        return result

    async def _pause_agent(self, at_ms: float) -> None:
        """Caller speech over the agent: silence it at once; decide later if it is real."""
        heard_ms = self._playout.pause()
        await self._transport.clear_audio()
        self._paused_at_ms = at_ms
        self._recorder.event("agent_paused", at_ms, {"heard_ms": round(heard_ms, 1)})

    def _resume_agent(self, end_ms: float, text: str) -> None:
        """It was only a backchannel or a noise: the agent goes on where the caller left it."""
        self._paused_at_ms = None
        self._backchannel_end_ms = end_ms
        self._playout.resume()
        self._recorder.event("backchannel", end_ms, {"text": text})

    async def _barge_in(self, at_ms: float) -> None:
        self._paused_at_ms = None
        reply, task = self._reply, self._reply_task
        if reply is None:
            return  # already handled
        if task is not None:
            task.cancel()
        stop = self._playout.stop()
        await self._transport.clear_audio()
        heard = heard_text(stop.pieces, stop.heard_ms)
        if heard:
            self.history.add_assistant(heard, interrupted=True)
            self._add_utterance("agent", heard, interrupted=True)
        turn = reply.timeline.turn_index if reply else -1
        self._recorder.event("barge_in", at_ms, {"heard": heard, "heard_ms": stop.heard_ms})
        await self._transport.send_event(
            {"type": "interruption", "turn": turn, "heard": heard, "at_ms": round(at_ms, 1)}
        )
        if reply is not None:
            reply.timeline.interrupted = True
            await self._finish_timeline(reply.timeline)
        self._reply = None

    async def _finish_timeline(self, timeline: TurnTimeline) -> None:
        if timeline.speech_end_ms is None and timeline.turn_index != 0:
            return  # a policy line (reprompt, goodbye to a silent caller): no caller turn
        log.info("call %s %s", self.call.call_id, timeline.log_line())
        self._recorder.timeline(timeline)
        await self._transport.send_event({"type": "turn_timeline", **timeline.to_dict()})

    def _on_first_frame(self, reply_id: int) -> None:
        if self._reply is not None and self._reply.reply_id == reply_id:
            self._reply.timeline.mark("first_audio_sent_ms", self._clock.now_ms())

    def _on_frame_sent(self, frame: np.ndarray) -> None:
        reference = self._echo_resampler.process(frame)
        self._echo.add_reference(reference, self._clock.now_ms())

    def _on_piece_start(self, reply_id: int, text: str) -> None:
        if self._reply is not None and self._reply.reply_id == reply_id:
            event = {"type": "agent_text", "turn": self._reply.timeline.turn_index, "text": text}
            asyncio.get_running_loop().create_task(self._transport.send_event(event))

    def _on_tool_result(self, result: ToolResult) -> None:
        self._recorder.event(
            "tool_call",
            self._clock.now_ms(),
            {
                "name": result.call.name,
                "arguments": result.call.arguments,
                "result": result.result,
                "error": result.error,
                "latency_ms": result.latency_ms,
            },
        )

    def _add_utterance(self, role: str, text: str, **kwargs: object) -> None:
        utterance = Utterance(index=self._utterances, role=role, text=text, **kwargs)  # type: ignore[arg-type]
        self._utterances += 1
        self._recorder.utterance(utterance)

    # --- dead air --------------------------------------------------------------------------

    async def _watch_silence(self) -> None:
        """Reprompts a caller who says nothing; ends the call politely after a few tries."""
        options = self._stack.silence
        while True:
            await asyncio.sleep(0.25)
            busy = self._agent_speaking() or self._endpointer.in_turn or self._pending_turns()
            if busy or self._pipeline_ms - self._last_activity_ms < options.reprompt_after_ms:
                continue
            self._last_activity_ms = self._pipeline_ms
            if self._reprompts >= options.max_reprompts:
                self._recorder.event("caller_silent", self._pipeline_ms, {})
                self._outcome = ("caller_silent", "no answer after reprompts")
                goodbye = CannedResponder(options.goodbye, end_call="caller silent")
                self._start_reply("silence", TurnTimeline(self._turn_count), goodbye)
                return
            self._reprompts += 1
            self._recorder.event("reprompt", self._pipeline_ms, {"count": self._reprompts})
            reprompt = CannedResponder(options.reprompt)
            self._start_reply("silence", TurnTimeline(self._turn_count), reprompt)

    def _pending_turns(self) -> bool:
        current = asyncio.current_task()
        return any(not t.done() and t is not current for t in self._turn_tasks)

    # --- the end -------------------------------------------------------------------------

    async def _shutdown(self, outcome: str, reason: str, playout_task: asyncio.Task[None]) -> None:
        if self._agent_speaking() and self._reply is not None and self._outcome is None:
            await self._barge_in(self._clock.now_ms())  # keep what the caller heard
        pending: list[asyncio.Task[Any]] = [playout_task, *self._turn_tasks]
        if self._reply_task is not None:
            pending.append(self._reply_task)
        self._drop_speculation()
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(BaseException):
                await task
        self._recorder.event("call_ended", self._clock.now_ms(), {"outcome": outcome})
        await self._recorder.finish(outcome, reason)
        with contextlib.suppress(Exception):
            await self._transport.close(reason)
        log.info("call %s ended: %s (%s)", self.call.call_id, outcome, reason)
