"""Corrections inside one sentence: values a caller replaces, and values they repair.

Two mechanisms, both read before any value is extracted:

- A *replaced* value is named as what is not wanted: "11 instead of 10", "Tuesday, not
  Wednesday", "move it from ten to eleven". `without_replaced` drops it, so the new value
  wins in whichever order the two are said. A day said relative to the replaced one keeps it
  as its anchor ("not tomorrow, the day after" is the day after tomorrow).
- A *self-repair* is a marker between two values of the same kind: "Thursday no wait
  Friday", "at 3, I mean 4", "Tuesday uh no Wednesday", "at 3 no make it 4". The markers are
  words of retraction (no, nope, wait, sorry, oops), of rephrasing (I mean, actually, rather,
  make it/that, scratch that, correction) and of holding on (hang on, hold on), with or
  without punctuation. `repair_segments` cuts the sentence before each marker; a slot takes
  its value from the last segment that has one of its kind, so values of other kinds said
  before a repair stand ("Doctor Patel on Tuesday, sorry, Wednesday" keeps the doctor), and
  a marker with no value of the same kind on both sides changes nothing ("no insurance,
  Tuesday is fine"; "Friday at 3 is fine, no problem").
"""

from __future__ import annotations

import re
from itertools import pairwise

from callwright.flows.calendar_words import MONTHS, WEEKDAYS
from callwright.flows.numbers import normalize_numbers

_MARKER = re.compile(
    r"\b(?:no|nope|nah|wait|sorry|oops|actually|rather|i mean|i meant|make it|make that"
    r"|scratch that|correction|hang on|hold on)\b"
)


def repair_segments(text: str) -> list[str]:
    """`text` (lower case) cut before each self-repair marker; one segment when there is none.

    "next Thursday no wait Friday" → ["next thursday ", "no ", "wait friday"]. Each segment
    keeps its marker words: "make it 4" still says "it 4".
    """
    lowered = text.lower().replace("’", "'")
    cuts = [m.start() for m in _MARKER.finditer(lowered) if lowered[: m.start()].strip(" ,.;!?")]
    bounds = [0, *cuts, len(lowered)]
    return [lowered[a:b] for a, b in pairwise(bounds) if lowered[a:b]]


def without_markers(segment: str) -> str:
    """A segment without its repair markers and punctuation: "no, make it 4" → "4"."""
    return " ".join(_MARKER.sub(" ", segment).replace(",", " ").split()).strip(" .;!?")


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
