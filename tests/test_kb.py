"""The knowledge base: markdown passages, FTS5/BM25 retrieval, a confidence threshold."""

from __future__ import annotations

from pathlib import Path

from callwright.kb import KnowledgeBase
from callwright.kb.base import parse_markdown
from examples.clinic.factory import KNOWLEDGE_DIR

CLINIC_GENERIC = ("clinic", "office", "practice")


def test_markdown_becomes_passages() -> None:
    passages = parse_markdown(
        "# Opening hours\nKeywords: open, close\nWe are open\nall day.\n\n# Empty\n", "faq.md"
    )
    assert [(p.key, p.text, p.keywords) for p in passages] == [
        ("faq/opening-hours", "We are open all day.", "open, close")
    ]


async def test_clinic_questions_are_answered_from_the_right_passage() -> None:
    kb = KnowledgeBase.from_folder(KNOWLEDGE_DIR, generic=CLINIC_GENERIC)
    try:
        cases = {
            "What are your opening hours?": "clinic/opening-hours",
            "What time do you open on Saturday?": "clinic/opening-hours",
            "What is your address?": "clinic/address",
            "where are you located?": "clinic/address",
            "Is there parking near the clinic?": "clinic/parking",
            "Do you take blue cross insurance?": "insurance/insurance-we-accept",
            "How much does a visit cost?": "insurance/paying-without-insurance",
        }
        for question, key in cases.items():
            answer = await kb.answer(question)
            assert answer is not None and answer.passage.key == key, question
            assert answer.confidence >= kb.threshold
    finally:
        kb.close()


async def test_below_the_threshold_there_is_no_answer(tmp_path: Path) -> None:
    kb = KnowledgeBase.from_folder(KNOWLEDGE_DIR, generic=CLINIC_GENERIC)
    try:
        # Shares "bring" with a passage, but the passage says nothing about dogs.
        assert await kb.answer("Can I bring my dog?") is None
        assert await kb.answer("Do you do x-rays?") is None
        found = await kb.search("Can I bring my dog?")
        assert found and found[0].confidence < kb.threshold
    finally:
        kb.close()
    # Written down, with the words callers use, it is answered.
    (tmp_path / "a.md").write_text("# Dogs\nKeywords: dog, pets, bring\nDogs are welcome.\n")
    own = KnowledgeBase.from_folder(tmp_path)
    try:
        answer = await own.answer("Can I bring my dog?")
        assert answer is not None and answer.passage.text == "Dogs are welcome."
    finally:
        own.close()


async def test_interjections_around_a_question_do_not_hide_it() -> None:
    kb = KnowledgeBase.from_folder(KNOWLEDGE_DIR, generic=CLINIC_GENERIC)
    try:
        for question, key in {
            "Wait, stop! What is your address?": "clinic/address",
            "Sorry, what are your hours?": "clinic/opening-hours",
            "Which bus stops near you?": "clinic/public-transport",
        }.items():
            answer = await kb.answer(question)
            assert answer is not None and answer.passage.key == key, question
    finally:
        kb.close()


def test_topic_names_are_the_titles_of_two_words_or_more() -> None:
    kb = KnowledgeBase(
        parse_markdown(
            "# Opening hours\nEight to six.\n# Parking\nBehind.\n# Phone and fax\nOn the web.\n"
        )
    )
    try:
        assert kb.topic_names() == ["Opening hours", "Phone and fax"]
    finally:
        kb.close()
