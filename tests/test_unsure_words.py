"""Words that only look finished: a clause stopping before its verb; words heard unsurely."""

from __future__ import annotations

import pytest

from callwright.agent.history import ConversationHistory
from callwright.agent.turn_judge import TurnJudge
from callwright.turns.semantic import (
    Completeness,
    PatienceOptions,
    PatiencePolicy,
    completeness,
    ends_mid_sentence,
)

OPTIONS = PatienceOptions()
CLEAR = 0.9  # a mean token probability well above the floor
GUESSED = 0.3  # and well below it


class _Silent:
    def respond(self, context: object) -> object:
        raise NotImplementedError


def _judge(question: str | None = None) -> TurnJudge:
    history = ConversationHistory()
    if question is not None:
        history.add_assistant(question)
    return TurnJudge(PatiencePolicy(OPTIONS), _Silent(), history)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "I was wondering if you",
        "Could you check whether it",
        "Call me back once it",
        "I'm free any day except",
        "Could you tell me whether the clinic",
        "I'm calling because my son",
    ],
)
def test_a_clause_waiting_for_its_verb_or_object_ends_no_sentence(text: str) -> None:
    assert ends_mid_sentence(text) and ends_mid_sentence(text + ".")
    assert completeness(text + ".", after_silence=True) is Completeness.INCOMPLETE


@pytest.mark.parametrize(
    "text",
    [
        "Thank you.",
        "I'd like to cancel it.",
        "Can you repeat that?",
        "Yes, I do.",
        "I've had a fever since the weekend.",  # "since" also a preposition: an object
        "I'm calling because of the bill.",
        "Ask whether the clinic is open.",  # the verb came
    ],
)
def test_you_and_it_as_objects_still_end_a_sentence(text: str) -> None:
    assert not ends_mid_sentence(text)
    assert completeness(text) is not Completeness.INCOMPLETE


def test_the_recognisers_confidence_is_recorded_but_does_not_hold_the_turn() -> None:
    # Whisper's mean token probability does not tell a misheard first half from a finished
    # answer heard unsurely (bench/pause_prosody.py), so it is only recorded.
    judge = _judge()
    sure = judge.judge("My date of Darth Vader.", over_the_agent=False, confidence=CLEAR)
    unsure = judge.judge("My date of Darth Vader.", over_the_agent=False, confidence=GUESSED)
    for judged in (sure, unsure):
        assert judged.verdict is Completeness.COMPLETE and judged.wait_ms == OPTIONS.complete_ms
    assert unsure.record()["confidence"] == GUESSED
    unknown = judge.judge("My date of Darth Vader.", over_the_agent=False, confidence=None)
    assert "confidence" not in unknown.record()
