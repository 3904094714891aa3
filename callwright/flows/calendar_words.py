"""The words of the calendar, shared by the date, time and date-of-birth readers.

Weekdays and months (as the recogniser misspells them), day numbers and years.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterator

from callwright.flows.numbers import normalize_numbers

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
_WORD = re.compile(r"[a-z]+|\d+(?:st|nd|rd|th)?")


def tokens(text: str) -> list[str]:
    """Lower-cased words and numbers of a transcript, with number words as digits."""
    return _WORD.findall(normalize_numbers(text))


def weekday(word: str) -> int | None:
    """The weekday (0 is Monday) a word names, allowing the recogniser's misspellings."""
    if word in WEEKDAYS:
        return WEEKDAYS.index(word)
    if len(word) >= 5:
        # Whisper misspells rather than drops weekdays ("wensday"); close enough counts.
        close = difflib.get_close_matches(word, WEEKDAYS, n=1, cutoff=0.8)
        if close:
            return WEEKDAYS.index(close[0])
    return None


def month(word: str) -> int | None:
    """The month (1 to 12) a word names: "march", "dec"; not the verbs "may" and "mar"."""
    if word in MONTHS:
        return MONTHS.index(word) + 1
    if word in _MONTH_ABBR and word != "may" and word != "mar":
        return _MONTH_ABBR[word]
    return None


def day_number(word: str) -> int | None:
    """The day of the month in "12", "12th"; None for anything else."""
    match = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", word)
    if match and 1 <= int(match.group(1)) <= 31:
        return int(match.group(1))
    return None


def safe_date(year: int, month: int, day: int) -> dt.date | None:
    """The date, or None when there is no such day (February 30th)."""
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def year(word: str) -> int | None:
    """A year said in full: 1900 to 2099."""
    return int(word) if re.fullmatch(r"(19|20)\d\d", word) else None


def month_days(words: list[str]) -> Iterator[tuple[int, int, int | None]]:
    """Every (month, day, year or None) in the words, in order: "march 12 1984", "12th of
    march", "the 3rd of may" (a year only when said in full right after)."""
    for i, word in enumerate(words):
        found = month(word)
        if found is None:
            continue
        after = words[i + 1 : i + 4]
        if after and after[0] == "the":
            after = after[1:]
        if after and (day := day_number(after[0])) is not None:
            yield found, day, year(after[1]) if len(after) > 1 else None
            continue
        before = [w for w in words[max(0, i - 3) : i] if w not in ("the", "of")]
        if before and (day := day_number(before[-1])) is not None:
            yield found, day, year(after[0]) if after else None
