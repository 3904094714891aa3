"""Spoken numbers in transcripts: "nineteen eighty four" → 1984, "twelfth" → 12th.

Whisper writes most numbers as digits, but not all ("two-thirty", "the third", "oh five"),
and a caller dictating digits one by one comes out as words. Normalizing number words to
digits first lets every extractor work on one form.
"""

from __future__ import annotations

import re

UNITS = {
    "zero": 0,
    "oh": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
_TOKEN = re.compile(r"[a-z]+|\d+(?:st|nd|rd|th)?|[^\sa-z\d]+|\s+")


def _kind(word: str) -> str | None:
    if word in UNITS:
        return "unit"
    if word in TEENS:
        return "teen"
    if word in TENS:
        return "tens"
    if word in ORDINALS:
        return "ordinal"
    if word in ("hundred", "thousand"):
        return word
    return None


class _Group:
    """Consecutive number words, folded into one or more numbers."""

    def __init__(self) -> None:
        self.numbers: list[tuple[int, bool]] = []  # (value, is_ordinal)
        self.cur: int | None = None
        self.last = ""

    def flush(self) -> None:
        if self.cur is not None:
            self.numbers.append((self.cur, False))
        self.cur, self.last = None, ""

    def add(self, word: str) -> None:
        kind = _kind(word)
        joins = self.last in ("hundred", "thousand", "and")
        if kind == "unit":
            value = UNITS[word]
            if self.cur is not None and (self.last == "tens" or joins):
                self.cur += value
            else:
                self.flush()
                self.cur = value
            self.last = "unit"
        elif kind in ("teen", "tens"):
            value = TEENS.get(word) or TENS[word]
            if self.cur is not None and joins:
                self.cur += value
            else:
                self.flush()
                self.cur = value
            self.last = kind
        elif kind == "ordinal":
            value = ORDINALS[word]
            if self.cur is not None and ((self.last == "tens" and value < 10) or joins):
                value += self.cur
            else:
                self.flush()
            self.numbers.append((value, True))
            self.cur, self.last = None, ""
        elif kind in ("hundred", "thousand"):
            scale = 100 if kind == "hundred" else 1000
            self.cur = (self.cur or 1) * scale if kind == "hundred" or self.cur else scale
            self.last = kind

    def render(self) -> list[str]:
        self.flush()
        out: list[str] = []
        i = 0
        nums = self.numbers
        while i < len(nums):
            value, ordinal = nums[i]
            # "nineteen eighty four", "twenty twenty six": years said as two pairs.
            if (
                not ordinal
                and value in (19, 20)
                and i + 1 < len(nums)
                and not nums[i + 1][1]
                and 10 <= nums[i + 1][0] <= 99
            ):
                out.append(str(value * 100 + nums[i + 1][0]))
                i += 2
                continue
            out.append(f"{value}{_suffix(value)}" if ordinal else str(value))
            i += 1
        return out


def _suffix(value: int) -> str:
    if 10 <= value % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")


def normalize_numbers(text: str) -> str:
    """Lower-cases `text` and replaces spelled-out numbers with digits.

    Ordinals keep their suffix ("twenty first" → "21st"); years said in pairs are joined
    ("nineteen eighty four" → "1984"); hyphens between number words count as spaces.

    Args:
        text: a transcript.

    Returns:
        The transcript, lower-cased, with numbers as digits.
    """
    text = text.lower().replace("’", "'")
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    out: list[str] = []
    group: _Group | None = None
    pending_space = ""
    for token in _TOKEN.findall(text):
        # "oh" is a zero only inside a number ("nineteen oh five"), not "oh, I see".
        is_number = _kind(token) is not None and (token != "oh" or group is not None)
        is_and = token == "and" and group is not None and group.last in ("hundred", "thousand")
        if is_number or is_and:
            if group is None:
                group = _Group()
                out.append(pending_space)
            if is_and:
                group.last = "and"
            else:
                group.add(token)
            pending_space = ""
            continue
        if token.isspace():
            if group is not None:
                pending_space = token
                continue
            out.append(token)
            continue
        if group is not None:
            out.append(" ".join(group.render()))
            group = None
        out.append(pending_space + token)
        pending_space = ""
    if group is not None:
        out.append(" ".join(group.render()))
    return "".join(out).strip()
