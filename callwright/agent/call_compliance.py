"""What the law and outbound dialling ask of one call: who answered (a person or a machine),
the disclosure and recording consent, opt-outs, and the compliance log.

    outbound call ─► MachineDetector (the callee's audio, no turn taken) ─► a person: greet;
                     a machine: the voicemail after its beep
    greeting ─► the disclosure (phone calls) ─► consent asked where a party needs it ─► answer
    any turn or key ─► opt-out? listed, told so, the call ends
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import numpy as np

from callwright.agent.call_state import CallState
from callwright.agent.session_lines import SessionLines
from callwright.agent.silence import CannedResponder
from callwright.agent.stack import AgentStack
from callwright.agent.voice import AgentVoice
from callwright.campaigns.machine import Detection, MachineDetector
from callwright.compliance.disclosure import PrefixedResponder, consent_answer
from callwright.compliance.log import ComplianceLog, Kind
from callwright.compliance.optout import OptOut, OptOutPolicy, add_to_do_not_call
from callwright.compliance.tables import SqlStore
from callwright.core.responder import CallInfo, Responder
from callwright.core.timeline import TurnTimeline
from callwright.observe.observer import CallObserver

log = logging.getLogger(__name__)

# A recording held until the caller answers the consent question is dropped after this long
# unanswered: held, it is in memory only (64 KB a second at 16 kHz), for the whole call.
MAX_HELD_RECORDING_S = 300.0

SayLine = Callable[[str, str | None], None]
SayAndWait = Callable[[str, str | None, TurnTimeline | None], Awaitable[None]]


class CallCompliance:
    """One call's disclosure, consent, opt-out and answering-machine handling.

    Args:
        stack: the shared stages and their options.
        state: the call's shared state.
        voice: the agent's voice (greetings and consent questions start replies).
        observer: the call's observer (the recording is held until consent).
        responder: the call's responder (it greets after the disclosure).
        pipeline_rate: the rate of the caller audio given to `hear`.
        say: speaks a policy line, ending the call with an outcome if given.
        say_and_wait: the same, returning once the caller has heard it.
    """

    def __init__(
        self,
        stack: AgentStack,
        state: CallState,
        voice: AgentVoice,
        observer: CallObserver,
        responder: Responder,
        pipeline_rate: int,
        say: SayLine,
        say_and_wait: SayAndWait,
    ) -> None:
        self._stack = stack
        self._state = state
        self._call = state.call
        self._voice = voice
        self._observer = observer
        self._responder = responder
        self._rate = pipeline_rate
        self._say = say
        self._say_and_wait = say_and_wait
        self._opt_out = OptOutPolicy(stack.opt_out)
        self.consent_asks = 0  # asked for recording consent and waiting for the answer
        self._consent_why: str | None = None  # the jurisdiction that needs it
        self._hold_timer: asyncio.TimerHandle | None = None  # drops a recording held too long
        outbound = self._call.parameters.get("direction") == "outbound"
        listen = stack.machine.enabled and outbound
        # Until it decides, the callee's audio goes to the detector and no turn is taken.
        self._machine = MachineDetector(pipeline_rate, stack.machine.detection) if listen else None
        self._awaiting_beep = False
        self.machine_answered = False  # a machine answered: nothing it says is a turn
        # When the detector decided a person answered: words that ended before it (their
        # "Hello?") were its evidence, not a turn, even if their transcript comes later.
        self._decided_at_ms: float | None = None
        self._log_tasks: set[asyncio.Task[None]] = set()

    @property
    def listening_for_machine(self) -> bool:
        """True while it is not yet known who answered an outbound call."""
        return self._machine is not None

    @property
    def takes_no_turns(self) -> bool:
        """Deciding who answered, or a machine answered: what is said is not a turn."""
        return self._machine is not None or self._awaiting_beep or self.machine_answered

    def heard_while_deciding(self, end_ms: float) -> bool:
        """Whether speech that ended at `end_ms` was heard before it was known who answered."""
        return self._decided_at_ms is not None and end_ms <= self._decided_at_ms

    def start(self) -> None:
        """At the start of the call: greet, or listen first for an answering machine."""
        disclosure, call = self._stack.disclosure, self._call
        if disclosure.applies(call.channel) and disclosure.consent_needed(*_parties(call)):
            # Held from the first sample: what is heard before the question (a "Hello?" while
            # listening for a machine) is not written unless the caller agrees.
            self._hold()
        if self._machine is None:
            self.greet()
        else:
            self._state.recorder.event("machine_detection", 0.0, {"listening": True})

    def hear(self, samples: np.ndarray) -> None:
        """Caller audio (16 kHz) for the answering-machine detector, while it listens."""
        if self._machine is not None:
            found = self._machine.feed(samples)
            if found is not None:
                self._on_machine_detection(found)

    def opt_out_on_turn(self, text: str, at_ms: float) -> OptOut | None:
        return self._opt_out.on_caller_turn(text, at_ms)

    def opt_out_on_key(self, digit: str, at_ms: float) -> OptOut | None:
        return self._opt_out.on_key(digit, at_ms)

    def _on_machine_detection(self, found: Detection) -> None:
        """Who answered an outbound call: a person is greeted; a machine gets the voicemail
        after its beep (or a hang-up)."""
        machine, self._machine = self._stack.machine, None
        if self._awaiting_beep:  # the beep came, or the greeting ended without one
            self._awaiting_beep = False
            self._state.recorder.event("beep", found.at_ms, {"heard": found.beep})
            self._leave_voicemail(machine.voicemail)
            return
        self._decided_at_ms = max(found.at_ms, self._state.clock.now_ms())
        data = {"verdict": found.verdict, "reason": found.reason, "beep": found.beep}
        self._state.recorder.event("answered_by", found.at_ms, data)
        if found.verdict != "machine":
            self.greet()
        elif found.beep:
            self.machine_answered = True
            self._leave_voicemail(machine.voicemail)
        else:
            self.machine_answered = True
            self._awaiting_beep = True
            self._machine = MachineDetector(self._rate, machine.beep_waiter())

    def _leave_voicemail(self, message: str) -> None:
        at_ms = self._state.clock.now_ms()
        self._state.recorder.event("voicemail", at_ms, {"left": bool(message)})
        if message:
            self._say(message, "voicemail")
        else:
            self._say("", "answering_machine")

    def greet(self) -> None:
        """The agent's first words; on a phone call after the disclosure, and if a party is in an
        all-party-consent jurisdiction, a consent question instead of the greeting."""
        disclosure, timeline = self._stack.disclosure, TurnTimeline(turn_index=0)
        lines, call = self._lines(), self._call
        if not disclosure.applies(call.channel):
            self._voice.start("call_start", timeline)
            return
        why = disclosure.consent_needed(*_parties(call))
        data = {"text": lines.disclosure, "consent_asked": why is not None, "jurisdiction": why}
        self._state.recorder.event("disclosure", 0.0, data)
        self._log("disclosure", **data)
        if why is None:
            self._voice.start(
                "call_start", timeline, PrefixedResponder(lines.disclosure, self._responder)
            )
            return
        self._hold()
        self.consent_asks, self._consent_why = 1, why
        question = CannedResponder(f"{lines.disclosure} {lines.consent_question}")
        self._voice.start("call_start", timeline, question)

    def consent_answer(self, text: str, at_ms: float, timeline: TurnTimeline) -> None:
        """The caller's answer to the consent question; then the agent's greeting."""
        disclosure, lines = self._stack.disclosure, self._lines()
        answer = consent_answer(text, self._state.language)
        recorder = self._state.recorder
        if answer is None and self.consent_asks < disclosure.max_asks:
            self.consent_asks += 1
            recorder.event("recording_consent", at_ms, {"answer": "unclear"})
            self._voice.start("silence", timeline, CannedResponder(lines.consent_reask))
            return
        self.consent_asks = 0
        verdict = {True: "granted", False: "declined", None: "unclear"}[answer]
        recorder.event("recording_consent", at_ms, {"answer": verdict})
        self._log("recording_consent", answer=verdict, jurisdiction=self._consent_why)
        self._stop_hold_timer()
        if answer is True:
            self._observer.release_recording()
            line = lines.consent_granted
        else:
            self._observer.stop_recording()
            reason = "the caller declined" if answer is False else "no clear consent"
            recorder.event("recording_stopped", at_ms, {"reason": reason})
            line = lines.consent_declined
        self._voice.start("call_start", timeline, PrefixedResponder(line, self._responder))

    def abandon_consent(self, at_ms: float, reason: str) -> None:
        """The consent question will not be answered (the caller was handed over, or took too
        long): nothing of the recording is kept, as with no clear answer."""
        self._stop_hold_timer()
        if not self.consent_asks and not self._observer.recording_held:
            return
        self.consent_asks = 0
        self._observer.stop_recording()
        self._state.recorder.event("recording_stopped", at_ms, {"reason": reason})

    def _hold(self) -> None:
        """Holds the recording in memory until the caller answers, for at most
        `MAX_HELD_RECORDING_S`: past that it is dropped (memory for the whole call, else)."""
        self._observer.hold_recording()
        if self._hold_timer is None:
            loop = asyncio.get_running_loop()
            self._hold_timer = loop.call_later(MAX_HELD_RECORDING_S, self._hold_expired)

    def _stop_hold_timer(self) -> None:
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None

    def _hold_expired(self) -> None:
        self._hold_timer = None
        if self._state.outcome is None and self._observer.recording_held:
            at_ms = self._state.clock.now_ms()
            self.abandon_consent(at_ms, "no answer to the consent question in time")

    async def opted_out(self, opt_out: OptOut, timeline: TurnTimeline | None = None) -> None:
        """The caller asked not to be called again: listed, told so, and the call ends."""
        options, call = self._stack.opt_out, self._call
        try:
            outcome = await add_to_do_not_call(
                cast(SqlStore, self._stack.store), call.caller, opt_out,
                options.default_region, call.call_id,
            )  # fmt: skip
        except Exception as exc:  # the caller still hears the confirmation; the record says
            log.exception("call %s: the opt-out was not stored", call.call_id)
            outcome = {"added": False, "why": f"store error: {type(exc).__name__}"}
        self._state.recorder.event("opt_out", opt_out.at_ms, opt_out.to_dict() | outcome)
        await self._say_and_wait(self._lines().opt_out, "opted_out", timeline)

    def _lines(self) -> SessionLines:
        """The session's lines in the call's language now."""
        return self._stack.lines(self._state.language)

    def _log(self, kind: Kind, **detail: Any) -> None:
        """Appends to the compliance log in the background (the call never waits on it)."""
        log_ = ComplianceLog(cast(SqlStore, self._stack.store))
        call = self._call
        task = asyncio.create_task(_log_safely(log_, kind, call.caller, call.call_id, detail))
        # Not one of the call's tasks: the end of the call waits for these, never cancels them.
        self._log_tasks.add(task)
        task.add_done_callback(self._log_tasks.discard)

    async def drain(self) -> None:
        """At the end of the call: waits (up to 5 s) for the compliance log's entries."""
        self._stop_hold_timer()
        if self._log_tasks:
            await asyncio.wait(list(self._log_tasks), timeout=5.0)


async def _log_safely(
    log_: ComplianceLog, kind: Kind, number: str | None, call_id: str, detail: dict[str, Any]
) -> None:
    try:
        await log_.append(kind, number, call_id, **detail)
    except Exception:
        log.exception("call %s: compliance log entry %s not written", call_id, kind)


def _parties(call: CallInfo) -> tuple[str | None, ...]:
    """Every number on the call: the other party (`caller`), and the numbers called and
    calling (`to`, `from`). Inbound, `to` is ours; outbound, `from` is ours and `to` the
    callee's. Our own line's jurisdiction counts as much as theirs."""
    params = call.parameters
    return (call.caller, params.get("to"), params.get("from"))
