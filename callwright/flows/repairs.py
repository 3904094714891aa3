"""Corrections inside one sentence: values a caller replaces, and values they repair."""

from __future__ import annotations

import re

from callwright.flows.calendar_words import MONTHS, WEEKDAYS
from callwright.flows.numbers import normalize_numbers

# What a correction replaces: "instead of ten", "rather than Tuesday", "not Wednesday", and
# "from ten" in "move it from ten to eleven". The clause ends at punctuation or "but".
_CLAUSE_END = r"(?=[,.;!?]|\b(?:but|could|can|would|how|what|let|make|maybe|please|i|we)\b|$)"
_REPLACED = (
    re.compile(r"\b(?:instead of|rather than|in place of)\b[^,.;!?]*?" + _CLAUSE_END),
    re.compile(r"\bnot\b(?! sure\b)[^,.;!?]*?" + _CLAUSE_END),
    re.compile(r"\bfrom\b[^,.;!?]*?\bto\b(?=\s+\S)"),
)

# "eleven instead of ten", "not ten, eleven": a bare number replacing a number.
_NUMBER_FOR_NUMBER = (
    re.compile(r"(?<!at )(?<![\w:])(\d{1,2}) (?=(?:instead of|rather than) \d)"),
    re.compile(r"(?<![\w:])not (?:at )?\d{1,2}(?::\d\d)?[, ]+(?:but )?(\d{1,2})\b(?!:)"),
)

# "not tomorrow, the day after": a day said relative to the replaced one, with no anchor of
# its own (none of these words follows), becomes "the day after tomorrow".
_ANCHOR_WORDS = "|".join(
    ["tomorrow", "today", "next", "this", r"the \d", r"\d", *WEEKDAYS, *MONTHS]
)
_RELATIVE_TO_REPLACED = re.compile(
    r"\bnot ([^,.;!?]+?)[,.;!?]*\s+(?:but\s+)?((?:the\s+|a\s+)?(?:day|week)\s+(?:after|before))"
    rf"(?:\s+that)?\b(?!\s+(?:{_ANCHOR_WORDS}))"
)


# A speaker's own repair mid-sentence: "next Tuesday, no, sorry, Wednesday", "at ten, I mean
# eleven". A one-word marker counts only set off by punctuation ("no," / ", sorry,"), so "no
# insurance" or "sorry to bother you" are no repair; the longer ones stand on their own.
_SELF_REPAIR = re.compile(
    r"(?:(?<=[,.;!?])|^)\s*(?:no|nope|sorry|wait|oops|actually|no sorry|no wait|sorry no)"
    r"\s*[,.;!?]"
    r"|\b(?:i mean|i meant|or rather|make that|scratch that|no no)\b[,.;!?]?"
)


def self_repaired(text: str) -> tuple[str, str] | None:
    """What a sentence said before its last self-repair, and what replaced it; None if the
    speaker did not repair anything ("next Tuesday, no, sorry, Wednesday" → ("next tuesday",
    "wednesday.")). A value after the repair replaces one of the same kind before it; values
    of other kinds said before it stand ("Doctor Patel on Tuesday, I mean Wednesday")."""
    lowered = text.lower()
    last = max(_SELF_REPAIR.finditer(lowered), key=lambda m: m.start(), default=None)
    if last is None or not lowered[: last.start()].strip(" ,.;!?"):
        return None  # nothing before the marker to repair ("No, Tuesday." is an answer)
    return lowered[: last.start()], lowered[last.end() :]


def without_replaced(text: str) -> str:
    """The transcript without the values a correction replaces.

    "Could we do 11 instead of 10?" → "could we do 11 ?", "Tuesday, not Wednesday" →
    "tuesday, ", "move it from ten to eleven" → "move it  eleven", "not tomorrow, the day
    after" → "the day after tomorrow". Values are then read from what is left, so the new
    value wins whichever order the caller says them in.
    """
    lowered = text.lower()
    # "eleven instead of ten": the number replacing a number is a time of the same kind.
    numbers = normalize_numbers(lowered)
    for pattern in _NUMBER_FOR_NUMBER:
        if pattern.search(numbers):
            lowered = numbers = pattern.sub(r"at \1 ", numbers)
    lowered = _RELATIVE_TO_REPLACED.sub(r"\2 \1", lowered)
    for pattern in _REPLACED:
        lowered = pattern.sub(" ", lowered)
    return lowered
