"""Yes, no or neither in a caller's answer (`flows.yes_no`), by mechanism.

Each mechanism has the phrasings a probe of the no-LLM agent found misread, and phrasings
written apart from it (other words, same mechanism) that the reader never saw while it was
written: the product is judged on callers and words no test lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from callwright.flows.slots import extract_yes_no
from callwright.flows.spanish import canonical
from callwright.flows.yes_no import polarity
from tests.fakes.clinic import open_test_clinic, start

Y, N, X = True, False, None

# --- the interjection families and spellings of yes and no --------------------------------
INTERJECTIONS = [
    ("mm-hmm", Y),
    ("mhm", Y),
    ("uh-huh", Y),
    ("Uh huh.", Y),
    ("yah", Y),
    ("yeh", Y),
    ("nope", N),
    ("nah", N),
]
INTERJECTIONS_HELD_OUT = [
    ("mmhmm", Y),
    ("mm hmm", Y),
    ("uhhuh", Y),
    ("yeap", Y),
    ("yess", Y),
    ("naw", N),
    ("nooo", N),
    ("uh-uh", N),
    ("nuh-uh", N),
]

# --- agreement said as an evaluation or an action, not as "yes" --------------------------
ASSENT_FORMS = [
    ("that's fine", Y),
    ("fine", Y),
    ("alright", Y),
    ("sounds great", Y),
    ("that'd be great", Y),
    ("works for me", Y),
    ("you got it", Y),
    ("yeah that works", Y),
    ("sure thing", Y),
    ("go ahead", Y),
    ("yep sounds good", Y),
    ("let's do it", Y),
    ("yes ma'am", Y),
    ("that's right", Y),
    ("correct", Y),
]
ASSENT_FORMS_HELD_OUT = [
    ("that's perfect", Y),
    ("fine by me", Y),
    ("that would work", Y),
    ("all right then", Y),
    ("lovely, thanks", Y),
    ("you bet", Y),
    ("please do", Y),
    ("thats fine", Y),
    ("could you go ahead and book it", Y),
]

# --- a "not" after an assent word is the answer ("absolutely not") ------------------------
NEGATED_AFTER = [
    ("absolutely not", N),
    ("definitely not", N),
]
NEGATED_AFTER_HELD_OUT = [
    ("certainly not", N),
    ("of course not", N),
    ("oh god no", N),
    ("probably not", N),
]

# --- a negator scopes over the word it negates -------------------------------------------
NEGATION_SCOPE = [
    ("not a problem", Y),  # a negated problem is agreement
    ("i don't see why not", Y),
    ("no worries, go ahead", Y),
    ("sure why not", Y),
    ("not really", N),
    ("that's not right", N),
    ("not quite", N),
    ("hmm i don't think so", N),
    ("i'd rather not", N),
    ("please don't", N),
    ("no thank you", N),
    ("no that's wrong", N),
    ("negative", N),
]
NEGATION_SCOPE_HELD_OUT = [
    ("no trouble at all", Y),
    ("that's no bother", Y),
    ("i don't mind", Y),
    ("i've got no objection", Y),
    ("i can't see why not", Y),
    ("not bad, let's do that", Y),
    ("that isn't right", N),
    ("that doesn't work for me", N),
    ("i don't think that's correct", N),
    ("not exactly", N),
    ("don't book it", N),
    ("id rather not", N),
]

# --- the caller corrects themself: the last clause decides --------------------------------
CORRECTIONS = [
    ("sure, no", N),
    ("yes, wait, no", N),
    ("yeah no that's not it", N),
    ("actually no", N),
    ("no no no", N),
]
CORRECTIONS_HELD_OUT = [
    ("yes, hold on, no", N),
    ("okay actually no", N),
    ("no no sorry, yes that's right", Y),
    ("uh yeah i mean no", N),
    ("nope, actually yeah go for it", Y),
    ("yes and no", X),  # both at once: ask again
]

# --- a hedge or a question back is no answer: ask again ----------------------------------
HEDGES_AND_QUESTIONS = [
    ("not sure", X),
    ("i'm not sure actually", X),
    ("wait, what time was that?", X),
    ("right, what day was that again?", X),
    ("okay so which doctor is it?", X),
]
HEDGES_AND_QUESTIONS_HELD_OUT = [
    ("i don't know", X),
    ("maybe", X),
    ("no idea", X),
    ("i'm not certain", X),
    ("sorry, which day?", X),
    ("okay and how long will it take", X),
    ("yeah when is that again", X),
    ("did you say thursday", X),
]


def _ids(cases: Sequence[tuple[str, object]]) -> list[str]:
    return [text for text, _ in cases]


@pytest.mark.parametrize(("text", "want"), INTERJECTIONS, ids=_ids(INTERJECTIONS))
def test_interjections(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(("text", "want"), INTERJECTIONS_HELD_OUT, ids=_ids(INTERJECTIONS_HELD_OUT))
def test_interjections_held_out(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(("text", "want"), ASSENT_FORMS, ids=_ids(ASSENT_FORMS))
def test_assent_forms(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(("text", "want"), ASSENT_FORMS_HELD_OUT, ids=_ids(ASSENT_FORMS_HELD_OUT))
def test_assent_forms_held_out(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(("text", "want"), NEGATED_AFTER, ids=_ids(NEGATED_AFTER))
def test_not_after_an_assent_word(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(("text", "want"), NEGATED_AFTER_HELD_OUT, ids=_ids(NEGATED_AFTER_HELD_OUT))
def test_not_after_an_assent_word_held_out(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(("text", "want"), NEGATION_SCOPE, ids=_ids(NEGATION_SCOPE))
def test_negation_scope(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(
    ("text", "want"), NEGATION_SCOPE_HELD_OUT, ids=_ids(NEGATION_SCOPE_HELD_OUT)
)
def test_negation_scope_held_out(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(("text", "want"), CORRECTIONS, ids=_ids(CORRECTIONS))
def test_the_last_clause_decides(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(("text", "want"), CORRECTIONS_HELD_OUT, ids=_ids(CORRECTIONS_HELD_OUT))
def test_the_last_clause_decides_held_out(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(("text", "want"), HEDGES_AND_QUESTIONS, ids=_ids(HEDGES_AND_QUESTIONS))
def test_hedges_and_questions_are_no_answer(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


@pytest.mark.parametrize(
    ("text", "want"), HEDGES_AND_QUESTIONS_HELD_OUT, ids=_ids(HEDGES_AND_QUESTIONS_HELD_OUT)
)
def test_hedges_and_questions_are_no_answer_held_out(text: str, want: bool | None) -> None:
    assert extract_yes_no(text) is want


ALL = (
    INTERJECTIONS
    + INTERJECTIONS_HELD_OUT
    + ASSENT_FORMS
    + ASSENT_FORMS_HELD_OUT
    + NEGATED_AFTER
    + NEGATED_AFTER_HELD_OUT
    + NEGATION_SCOPE
    + NEGATION_SCOPE_HELD_OUT
    + CORRECTIONS
    + CORRECTIONS_HELD_OUT
    + HEDGES_AND_QUESTIONS
    + HEDGES_AND_QUESTIONS_HELD_OUT
)


def test_a_recogniser_writing_no_punctuation_reads_the_same() -> None:
    """The recogniser may drop punctuation and capitals: the reading must not depend on
    them, except a question mark, which is all that marks some questions back."""
    for text, want in ALL:
        bare = " ".join(text.replace("?", "").replace(",", " ").replace(".", " ").split())
        if text.endswith("?") and want is None and polarity(bare) is not None:
            continue  # only the question mark said it was a question
        assert polarity(bare.lower()) is want, bare
        assert polarity(text.upper()) is want, text.upper()


def test_spanish_still_reads_through_its_rewriting() -> None:
    assert extract_yes_no(canonical("Sí, claro.")) is True
    assert extract_yes_no(canonical("No, gracias.")) is False
    assert extract_yes_no(canonical("No sé.")) is None
    # "ya" is "already" in Spanish and "you" in English ("see ya"), never a spelling of yes.
    assert extract_yes_no(canonical("Ya no quiero la cita.")) is None


# (answer to the read-back "So that's Doctor Patel on ... Shall I book it?", booked?)
READ_BACK = [
    ("absolutely not", False),
    ("definitely not", False),
    ("mm-hmm", True),
    ("that's fine", True),
    ("not a problem, book it", True),
    ("no worries, go ahead", True),
    ("wait, what time was that?", False),
]
READ_BACK_HELD_OUT = [
    ("certainly not", False),
    ("of course not", False),
    ("mm hmm", True),
    ("fine by me", True),
    ("no trouble at all", True),
    ("yes, hold on, no", False),
    ("sorry which day?", False),
    ("i don't think that's correct", False),
]


@pytest.mark.parametrize(
    ("answer", "booked"), READ_BACK + READ_BACK_HELD_OUT, ids=_ids(READ_BACK + READ_BACK_HELD_OUT)
)
async def test_the_clinic_books_only_on_a_yes(tmp_path: Path, answer: str, booked: bool) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-read-back")
        await talk.say("I'd like to book Doctor Patel for Wednesday at 10 in the morning.")
        reply = await talk.say("John Smith, July 4, 1990")
        assert reply.endswith("Shall I book it?"), reply
        await talk.say(answer)
        assert ("book_appointment" in talk.tools_called()) is booked
        assert bool(await clinic.data.store.appointments("pat_john")) is booked
