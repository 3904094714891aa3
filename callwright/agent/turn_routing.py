"""Where a caller's turn goes once its words (or keys) are known.

    opt-out ─► CallCompliance (listed, told so, the call ends)
    consent asked ─► the answer to it
    a person on the line ─► the handoff; on hold ─► the handoff's queue
    escalation triggers (asked for a person, key 0, frustration...) ─► the handoff
    otherwise ─► the agent's reply (AgentVoice.start)

Keys go the same way: the first key of an entry stops the agent, may opt out or escalate; a
whole keypad entry ("19840312#") is a turn.
"""

from __future__ import annotations

from callwright.agent.barge_in import BargeIn
from callwright.agent.call_compliance import CallCompliance
from callwright.agent.call_state import CallState
from callwright.agent.dtmf import DtmfCollector
from callwright.agent.silence import SilenceWatchdog
from callwright.agent.turn_judge import TurnJudge
from callwright.agent.voice import AgentVoice
from callwright.core.responder import TransferCall, Trigger
from callwright.core.timeline import TurnTimeline
from callwright.handoff.call import CallHandoff
from callwright.handoff.triggers import Escalation, EscalationOptions, EscalationTriggers
from callwright.transports.base import DtmfIn


class TurnRouting:
    """Routes one call's caller turns, keys and finished replies.

    Args:
        state: the call's shared state (its `turns` counts caller turns).
        voice: the agent's voice.
        barge_in: stops the agent when a key is pressed.
        compliance: opt-outs and consent.
        handoff: the call's handoff to a person.
        escalation: the escalation triggers' options.
        silence: the dead-air watchdog, told when the caller answers.
        judge: knows the agent's open question (whether it asks for digits to key in).
    """

    def __init__(
        self,
        state: CallState,
        voice: AgentVoice,
        barge_in: BargeIn,
        compliance: CallCompliance,
        handoff: CallHandoff,
        escalation: EscalationOptions,
        silence: SilenceWatchdog,
        judge: TurnJudge,
    ) -> None:
        self._state = state
        self._voice = voice
        self._barge_in = barge_in
        self._compliance = compliance
        self._handoff = handoff
        self._triggers = EscalationTriggers(escalation)
        self._silence = silence
        self._judge = judge
        self.dtmf = DtmfCollector(self._on_keypad_entry)

    async def caller_turn(
        self, text: str, confidence: float | None, end_ms: float, timeline: TurnTimeline
    ) -> None:
        """A caller turn goes to the handoff if one is under way, else past the triggers."""
        compliance, handoff = self._compliance, self._handoff
        if compliance.takes_no_turns or compliance.heard_while_deciding(end_ms):
            return  # deciding who answered, or a machine: what it says is not a turn
        # The handoff's first line answering this turn carries its timeline (TTFA, stages).
        if handoff.mode != "human" and (opt_out := compliance.opt_out_on_turn(text, end_ms)):
            await compliance.opted_out(opt_out, timeline)
        elif compliance.consent_asks and handoff.mode == "agent":
            compliance.consent_answer(text, end_ms, timeline)
        elif handoff.mode != "agent":
            # A caller handed over (the 0 key) before answering the consent question: their
            # words are for the handoff ("Yes, call me back"), and the recording is not kept.
            compliance.abandon_consent(end_ms, "handed over before answering")
            if handoff.mode == "human":
                await handoff.caller_said(text)
            else:
                await handoff.on_caller_text(text, timeline)
        elif (escalation := self._triggers.on_caller_turn(text, confidence, end_ms)) is not None:
            await handoff.escalate(escalation, timeline=timeline)
        else:
            self._voice.start("user_turn", timeline)

    async def key(self, event: DtmfIn) -> None:
        """A key stops the agent at once: a caller who is typing is not listening.

        The operator and opt-out keys act only on their own, when nothing is being keyed
        in: while an entry is under way, or the open question asks for a number (a date of
        birth "07041990#"), every key is part of the entry.
        """
        self._silence.activity()
        first = self.dtmf.pending == ""
        if self._voice.speaking and first:
            await self._barge_in.stop(event.at_ms)
        command = first and not self._expects_keyed_entry()
        handoff, compliance = self._handoff, self._compliance
        if handoff.mode != "human" and command:
            if (opt_out := compliance.opt_out_on_key(event.digit, event.at_ms)) is not None:
                await compliance.opted_out(opt_out)
                return
        escalation = None
        if handoff.mode == "agent" and command:
            escalation = self._triggers.on_key(event.digit, event.at_ms)
        if escalation is not None:
            await handoff.escalate(escalation)
        else:
            self.dtmf.press(event.digit, event.at_ms)

    def _expects_keyed_entry(self) -> bool:
        """Whether the agent's open question asks for something typed as digits."""
        expected = self._judge.expected_answer()
        return expected is not None and bool(_KEYED_KINDS & set(expected.kinds))

    async def _on_keypad_entry(self, digits: str, start_ms: float, end_ms: float) -> None:
        """A complete entry ("19840312"; `#` or 1.5 s without a key ended it) is a turn."""
        state = self._state
        if self._voice.speaking:
            await self._barge_in.stop(end_ms)
        state.history.add_user(digits)
        state.add_utterance("caller", digits, start_ms=start_ms, end_ms=end_ms)
        state.turns += 1
        timeline = TurnTimeline(state.turns, speech_start_ms=start_ms)
        timeline.mark("speech_end_ms", end_ms)
        await state.transport.send_event(
            {"type": "transcript", "role": "caller", "turn": state.turns, "text": digits}
        )
        self._silence.activity(caller_answered=True)
        self._triggers.on_keyed_entry()
        if self._handoff.mode != "agent":
            await self._handoff.on_caller_text(digits, timeline)
        else:
            self._voice.start("dtmf", timeline)

    async def reply_finished(self, text: str, trigger: Trigger) -> None:
        """A reply was spoken in full: it may trigger an escalation ("I can't help with...")."""
        if trigger == "user_turn" and self._handoff.mode == "agent":
            escalation = self._triggers.on_agent_reply(text, self._state.clock.now_ms())
            if escalation is not None:
                await self._handoff.escalate(escalation)

    async def transfer_requested(self, end: TransferCall) -> None:
        """The responder asked to hand the caller to a person."""
        at_ms = self._state.clock.now_ms()
        reason = f"the agent decided to transfer ({end.reason})"
        escalation = Escalation("agent_decision", reason, at_ms)
        await self._handoff.escalate(escalation, announced=True, transfer_to=end.to)


# Answers a caller may type on the keypad (see `ExpectedAnswer.kinds`).
_KEYED_KINDS = frozenset({"dob", "digits", "phone"})
