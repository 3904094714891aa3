"""A goodbye followed by a question does not end the call; the question is answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from callwright.flows.globals import match_global, question_after_goodbye
from examples.clinic.flow import LINES
from tests.fakes.clinic import open_test_clinic, start


@pytest.mark.parametrize(
    ("said", "language", "intent"),
    [
        ("Bye, where exactly are you located?", "en", None),  # "Hi" misheard
        ("Thanks, bye. What time do you open tomorrow", "en", None),  # no question mark
        ("Adiós, ¿dónde están?", "es", None),
        ("Okay, thanks. Bye.", "en", "goodbye"),
        ("Where are you located? Thanks, bye.", "en", "goodbye"),  # the question came first
        ("That's all, thank you, have a good day.", "en", "goodbye"),
        ("Eso es todo, adiós.", "es", "goodbye"),
    ],
)
def test_a_goodbye_is_the_end_only_when_no_question_follows(
    said: str, language: str, intent: str | None
) -> None:
    assert match_global(said, language) == intent


def test_the_question_after_a_goodbye_is_the_words_after_it() -> None:
    assert question_after_goodbye("Bye where exactly are you located") == (
        "where exactly are you located"
    )
    assert question_after_goodbye("Thanks, bye. What time do you open?") == "What time do you open?"
    assert question_after_goodbye("Thanks, bye, have a good day.") is None


async def test_the_question_after_a_goodbye_is_answered(tmp_path: Path) -> None:
    async with open_test_clinic(tmp_path) as clinic:
        talk = await start(clinic, "c-bye-question")
        reply = await talk.say("Bye, where exactly are you located?")
        assert talk.ended is None
        assert "Maple Street" in reply  # the address, as for the same question after "Hi"
        assert await talk.say("Okay, thanks, bye.") == LINES["goodbye"]
        assert talk.ended is not None
