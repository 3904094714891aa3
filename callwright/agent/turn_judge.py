"""Deciding, from the words so far, how long the caller's silence must last to end the turn.

The words are judged against the agent's open question (a whole answer to "your name and date
of birth?" is finished, although a year at the end of a sentence looks like a number still being
dictated), then against what an English sentence can end on. The judgement is made again when
the silence has grown (`recheck_ms`): the recogniser, given the silence too, often writes a
final full stop it did not write 64 ms into the pause, and a turn that looked unfinished ends
there instead of waiting out the long patience.

The interface, for anything that acts before the turn is over (a preemptive reply): one call,
`TurnJudge.judge(text, over_the_agent) -> Judgement`, made by `agent/turn_transcriber.py` on
the words of each pause (and again after `RECHECK_MS`). `Judgement.wait_ms` is the silence
after which the turn ends unless the caller speaks again; `verdict is COMPLETE` means the
words are finished (or hold everything the open question asked for). The call record's
`pause` event carries the judgement and `judged_after_ms`, how long after the end of speech
the words were known.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from callwright.agent.history import ConversationHistory
from callwright.core.responder import ExpectedAnswer, ExpectsAnswer, Responder
from callwright.flows.expected import answers, from_question
from callwright.turns.semantic import Completeness, PatiencePolicy, completeness, ends_mid_sentence

# Silence after which a long wait is judged again, with the silence in the recogniser's input.
RECHECK_MS = 450.0
# The second look is a whole transcription (150-300 ms on two cores): on a wait that ends
# sooner than this after RECHECK_MS it could shorten nothing, and its work would compete
# with the reply's synthesis at the very moment the turn ends.
RECHECK_LEAD_MS = 300.0


@dataclass(frozen=True, slots=True)
class Judgement:
    """How finished the words are, and the silence that ends the turn."""

    verdict: Completeness
    wait_ms: float
    expected: ExpectedAnswer | None
    answered: bool
    confidence: float | None = None

    def record(self) -> dict[str, Any]:
        """The call record's `pause` event data."""
        data: dict[str, Any] = {"completeness": self.verdict.value, "wait_ms": self.wait_ms}
        if self.expected is not None:
            data |= {"expected": list(self.expected.kinds), "answered": self.answered}
        if self.confidence is not None:
            data["confidence"] = round(self.confidence, 3)
        return data

    @property
    def worth_rechecking(self) -> bool:
        """A long wait that more silence may shorten, long enough for a second transcription
        to end before it does (not the neutral 520 ms)."""
        long_enough = self.wait_ms >= RECHECK_MS + RECHECK_LEAD_MS
        return long_enough and self.verdict is not Completeness.COMPLETE


class TurnJudge:
    """Per call: the responder's open question, the history, and the caller's patience."""

    def __init__(
        self, patience: PatiencePolicy, responder: Responder, history: ConversationHistory
    ) -> None:
        self.patience = patience
        self._responder = responder
        self._history = history

    def judge(
        self,
        text: str,
        over_the_agent: bool,
        after_silence: bool = False,
        confidence: float | None = None,
    ) -> Judgement:
        """Judges `text`, everything the caller said this turn.

        Args:
            text: the transcript.
            over_the_agent: said while the agent talks: it answers no question.
            after_silence: transcribed with the pause's silence (the second look): trailing
                dots no longer hold the turn, only the words do.
            confidence: the recogniser's mean token probability for the latest words, when
                it gives one (`Transcript.confidence`).
        """
        expected = None if over_the_agent else self.expected_answer()
        answered = expected is not None and answers(expected, text)
        verdict = completeness(text, answers_question=answered, after_silence=after_silence)
        if verdict is Completeness.COMPLETE and expected is not None and not answered:
            if partly_answers(expected, text):
                # "Maria Garcia, March 12." to "your name and date of birth?": the rest (the
                # year) is coming after the comma's pause, however finished the words look.
                verdict = Completeness.NEUTRAL
        # The recogniser's confidence is recorded, not acted on: Whisper is confidently wrong
        # about most first halves it writes as a finished sentence ("My date of birth is" as
        # "My date of Darth Vader."), and finished answers heard unsurely are as common
        # (`bench/pause_prosody.py`: area under the ROC curve 0.63 on those; README).
        mid_sentence = ends_mid_sentence(text)
        wait_ms = self.patience.end_of_turn_ms(verdict, mid_sentence, answered)
        return Judgement(verdict, wait_ms, expected, answered, confidence)

    def expected_answer(self) -> ExpectedAnswer | None:
        """What the agent's open question asks for: the responder's account, else the question."""
        responder = self._responder
        if isinstance(responder, ExpectsAnswer):
            with contextlib.suppress(Exception):  # a hint only: never let it break the call
                found = responder.expected_answer()
                if found is not None:
                    return found
        last = self._history.last_assistant()
        if last is None or last.interrupted:
            return None
        return from_question(last.content)


def partly_answers(expected: ExpectedAnswer, text: str) -> bool:
    """`text` holds some of what `expected` asks for: one of its kinds, or the day and month
    of a date of birth without its year. (Not all of it: that is `answers`.)"""
    for kind in expected.kinds:
        if answers(ExpectedAnswer((kind,)), text):
            return True
        if kind == "dob" and answers(ExpectedAnswer(("date",)), text):
            return True
    return False
