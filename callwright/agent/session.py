"""The per-call session: where every frame of caller audio goes, and what it leads to.

transport ─AudioIn─► resample to 16 kHz ─► EchoCanceller ─► CallerAudio (kept for STT)
                                                        └► VAD ─► Endpointer ─► turn events
SpeechStarted over the agent ─► BargeIn: duck it (the words decide: agent/barge_in.py)
PauseStarted ─► TurnTranscriber: speculative STT ─► how long to wait; words to BargeIn
TurnEnded    ─► transcript ─► TurnRouting (agent/turn_routing.py): opt-out, consent, the
                 escalation triggers ─► AgentVoice.start, or CallHandoff.escalate
Disclosure, consent, opt-outs, answering machines: CallCompliance (agent/call_compliance.py)
AgentVoice: responder ─► SentenceBuffer ─► TTS ─► Playout ─► transport
CallHandoff (after an escalation): queue + hold audio, or caller audio ◄─► a person's console
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

import numpy as np

from callwright.agent.barge_in import BargeIn, BargeInOptions
from callwright.agent.call_compliance import CallCompliance
from callwright.agent.call_state import CallState
from callwright.agent.caller_audio import CallerAudio
from callwright.agent.echo import open_echo_canceller
from callwright.agent.inbound import InboundReader
from callwright.agent.limits import RealTimePacer, WallClockWatch
from callwright.agent.silence import CannedResponder, SilenceWatchdog
from callwright.agent.stack import AgentStack
from callwright.agent.turn_judge import TurnJudge
from callwright.agent.turn_routing import TurnRouting
from callwright.agent.turn_transcriber import TurnTranscriber
from callwright.agent.voice import AgentVoice
from callwright.audio.frame import AudioFrame
from callwright.audio.resample import StreamResampler
from callwright.core.clock import AudioClock
from callwright.core.provider_events import (
    bind_call_events,
    describe,
    release_call_events,
)
from callwright.core.responder import CallInfo, HasHandoffFacts, Responder, TransferCall, Trigger
from callwright.core.timeline import TurnTimeline
from callwright.handoff.call import CallHandoff
from callwright.observe.record_writer import CallRecordWriter
from callwright.store.base import CallRecord
from callwright.transports.base import AudioIn, CallTransport, DtmfIn, HangupIn, InboundEvent
from callwright.turns.endpointer import (
    Endpointer,
    PauseStarted,
    SpeechResumed,
    SpeechStarted,
    TurnEnded,
    TurnEvent,
)
from callwright.turns.semantic import PatiencePolicy

log = logging.getLogger(__name__)

PIPELINE_RATE = 16000
GAP_FILL_MS = 40.0  # inbound timestamp jumps larger than this are filled with silence
# Silence filling a gap goes to the VAD this much at a time: its windows are batched with every
# other call's, and a 29 s gap in one piece held them all for some 200 ms.
GAP_FILL_STEP_MS = 200.0
# Keypad presses are paced like audio, each counting this long: a phone sends ~10 a second at
# most, and each one is written to the call's record.
KEY_COST_MS = 100.0


class CallSession:
    """Runs one call from its first frame to its record being written."""

    def __init__(
        self,
        stack: AgentStack,
        transport: CallTransport,
        call: CallInfo,
        recorded_early: bool = False,
    ) -> None:
        # The call's own views: metered stages, a redacting store, a recorded transport.
        self._observer = stack.observability.for_call(call)
        stack, transport = self._observer.attach(stack, transport)
        self.call = call
        self._recorded_early = recorded_early  # the server wrote the record before the upgrade
        self._stack = stack
        self._transport = transport
        self.state = CallState(
            call,
            transport,
            AudioClock(),
            CallRecordWriter(stack.store, call.call_id),
            language=stack.language,
        )
        self._vad = stack.vad.open_stream(PIPELINE_RATE)
        self._endpointer = Endpointer(stack.turns)
        self._patience = PatiencePolicy(stack.patience)
        self._resampler = StreamResampler(transport.input_sample_rate, PIPELINE_RATE)
        self._echo = open_echo_canceller(stack.echo_canceller, PIPELINE_RATE)
        self._audio = CallerAudio(PIPELINE_RATE)
        self._pipeline_ms = 0.0  # end of the 16 kHz audio fed so far
        responder = stack.responders.for_call(call)
        self.voice = AgentVoice(stack, self.state, responder, self._echo, PIPELINE_RATE, self)
        self._judge = TurnJudge(self._patience, responder, self.state.history)
        self._transcriber = TurnTranscriber(
            stack,
            self._audio,
            self._endpointer,
            self._judge,
            record=self.state.recorder.event,
            now_ms=lambda: self._pipeline_ms,
            over_the_agent=lambda: self.voice.speaking,
            on_pause_words=lambda end_ms, text: self._barge_in.pause_words(end_ms, text),
            preempt=self._preempt,
            language=lambda: self.state.language,
        )
        barge_in = BargeInOptions(stack.duck_gain, stack.quick_look_ms, stack.barge_in_confirm_ms)
        self._barge_in = BargeIn(
            barge_in,
            self.voice,
            first_words=self._transcriber.since,
            record=self.state.recorder.event,
            now_ms=self.state.clock.now_ms,
        )
        self._compliance = CallCompliance(
            stack,
            self.state,
            self.voice,
            self._observer,
            responder,
            PIPELINE_RATE,
            say=self._say_policy_line,
            say_and_wait=self._say_and_wait,
        )
        self.handoff = CallHandoff(
            self.state,
            stack.desk,
            stack.handoff,
            say=self._say_and_wait,
            hush=self._hush,
            facts=lambda: _facts_of(responder),
            emit=stack.events,
            summarizer=stack.summarizer,
            wording=lambda: stack.lines(self.state.language).handoff_options(stack.handoff),
        )
        self._silence = SilenceWatchdog(
            stack.silence,
            now_ms=lambda: self._pipeline_ms,
            busy=self._busy,
            speak=self._say_policy_line,
            record=lambda kind, at_ms: self.state.recorder.event(kind, at_ms, {}),
            lines=lambda: stack.lines(self.state.language),
        )
        self._routing = TurnRouting(
            self.state,
            self.voice,
            self._barge_in,
            self._compliance,
            self.handoff,
            stack.escalation,
            self._silence,
            self._judge,
        )
        self._tasks: set[asyncio.Task[None]] = set()  # all of the call's tasks
        self._turn_tasks: set[asyncio.Task[None]] = set()  # those finishing a caller's turn
        self._next_timeline: TurnTimeline | None = None
        limits = stack.limits
        self._pacer = RealTimePacer(limits.max_realtime_factor, limits.burst_ms)
        self._key_pacer = RealTimePacer(1.0, limits.burst_ms)
        self._watch = WallClockWatch(limits)
        self._ended = asyncio.Event()
        self._ending = False
        self._end_task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Serves the call until either side ends it; always leaves a record."""
        # Provider failures and fallbacks in this call's tasks go to this call's record.
        provider_events = bind_call_events(self.state.recorder.event, self.state.clock.now_ms)
        self.state.recorder.start(
            CallRecord(
                call_id=self.call.call_id,
                channel=self.call.channel,
                caller=self.call.caller,
                started_at=time.time(),
                parameters=dict(self.call.parameters),
            ),
            recorded_early=self._recorded_early,
        )
        self.voice.begin()
        self._spawn(self._silence.run())
        self._spawn(self._watch_limits())
        self._compliance.start()
        outcome, reason = "caller_hung_up", "connection closed"
        # Read apart from handled: frames that wait while the call is busy are handled together.
        inbound = InboundReader(self._transport.inbound(), self._arrived)
        try:
            async with contextlib.aclosing(inbound.events()) as events:
                async for event in events:
                    if isinstance(event, AudioIn):
                        await self._on_audio(event.frame)
                    elif isinstance(event, DtmfIn):
                        self.state.recorder.event("dtmf", event.at_ms, {"digit": event.digit})
                        await self._routing.key(event)
                    elif isinstance(event, HangupIn):
                        outcome, reason = event.reason, event.detail
                        break
        except Exception as exc:
            log.exception("call %s failed", self.call.call_id)
            outcome, reason = "error", f"{type(exc).__name__}: {exc}"
        finally:
            if inbound.merged:  # how far behind real time the call ran, in frames caught up
                log.info("call %s: %d frames caught up", self.call.call_id, inbound.merged)
            if self.state.outcome is not None:
                outcome, reason = self.state.outcome
            await self._shutdown(outcome, reason)
            release_call_events(provider_events)
            self._ended.set()

    async def _arrived(self, event: InboundEvent) -> None:
        """Each event as it is read, whatever the call is busy with."""
        if isinstance(event, AudioIn):
            self._watch.inbound()
            self.state.clock.on_inbound(event.frame.end_ms)  # arrival, not handling, sets it
            # A sender faster than real time waits here (its socket is not read).
            await self._pacer.pace(event.frame.duration_ms)
        elif isinstance(event, DtmfIn):
            self._watch.inbound()
            await self._key_pacer.pace(KEY_COST_MS)

    async def end(self, line: str | None, outcome: str) -> None:
        """Ends the call from outside the conversation (server drain, time limits).

        The agent stops, says `line` (if given) and hangs up; the call's outcome is `outcome`.
        The stack's shutdown line (`CallLimits.shutdown_line`, what a draining server gives
        every call) is said in the call's language (`SessionLines.shutdown`). If the line
        cannot be finished within the limits' grace period the call is closed anyway.
        Returns once the call's record is written.
        """
        if self._ended.is_set():
            return
        if line is not None and line == self._stack.limits.shutdown_line:
            line = self._stack.lines(self.state.language).shutdown
        if not self._ending:
            self._ending = True
            self.state.recorder.event("ending", self.state.clock.now_ms(), {"outcome": outcome})
            if self.state.outcome is None:  # a call already transferred or ended keeps that
                self.state.outcome = (outcome, line or outcome.replace("_", " "))
            if line is not None and self.handoff.mode == "agent":
                await self._hush()
                self._say_policy_line(line, outcome)
            else:
                await self._close_transport(outcome)
        try:
            await asyncio.wait_for(self._ended.wait(), self._stack.limits.end_grace_s)
        except TimeoutError:
            await self._close_transport(outcome)
            await self._ended.wait()

    async def _close_transport(self, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._transport.close(reason)

    async def _watch_limits(self) -> None:
        """Ends the call at its maximum length, or when the caller has sent nothing for long."""
        # Polled: the limits are on the wall clock, which no event marks.
        while (expired := self._watch.expired()) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.25)
        log.info("call %s: %s", self.call.call_id, expired)
        lines = self._stack.lines(self.state.language)
        line = lines.time_limit if expired == "max_duration" else None
        # Not awaited here: ending cancels this task (it is one of the call's tasks).
        self._end_task = asyncio.create_task(self.end(line, expired))

    def _spawn(self, coro: Coroutine[Any, Any, None], *, turn: bool = False) -> None:
        """Runs `coro` as one of the call's tasks (cancelled at shutdown).

        Args:
            coro: the work.
            turn: it handles a caller's turn, so the call counts as busy until it is done;
                watchers that live as long as the call (silence, limits) are not turns.
        """
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: self._task_done(done, turn))
        if turn:
            self._turn_tasks.add(task)
            task.add_done_callback(self._turn_tasks.discard)

    def _task_done(self, task: asyncio.Task[None], turn: bool) -> None:
        """A failed turn still gets an answer: the caller is never left waiting in silence."""
        failed = self.state.task_failed(task, "turn" if turn else "call")
        if failed is None or not turn or self.state.outcome is not None:
            return
        if self.handoff.mode == "agent" and not self.voice.speaking:
            self._say_policy_line(self._stack.lines(self.state.language).unheard, None)

    # --- inbound audio -------------------------------------------------------------------

    async def _on_audio(self, frame: AudioFrame) -> None:
        gap = frame.timestamp_ms - self._pipeline_ms
        if gap > GAP_FILL_MS:  # lost frames: the timeline keeps going, as silence
            missing = int(gap * PIPELINE_RATE / 1000)
            step = int(GAP_FILL_STEP_MS * PIPELINE_RATE / 1000)
            for start in range(0, missing, step):
                await self._feed(np.zeros(min(step, missing - start), dtype=np.int16))
        await self._feed(self._resampler.process(frame.samples))

    async def _feed(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        start = self._pipeline_ms
        if self._echo.active:
            samples = self._echo.process(samples, start)
        self._audio.append(samples, start)
        self._pipeline_ms += 1000.0 * samples.size / PIPELINE_RATE
        self._compliance.hear(samples)
        if self.handoff.mode == "human":
            await self.handoff.from_caller(samples)
        for window in await self._vad.process(samples, start):
            for event in self._endpointer.feed(window):
                await self._on_turn_event(event)
        if self._endpointer.in_turn:
            self._silence.activity()
        self._transcriber.heard()
        await self._barge_in.heard(self._pipeline_ms, self._endpointer.speaking)

    async def _on_turn_event(self, event: TurnEvent) -> None:
        if self._compliance.machine_answered:
            return  # the voicemail plays over the machine's recording, uninterrupted
        if isinstance(event, SpeechStarted):
            self.state.recorder.event("speech_started", event.at_ms)
            await self._barge_in.onset(event.at_ms)
            self._next_timeline = TurnTimeline(self.state.turns + 1, speech_start_ms=event.at_ms)
        elif isinstance(event, PauseStarted):
            self._transcriber.pause_started(event.speech_start_ms, event.speech_end_ms)
        elif isinstance(event, SpeechResumed):
            self._patience.caller_resumed(event.pause_ms)
            self._transcriber.drop()
            await self._barge_in.onset(event.at_ms)
        elif isinstance(event, TurnEnded):
            self.state.turns += 1
            timeline = self._next_timeline or TurnTimeline(self.state.turns)
            timeline.turn_index = self.state.turns
            timeline.mark("speech_start_ms", event.speech_start_ms)
            # TTFA counts from the caller's last speech sample, not from the VAD's decision.
            last = self._audio.last_speech_ms(event.speech_start_ms, event.speech_end_ms)
            timeline.mark("speech_end_ms", last)
            timeline.mark("end_of_turn_ms", self.state.clock.now_ms())
            self._next_timeline = None
            self._spawn(self._finish_turn(event, timeline), turn=True)

    def _preempt(self, text: str | None) -> None:
        """The reply starts on the words so far while the silence decides (preemptive
        generation); not over the agent, nor in a handoff or a compliance step. Whatever the
        words sound like: the longer the wait, the more a head start saves. None: the caller
        went on, so any reply started early is dropped."""
        if text is None:
            self.voice.prepare(None)
            return
        ordinary = self.handoff.mode == "agent" and not self._compliance.consent_asks
        ordinary = ordinary and not self._compliance.takes_no_turns
        if ordinary and not self.voice.speaking:
            self.voice.prepare(text)

    async def _finish_turn(self, event: TurnEnded, timeline: TurnTimeline) -> None:
        try:
            transcript = await self._transcriber.transcript_of(event, timeline)
        except Exception as exc:
            # Every recognizer failed, fallbacks included: say so, never leave the caller
            # waiting in silence for an answer that cannot come.
            log.exception("call %s: transcription failed", self.call.call_id)
            error = {"stage": "stt", "provider": self._stack.stt.name, "error": describe(exc)}
            self.state.recorder.event("provider_error", event.speech_end_ms, error)
            await self._barge_in.stop_judged()
            if not self.voice.speaking:
                self._say_policy_line(self._stack.lines(self.state.language).unheard, None)
            return
        timeline.mark("transcript_ready_ms", self.state.clock.now_ms())
        timeline.stt_compute_ms = round(transcript.compute_ms, 1)
        transcriber = self._transcriber
        text = f"{transcriber.carry_text} {transcript.text}".strip()
        state = self.state
        state.recorder.event("transcript", event.speech_end_ms, {"text": transcript.text})
        heard_in = transcript.language
        if heard_in and heard_in != state.language and transcript.text:
            # The caller spoke another of the agent's languages: answer in it from now on.
            details = {"from": state.language, "to": heard_in}
            state.recorder.event("language", event.speech_end_ms, details)
            state.language = heard_in
        self._silence.activity()
        if await self._barge_in.turn_words(event.speech_end_ms, text):
            return  # "uh-huh" while the agent talks: it goes on, and no turn is taken
        if not text:
            return  # a noise, a cough: not a turn
        if self._endpointer.in_turn:
            # The caller is already talking again: answer once they are done, with both parts.
            transcriber.carry_text = text
            return
        transcriber.carry_text = ""
        state.history.add_user(text)
        state.add_utterance(
            "caller", text, start_ms=event.speech_start_ms, end_ms=event.speech_end_ms
        )
        await self._transport.send_event(
            {"type": "transcript", "role": "caller", "turn": timeline.turn_index, "text": text}
        )
        self._silence.activity(caller_answered=True)
        await self._routing.caller_turn(text, transcript.confidence, event.speech_end_ms, timeline)

    # --- what the voice did (VoiceListener) ---------------------------------------------

    async def reply_finished(self, text: str, trigger: Trigger) -> None:
        await self._routing.reply_finished(text, trigger)

    async def transfer_requested(self, end: TransferCall) -> None:
        await self._routing.transfer_requested(end)

    # --- dead air ------------------------------------------------------------------------

    def _say_policy_line(
        self, text: str, outcome: str | None, timeline: TurnTimeline | None = None
    ) -> None:
        """Speaks a line the policy (not the responder) decides, e.g. a reprompt.

        Args:
            text: the line.
            outcome: ends the call after the line with this outcome, if given.
            timeline: the caller turn the line answers (None: it answers no turn).
        """
        if outcome is not None and self.state.outcome is None:
            self.state.outcome = (outcome, text)
        responder = CannedResponder(text, end_call=outcome)
        self.voice.start("silence", timeline or TurnTimeline(self.state.turns), responder)

    async def _say_and_wait(
        self, text: str, outcome: str | None, timeline: TurnTimeline | None
    ) -> None:
        """A policy line from the handoff, returning once the caller has heard it."""
        await self._hush()
        self._say_policy_line(text, outcome, timeline)
        await self.voice.wait_quiet()

    async def _hush(self) -> None:
        if self.voice.speaking:
            await self._barge_in.stop(self.state.clock.now_ms())

    def _busy(self) -> bool:
        turns_pending = any(not t.done() for t in self._turn_tasks)
        # The handoff decides what the caller hears while they wait for a person; asked about a
        # callback, a silent caller is reprompted and then let go like any other (a phone off
        # the hook would hold its line until the call's time limit).
        on_hold = self.handoff.mode not in ("agent", "callback_offer")
        return on_hold or self.voice.speaking or self._endpointer.in_turn or turns_pending

    # --- the end -------------------------------------------------------------------------

    async def _shutdown(self, outcome: str, reason: str) -> None:
        self._routing.dtmf.close()
        await self.handoff.close()
        await self.voice.close()
        self._transcriber.close()
        self._barge_in.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await self._compliance.drain()
        recorder = self.state.recorder
        recorder.event("call_ended", self.state.clock.now_ms(), {"outcome": outcome})
        await recorder.finish(outcome, reason)
        with contextlib.suppress(Exception):
            await self._transport.close(reason)
        log.info("call %s ended: %s (%s)", self.call.call_id, outcome, reason)


def _facts_of(responder: Responder) -> dict[str, Any] | None:
    """The responder's own account of the call, when it can give one (`HandoffFacts`)."""
    # Wrappers may forward it dynamically: isinstance sees forwarded attributes too.
    return responder.handoff_facts() if isinstance(responder, HasHandoffFacts) else None
