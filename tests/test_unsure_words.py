"""Words that only look finished: heard unsurely, or stopping where a clause still needs a verb."""

from __future__ import annotations

import pytest

from callwright.agent.history import ConversationHistory
from callwright.agent.turn_judge import UNSURE_CONFIDENCE, TurnJudge
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
        "I'm calling because we",
        "I'm free any day except",
        "My wife and I",
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


def test_a_finished_looking_sentence_heard_unsurely_is_not_answered_at_once() -> None:
    # "My date of birth is" heard as "My date of Darth Vader.": whole by its words, but the
    # recogniser was guessing.
    judge = _judge()
    sure = judge.judge("My date of Darth Vader.", over_the_agent=False, confidence=CLEAR)
    assert sure.verdict is Completeness.COMPLETE and sure.wait_ms == OPTIONS.complete_ms
    unsure = judge.judge("My date of Darth Vader.", over_the_agent=False, confidence=GUESSED)
    assert unsure.unsure and unsure.verdict is not Completeness.COMPLETE
    assert unsure.wait_ms > OPTIONS.complete_ms
    assert unsure.record()["unsure"] is True and unsure.record()["confidence"] == GUESSED
    # No confidence (a provider that gives none): the words alone decide, as before.
    unknown = judge.judge("My date of Darth Vader.", over_the_agent=False, confidence=None)
    assert unknown.verdict is Completeness.COMPLETE and "confidence" not in unknown.record()


def test_the_floor_is_a_strict_lower_bound() -> None:
    judge = _judge()
    at = judge.judge("I need a checkup.", over_the_agent=False, confidence=UNSURE_CONFIDENCE)
    assert not at.unsure and at.verdict is Completeness.COMPLETE
    under = judge.judge("I need a checkup.", False, confidence=UNSURE_CONFIDENCE - 0.01)
    assert under.unsure


def test_a_question_or_a_whole_answer_heard_unsurely_is_still_answered_at_once() -> None:
    # A question asks whatever was misheard in it; all the open question asked for is there.
    question = _judge().judge("Can I see Doctor NGBY?", over_the_agent=False, confidence=GUESSED)
    assert not question.unsure and question.wait_ms == OPTIONS.complete_ms
    identity = _judge("Sure. What is your full name and date of birth?")
    whole = identity.judge("Maria Garsey, March 12, 1984.", False, confidence=GUESSED)
    assert whole.answered and not whole.unsure and whole.wait_ms == OPTIONS.complete_ms


def test_unsure_words_wait_no_longer_than_words_that_say_nothing_either_way() -> None:
    # Never past the 1.2 s limit: the last word may end a sentence.
    judged = _judge().judge("I need a checkup.", over_the_agent=False, confidence=GUESSED)
    assert judged.wait_ms <= OPTIONS.sure_max_ms
    assert not ends_mid_sentence("I need a checkup.")


def test_with_a_fixed_end_of_turn_silence_nothing_changes() -> None:
    fixed = PatienceOptions(480.0, 480.0, 480.0, per_resume_ms=0.0, max_ms=480.0)
    history = ConversationHistory()
    judge = TurnJudge(PatiencePolicy(fixed), _Silent(), history)  # type: ignore[arg-type]
    assert judge.judge("My date of Darth Vader.", False, confidence=GUESSED).wait_ms == 480.0
