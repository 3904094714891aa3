"""The per-call session: where every frame of caller audio goes, and what it leads to.

transport ─AudioIn─► resample to 16 kHz ─► EchoCanceller ─► CallerAudio (kept for STT)
                                                        └► VAD ─► Endpointer ─► turn events
SpeechStarted over the agent ─► AgentVoice.pause (the words decide later)
PauseStarted ─► speculative STT ─► semantic patience; backchannel? resume : barge in
TurnEnded    ─► transcript ─► EscalationTriggers ─► AgentVoice.start, or CallHandoff.escalate
AgentVoice: responder ─► SentenceBuffer ─► TTS ─► Playout ─► transport
CallHandoff (after an escalation): queue + hold audio, or caller audio ◄─► a person's console
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any, cast

import numpy as np

from callwright.agent.call_state import CallState
from callwright.agent.caller_audio import CallerAudio
from callwright.agent.dtmf import DtmfCollector
from callwright.agent.echo import EchoCanceller
from callwright.agent.limits import RealTimePacer, WallClockWatch
from callwright.agent.silence import CannedResponder, SilenceWatchdog
from callwright.agent.stack import AgentStack
from callwright.agent.turn_judge import RECHECK_MS, TurnJudge
from callwright.agent.voice import AgentVoice
from callwright.audio.frame import AudioFrame
from callwright.audio.resample import StreamResampler
from callwright.campaigns.machine import Detection, MachineDetector
from callwright.compliance.disclosure import PrefixedResponder, consent_answer
from callwright.compliance.log import ComplianceLog, Kind
from callwright.compliance.optout import OptOut, OptOutPolicy, add_to_do_not_call
from callwright.compliance.tables import SqlStore
from callwright.core.clock import AudioClock
from callwright.core.provider_events import (
    bind_call_events,
    describe,
    release_call_events,
)
from callwright.core.responder import CallInfo, HasHandoffFacts, Responder, TransferCall, Trigger
from callwright.core.timeline import TurnTimeline
from callwright.handoff.call import CallHandoff
from callwright.handoff.triggers import Escalation, EscalationTriggers
from callwright.observe.record_writer import CallRecordWriter
from callwright.store.base import CallRecord
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
from callwright.turns.semantic import PatiencePolicy

log = logging.getLogger(__name__)

PIPELINE_RATE = 16000
PREROLL_MS = 250.0  # speech onset is confirmed late; keep the audio just before it
GAP_FILL_MS = 40.0  # inbound timestamp jumps larger than this are filled with silence
UNHEARD_LINE = "Sorry, I didn't catch that. Could you say it again?"
# Keypad presses are paced like audio, each counting this long: a phone sends ~10 a second at
# most, and each one is written to the call's record.
KEY_COST_MS = 100.0
# Mean token probability the first words of speech over the agent need to stop it at once.
QUICK_LOOK_CONFIDENCE = 0.3


class CallSession:
    """Runs one call from its first frame to its record being written."""

    def __init__(self, stack: AgentStack, transport: CallTransport, call: CallInfo) -> None:
        # The call's own views: metered stages, a redacting store, a recorded transport.
        self._observer = stack.observability.for_call(call)
        stack, transport = self._observer.attach(stack, transport)
        self.call = call
        self._stack = stack
        self._transport = transport
        self.state = CallState(
            call, transport, AudioClock(), CallRecordWriter(stack.store, call.call_id)
        )
        self._vad = stack.vad.open_stream(PIPELINE_RATE)
        self._endpointer = Endpointer(stack.turns)
        self._patience = PatiencePolicy(stack.patience)
        self._resampler = StreamResampler(transport.input_sample_rate, PIPELINE_RATE)
        self._echo = EchoCanceller(PIPELINE_RATE)
        self._audio = CallerAudio(PIPELINE_RATE)
        self._pipeline_ms = 0.0  # end of the 16 kHz audio fed so far
        responder = stack.responders.for_call(call)
        self._judge = TurnJudge(self._patience, responder, self.state.history)
        self._responder = responder
        self._consent_asks = 0  # asked for recording consent and waiting for the answer
        outbound = call.parameters.get("direction") == "outbound"
        listen = stack.machine.enabled and outbound
        # Until it decides, the callee's audio goes to the detector and no turn is taken.
        self._machine = MachineDetector(PIPELINE_RATE, stack.machine.detection) if listen else None
        self._awaiting_beep = False
        self._machine_answered = False  # a machine answered: nothing it says is a turn
        self._consent_why: str | None = None  # the jurisdiction that needs it
        self.voice = AgentVoice(stack, self.state, responder, self._echo, PIPELINE_RATE, self)
        self._triggers = EscalationTriggers(stack.escalation)
        self._opt_out = OptOutPolicy(stack.opt_out)
        self.handoff = CallHandoff(
            self.state,
            stack.desk,
            stack.handoff,
            say=self._say_and_wait,
            hush=self._hush,
            facts=lambda: _facts_of(responder),
            emit=stack.events,
            summarizer=stack.summarizer,
        )
        self._silence = SilenceWatchdog(
            stack.silence,
            now_ms=lambda: self._pipeline_ms,
            busy=self._busy,
            speak=self._say_policy_line,
            record=lambda kind, at_ms: self.state.recorder.event(kind, at_ms, {}),
        )
        self._speculation: tuple[float, asyncio.Task[Transcript]] | None = None
        self._looked_at: float | None = None  # the overlap whose first words were looked at
        self._span: tuple[float, float] | None = None  # the speech of the current pause
        self._recheck_due: tuple[float, float, float] | None = None  # (start, end, wait) ms
        self._tasks: set[asyncio.Task[None]] = set()  # all of the call's tasks
        self._turn_tasks: set[asyncio.Task[None]] = set()  # those finishing a caller's turn
        self._log_tasks: set[asyncio.Task[None]] = set()
        self._next_timeline: TurnTimeline | None = None
        self._turn_count = 0
        self._carry_text = ""
        self._dtmf = DtmfCollector(self._on_keypad_entry)
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
            )
        )
        self.voice.begin()
        self._spawn(self._silence.run())
        self._spawn(self._watch_limits())
        if self._machine is None:
            self._greet()
        else:
            self.state.recorder.event("machine_detection", 0.0, {"listening": True})
        outcome, reason = "caller_hung_up", "connection closed"
        try:
            async for event in self._transport.inbound():
                if isinstance(event, AudioIn):
                    self._watch.inbound()
                    await self._on_audio(event.frame)
                    # A sender faster than real time waits here (its socket is not read).
                    await self._pacer.pace(event.frame.duration_ms)
                elif isinstance(event, DtmfIn):
                    self._watch.inbound()
                    await self._key_pacer.pace(KEY_COST_MS)
                    self.state.recorder.event("dtmf", event.at_ms, {"digit": event.digit})
                    await self._on_key(event)
                elif isinstance(event, HangupIn):
                    outcome, reason = event.reason, "ended by the caller"
                    break
        except Exception as exc:
            log.exception("call %s failed", self.call.call_id)
            outcome, reason = "error", f"{type(exc).__name__}: {exc}"
        finally:
            if self.state.outcome is not None:
                outcome, reason = self.state.outcome
            await self._shutdown(outcome, reason)
            release_call_events(provider_events)
            self._ended.set()

    async def end(self, line: str | None, outcome: str) -> None:
        """Ends the call from outside the conversation (server drain, time limits).

        The agent stops, says `line` (if given) and hangs up; the call's outcome is `outcome`.
        If the line cannot be finished within the limits' grace period the call is closed
        anyway. Returns once the call's record is written.
        """
        if self._ended.is_set():
            return
        if not self._ending:
            self._ending = True
            self.state.recorder.event("ending", self.state.clock.now_ms(), {"outcome": outcome})
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
        line = self._stack.limits.max_duration_line if expired == "max_duration" else None
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
        if turn:
            self._turn_tasks.add(task)
            task.add_done_callback(self._turn_tasks.discard)

    # --- inbound audio -------------------------------------------------------------------

    async def _on_audio(self, frame: AudioFrame) -> None:
        self.state.clock.on_inbound(frame.end_ms)
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
        if self._machine is not None:
            found = self._machine.feed(samples)
            if found is not None:
                self._on_machine_detection(found)
        if self.handoff.mode == "human":
            await self.handoff.from_caller(samples)
        for window in await self._vad.process(samples, start):
            for event in self._endpointer.feed(window):
                await self._on_turn_event(event)
        if self._endpointer.in_turn:
            self._silence.activity()
        due = self._recheck_due
        if due is not None and self._pipeline_ms - due[1] >= RECHECK_MS:
            self._recheck_due = None
            if self._endpointer.in_turn and self._endpointer.speech_end_ms == due[1]:
                self._spawn(self._recheck(*due))
        paused_at = self.voice.paused_at_ms
        if paused_at is not None and self._endpointer.speaking:
            overlap = self._pipeline_ms - paused_at
            # Still talking well past a backchannel's length: a real interruption.
            if overlap >= self._stack.barge_in_confirm_ms:
                await self.voice.barge_in(paused_at)
            elif overlap >= self._stack.quick_look_ms and self._looked_at != paused_at:
                self._looked_at = paused_at
                self._spawn(self._quick_look(paused_at))

    async def _on_turn_event(self, event: TurnEvent) -> None:
        if self._machine_answered:
            return  # the voicemail plays over the machine's recording, uninterrupted
        if isinstance(event, SpeechStarted):
            self.state.recorder.event("speech_started", event.at_ms)
            if self.voice.speaking:
                await self.voice.pause(event.at_ms)
            self._next_timeline = TurnTimeline(self._turn_count + 1, speech_start_ms=event.at_ms)
        elif isinstance(event, PauseStarted):
            self._speculate(event.speech_start_ms, event.speech_end_ms)
        elif isinstance(event, SpeechResumed):
            self._patience.caller_resumed(event.pause_ms)
            self._drop_speculation()
            if self.voice.speaking and self.voice.paused_at_ms is None:
                await self.voice.pause(event.at_ms)
        elif isinstance(event, TurnEnded):
            self._turn_count += 1
            timeline = self._next_timeline or TurnTimeline(self._turn_count)
            timeline.turn_index = self._turn_count
            timeline.mark("speech_start_ms", event.speech_start_ms)
            timeline.mark("speech_end_ms", event.speech_end_ms)
            timeline.mark("end_of_turn_ms", self.state.clock.now_ms())
            self._next_timeline = None
            self._spawn(self._finish_turn(event, timeline), turn=True)

    async def _quick_look(self, paused_at: float) -> None:
        """The first words of speech over the agent: anything but a backchannel stops it now.

        The agent is ducked meanwhile; "uh-huh", "yeah, right" or nothing yet leave the
        decision to the pause (or to `barge_in_confirm_ms` of speech).
        """
        audio = self._audio.extract(paused_at - PREROLL_MS, self._pipeline_ms)
        try:
            transcript = await self._stack.stt.transcribe(audio)
        except Exception:
            return  # the pause decides, as without a quick look
        text = transcript.text.strip()
        if self.voice.paused_at_ms != paused_at or not text or is_backchannel(text):
            return
        # A murmur cut short comes back as a stray word ("And", "You") the recogniser is unsure
        # of; only a confident reading stops the agent this early (it is ducked meanwhile).
        if transcript.confidence is not None and transcript.confidence < QUICK_LOOK_CONFIDENCE:
            return
        self.state.recorder.event("interruption_heard", self.state.clock.now_ms(), {})
        await self.voice.barge_in(paused_at)

    # --- transcription -------------------------------------------------------------------

    def _utterance_audio(self, start_ms: float, end_ms: float) -> np.ndarray:
        return self._audio.extract(start_ms - PREROLL_MS, end_ms + self._stack.turns.pause_ms)

    def _speculate(self, start_ms: float, end_ms: float) -> None:
        self._drop_speculation()
        audio = self._utterance_audio(start_ms, end_ms)
        task = asyncio.create_task(self._stack.stt.transcribe(audio))
        task.add_done_callback(lambda done: self._on_speculation(end_ms, done))
        self._speculation = (end_ms, task)
        self._span = (start_ms, end_ms)
        self._recheck_due = None
        # Until the words are known the turn is not over (up to the hard maximum): deciding
        # blind on a busy machine would answer "What is your..." before "...address?".
        self._endpointer.set_end_of_turn_ms(self._stack.patience.max_ms)

    def _on_speculation(self, end_ms: float, task: asyncio.Task[Transcript]) -> None:
        """Decides how long to wait, and whether a paused agent may go on, from the words."""
        current = self._speculation
        if current is None or current[0] != end_ms:
            return
        if task.cancelled() or task.exception():
            self._endpointer.set_end_of_turn_ms(self._stack.turns.end_of_turn_ms)
            return
        text = f"{self._carry_text} {task.result().text}".strip()
        judgement = self._judge.judge(text, over_the_agent=self.voice.speaking)
        self._endpointer.set_end_of_turn_ms(judgement.wait_ms)
        self.state.recorder.event("pause", end_ms, judgement.record())
        if judgement.worth_rechecking and self._span is not None:
            self._recheck_due = (self._span[0], end_ms, judgement.wait_ms)
        if self.voice.paused_at_ms is not None:
            if is_backchannel(text):
                self.voice.resume(end_ms, text)
            else:
                self.voice.barge_in_soon(self.voice.paused_at_ms)

    async def _recheck(self, start_ms: float, end_ms: float, wait_ms: float) -> None:
        """The words judged again with the silence so far: the turn may end now after all."""
        audio = self._audio.extract(start_ms - PREROLL_MS, self._pipeline_ms)
        task = asyncio.create_task(self._stack.stt.transcribe(audio))
        try:
            transcript = await task
        except Exception:
            return  # the first judgement stands
        endpointer, spec = self._endpointer, self._speculation
        if not endpointer.in_turn or endpointer.speaking or endpointer.speech_end_ms != end_ms:
            return  # the caller went on, or the turn already ended
        if spec is None or spec[0] != end_ms:
            return
        text = f"{self._carry_text} {transcript.text}".strip()
        judgement = self._judge.judge(text, over_the_agent=self.voice.speaking)
        self.state.recorder.event("pause", end_ms, judgement.record() | {"recheck": True})
        if judgement.wait_ms < wait_ms:
            self._speculation = (end_ms, task)  # the turn's transcript is this one
            endpointer.set_end_of_turn_ms(judgement.wait_ms)

    def _drop_speculation(self) -> None:
        if self._speculation is not None:
            self._speculation[1].cancel()
            self._speculation = None

    async def _transcribe_turn(self, event: TurnEnded, timeline: TurnTimeline) -> Transcript:
        spec, self._speculation = self._speculation, None
        if spec is not None and spec[0] == event.speech_end_ms:
            timeline.speculative_hit = True
            return await spec[1]
        if spec is not None:
            spec[1].cancel()
        timeline.speculative_hit = False
        audio = self._utterance_audio(event.speech_start_ms, event.speech_end_ms)
        return await self._stack.stt.transcribe(audio)

    async def _finish_turn(self, event: TurnEnded, timeline: TurnTimeline) -> None:
        try:
            transcript = await self._transcribe_turn(event, timeline)
        except Exception as exc:
            # Every recognizer failed, fallbacks included: say so, never leave the caller
            # waiting in silence for an answer that cannot come.
            log.exception("call %s: transcription failed", self.call.call_id)
            error = {"stage": "stt", "provider": self._stack.stt.name, "error": describe(exc)}
            self.state.recorder.event("provider_error", event.speech_end_ms, error)
            if self.voice.paused_at_ms is not None:
                await self.voice.barge_in(self.voice.paused_at_ms)
            if not self.voice.speaking:
                self._say_policy_line(UNHEARD_LINE, None)
            return
        timeline.mark("transcript_ready_ms", self.state.clock.now_ms())
        timeline.stt_compute_ms = round(transcript.compute_ms, 1)
        text = f"{self._carry_text} {transcript.text}".strip()
        state, voice = self.state, self.voice
        state.recorder.event("transcript", event.speech_end_ms, {"text": transcript.text})
        self._silence.activity()
        if voice.backchannel_end_ms == event.speech_end_ms or (
            voice.speaking and is_backchannel(text)
        ):
            if voice.paused_at_ms is not None:
                voice.resume(event.speech_end_ms, text)
            return  # "uh-huh" while the agent talks: it goes on, and no turn is taken
        if voice.paused_at_ms is not None:
            await voice.barge_in(voice.paused_at_ms)
        if not text:
            return  # a noise, a cough: not a turn
        if self._endpointer.in_turn:
            # The caller is already talking again: answer once they are done, with both parts.
            self._carry_text = text
            return
        self._carry_text = ""
        state.history.add_user(text)
        state.add_utterance(
            "caller", text, start_ms=event.speech_start_ms, end_ms=event.speech_end_ms
        )
        await self._transport.send_event(
            {"type": "transcript", "role": "caller", "turn": timeline.turn_index, "text": text}
        )
        self._silence.activity(caller_answered=True)
        await self._take_turn(text, transcript.confidence, event.speech_end_ms, timeline)

    async def _take_turn(
        self, text: str, confidence: float | None, end_ms: float, timeline: TurnTimeline
    ) -> None:
        """A caller turn goes to the handoff if one is under way, else past the triggers."""
        if self._machine is not None or self._awaiting_beep or self._machine_answered:
            return  # deciding who answered, or a machine: what it says is not a turn
        handoff = self.handoff
        # The handoff's first line answering this turn carries its timeline (TTFA, stages).
        if handoff.mode != "human" and (opt_out := self._opt_out.on_caller_turn(text, end_ms)):
            await self._opted_out(opt_out, timeline)
        elif self._consent_asks:
            self._consent_answer(text, end_ms, timeline)
        elif handoff.mode == "human":
            await handoff.caller_said(text)
        elif handoff.mode != "agent":
            await handoff.on_caller_text(text, timeline)
        elif (escalation := self._triggers.on_caller_turn(text, confidence, end_ms)) is not None:
            await handoff.escalate(escalation, timeline=timeline)
        else:
            self.voice.start("user_turn", timeline)

    # --- what the voice did (VoiceListener) ---------------------------------------------

    async def reply_finished(self, text: str, trigger: Trigger) -> None:
        if trigger == "user_turn" and self.handoff.mode == "agent":
            escalation = self._triggers.on_agent_reply(text, self.state.clock.now_ms())
            if escalation is not None:
                await self.handoff.escalate(escalation)

    async def transfer_requested(self, end: TransferCall) -> None:
        at_ms = self.state.clock.now_ms()
        reason = f"the agent decided to transfer ({end.reason})"
        escalation = Escalation("agent_decision", reason, at_ms)
        await self.handoff.escalate(escalation, announced=True, transfer_to=end.to)

    # --- keypad ---------------------------------------------------------------------------

    async def _on_key(self, event: DtmfIn) -> None:
        """A key stops the agent at once: a caller who is typing is not listening."""
        self._silence.activity()
        if self.voice.speaking and self._dtmf.pending == "":
            await self.voice.barge_in(event.at_ms)
        escalation = None
        if self.handoff.mode != "human" and self._dtmf.pending == "":
            if (opt_out := self._opt_out.on_key(event.digit, event.at_ms)) is not None:
                await self._opted_out(opt_out)
                return
        if self.handoff.mode == "agent" and self._dtmf.pending == "":
            escalation = self._triggers.on_key(event.digit, event.at_ms)
        if escalation is not None:
            await self.handoff.escalate(escalation)
        else:
            self._dtmf.press(event.digit, event.at_ms)

    async def _on_keypad_entry(self, digits: str, start_ms: float, end_ms: float) -> None:
        """A complete entry ("19840312"; `#` or 1.5 s without a key ended it) is a turn."""
        state = self.state
        if self.voice.speaking:
            await self.voice.barge_in(end_ms)
        state.history.add_user(digits)
        state.add_utterance("caller", digits, start_ms=start_ms, end_ms=end_ms)
        self._turn_count += 1
        timeline = TurnTimeline(self._turn_count, speech_start_ms=start_ms)
        timeline.mark("speech_end_ms", end_ms)
        await self._transport.send_event(
            {"type": "transcript", "role": "caller", "turn": self._turn_count, "text": digits}
        )
        self._silence.activity(caller_answered=True)
        if self.handoff.mode != "agent":
            await self.handoff.on_caller_text(digits, timeline)
        else:
            self.voice.start("dtmf", timeline)

    # --- compliance: disclosure, consent, opt-out ----------------------------------------

    def _on_machine_detection(self, found: Detection) -> None:
        """Who answered an outbound call: a person is greeted; a machine gets the voicemail
        after its beep (or a hang-up)."""
        machine, self._machine = self._stack.machine, None
        if self._awaiting_beep:  # the beep came, or the greeting ended without one
            self._awaiting_beep = False
            self.state.recorder.event("beep", found.at_ms, {"heard": found.beep})
            self._leave_voicemail(machine.voicemail)
            return
        data = {"verdict": found.verdict, "reason": found.reason, "beep": found.beep}
        self.state.recorder.event("answered_by", found.at_ms, data)
        if found.verdict != "machine":
            self._greet()
        elif found.beep:
            self._machine_answered = True
            self._leave_voicemail(machine.voicemail)
        else:
            self._machine_answered = True
            self._awaiting_beep = True
            self._machine = MachineDetector(PIPELINE_RATE, machine.beep_waiter())

    def _leave_voicemail(self, message: str) -> None:
        self.state.recorder.event("voicemail", self.state.clock.now_ms(), {"left": bool(message)})
        if message:
            self._say_policy_line(message, "voicemail")
        else:
            self._say_policy_line("", "answering_machine")

    def _greet(self) -> None:
        """The agent's first words; on a phone call after the disclosure, and if a party is in an
        all-party-consent jurisdiction, a consent question instead of the greeting."""
        disclosure, timeline = self._stack.disclosure, TurnTimeline(turn_index=0)
        if not disclosure.applies(self.call.channel):
            self.voice.start("call_start", timeline)
            return
        why = disclosure.consent_needed(self.call.caller, self.call.parameters.get("to"))
        data = {"text": disclosure.text, "consent_asked": why is not None, "jurisdiction": why}
        self.state.recorder.event("disclosure", 0.0, data)
        self._log_compliance("disclosure", **data)
        if why is None:
            self.voice.start(
                "call_start", timeline, PrefixedResponder(disclosure.text, self._responder)
            )
            return
        self._observer.hold_recording()
        self._consent_asks, self._consent_why = 1, why
        question = CannedResponder(f"{disclosure.text} {disclosure.question}")
        self.voice.start("call_start", timeline, question)

    def _consent_answer(self, text: str, at_ms: float, timeline: TurnTimeline) -> None:
        """The caller's answer to the consent question; then the agent's greeting."""
        disclosure = self._stack.disclosure
        answer = consent_answer(text)
        recorder = self.state.recorder
        if answer is None and self._consent_asks < disclosure.max_asks:
            self._consent_asks += 1
            recorder.event("recording_consent", at_ms, {"answer": "unclear"})
            self.voice.start("silence", timeline, CannedResponder(disclosure.reask))
            return
        self._consent_asks = 0
        verdict = {True: "granted", False: "declined", None: "unclear"}[answer]
        recorder.event("recording_consent", at_ms, {"answer": verdict})
        self._log_compliance("recording_consent", answer=verdict, jurisdiction=self._consent_why)
        if answer is True:
            self._observer.release_recording()
            line = disclosure.granted
        else:
            self._observer.stop_recording()
            reason = "the caller declined" if answer is False else "no clear consent"
            recorder.event("recording_stopped", at_ms, {"reason": reason})
            line = disclosure.declined
        self.voice.start("call_start", timeline, PrefixedResponder(line, self._responder))

    def _log_compliance(self, kind: Kind, **detail: Any) -> None:
        """Appends to the compliance log in the background (the call never waits on it)."""
        log_ = ComplianceLog(cast(SqlStore, self._stack.store))
        writing = _log_safely(log_, kind, self.call.caller, self.call.call_id, detail)
        task = asyncio.create_task(writing)
        # Not in `_tasks`: the end of the call waits for these rather than cancelling them.
        self._log_tasks.add(task)
        task.add_done_callback(self._log_tasks.discard)

    async def _opted_out(self, opt_out: OptOut, timeline: TurnTimeline | None = None) -> None:
        """The caller asked not to be called again: listed, told so, and the call ends."""
        options = self._stack.opt_out
        try:
            outcome = await add_to_do_not_call(
                cast(SqlStore, self._stack.store), self.call.caller, opt_out,
                options.default_region, self.call.call_id,
            )  # fmt: skip
        except Exception as exc:  # the caller still hears the confirmation; the record says
            log.exception("call %s: the opt-out was not stored", self.call.call_id)
            outcome = {"added": False, "why": f"store error: {type(exc).__name__}"}
        self.state.recorder.event("opt_out", opt_out.at_ms, opt_out.to_dict() | outcome)
        await self._say_and_wait(options.confirmation, "opted_out", timeline)

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
        if outcome is not None:
            self.state.outcome = (outcome, text)
        responder = CannedResponder(text, end_call=outcome)
        self.voice.start("silence", timeline or TurnTimeline(self._turn_count), responder)

    async def _say_and_wait(
        self, text: str, outcome: str | None, timeline: TurnTimeline | None
    ) -> None:
        """A policy line from the handoff, returning once the caller has heard it."""
        await self._hush()
        self._say_policy_line(text, outcome, timeline)
        await self.voice.wait_quiet()

    async def _hush(self) -> None:
        if self.voice.speaking:
            await self.voice.barge_in(self.state.clock.now_ms())

    def _busy(self) -> bool:
        turns_pending = any(not t.done() for t in self._turn_tasks)
        on_hold = self.handoff.mode != "agent"  # the handoff decides what the caller hears
        return on_hold or self.voice.speaking or self._endpointer.in_turn or turns_pending

    # --- the end -------------------------------------------------------------------------

    async def _shutdown(self, outcome: str, reason: str) -> None:
        self._dtmf.close()
        await self.handoff.close()
        await self.voice.close()
        self._drop_speculation()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._log_tasks:
            await asyncio.wait(list(self._log_tasks), timeout=5.0)
        recorder = self.state.recorder
        recorder.event("call_ended", self.state.clock.now_ms(), {"outcome": outcome})
        await recorder.finish(outcome, reason)
        with contextlib.suppress(Exception):
            await self._transport.close(reason)
        log.info("call %s ended: %s (%s)", self.call.call_id, outcome, reason)


async def _log_safely(
    log_: ComplianceLog, kind: Kind, number: str | None, call_id: str, detail: dict[str, Any]
) -> None:
    try:
        await log_.append(kind, number, call_id, **detail)
    except Exception:
        log.exception("call %s: compliance log entry %s not written", call_id, kind)


def _facts_of(responder: Responder) -> dict[str, Any] | None:
    """The responder's own account of the call, when it can give one (`HandoffFacts`)."""
    # Wrappers may forward it dynamically: isinstance sees forwarded attributes too.
    return responder.handoff_facts() if isinstance(responder, HasHandoffFacts) else None
