"""The time of day a caller asks for: clock expressions, parts of the day, keyed hours."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from callwright.flows.calendar_words import MONTHS, day_number, month, tokens, weekday
from callwright.flows.numbers import normalize_numbers

Period = Literal["morning", "afternoon", "evening"]
_WORD = re.compile(r"[a-z]+|\d+(?:st|nd|rd|th)?")


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """A time of day the caller asked for: an exact time, or only a part of the day.

    Attributes:
        time: the exact time, when one was said.
        period: "morning", "afternoon" or "evening", when said (with or without a time).
    """

    time: dt.time | None = None
    period: Period | None = None


_PERIOD_WORDS: dict[str, Period] = {
    "morning": "morning",
    "afternoon": "afternoon",
    "evening": "evening",
    "tonight": "evening",
}


def _meridiem(joined: str) -> str | None:
    if re.search(r"\b(a ?\.? ?m\b\.?)", joined):
        return "am"
    if re.search(r"\b(p ?\.? ?m\b\.?)", joined):
        return "pm"
    return None


def _resolve_hour(hour: int, meridiem: str | None, period: Period | None) -> int | None:
    if not 0 <= hour <= 23:
        return None
    if hour > 12:
        return hour
    if meridiem == "pm" or period in ("afternoon", "evening"):
        return hour + 12 if hour < 12 else 12
    if meridiem == "am" or period == "morning":
        return 0 if hour == 12 else hour
    # Office hours: "at two" means the afternoon, "at nine" the morning.
    return hour + 12 if 1 <= hour <= 7 else hour


_THREE = re.compile(
    r"\b((?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+|at\s+)(?:free|tree)\b", re.I
)


_TWO = re.compile(
    r"(^|[,.]\s*|\bat\s+)(?:to|too)\s+(?=(?:in\s+)?the\s+(?:afternoon|morning|evening)\b)", re.I
)


def _misheard_three(text: str) -> str:
    """Whisper often hears "three" as "free" ("Thursday, free in the afternoon", "at free")
    and "two" as "to" ("To the afternoon, please")."""
    return _TWO.sub(r"\1two in ", _THREE.sub(r"\1three", text))


_MONTH_DAY = re.compile(rf"\b({'|'.join(MONTHS)}) (?:the )?\d{{1,2}}(?:st|nd|rd|th)?\b")


def _year_as_hour(words: list[str]) -> int | None:
    """The hour in "Monday, December 14, 2010": Whisper's way of writing "the fourteenth at
    ten" (see `dates.extract_date`); only with a weekday and nothing that says born."""
    if {"born", "birth"} & set(words) or not any(weekday(w) is not None for w in words):
        return None
    for i, word in enumerate(words[:-2]):
        if month(word) is not None and day_number(words[i + 1]) is not None:
            if re.fullmatch(r"20(0[1-9]|1[0-2])", words[i + 2]):
                return int(words[i + 2][2:])
    return None


# "half past", "quarter to" and the recogniser's "have past"/"half passed": the words that
# come before an hour, whether or not one was heard after them.
HOUR_TO_FOLLOW = re.compile(
    r"\b(?:(?:half|have) (?:past|passed|after)|quarter (?:past|after|to|till|of))\b", re.I
)


def keyed_time(digits: str, period: Period | None = None) -> TimeSpec | None:
    """A time typed on the keypad as the hour and then the minutes ("230", "1000", "2").

    The hour is read as a spoken one is: in `period` when the caller named a part of the
    day, else as office hours (1 to 7 is the afternoon); "1430" is already a 24-hour time.

    Returns:
        The time, or None when the digits are not one.
    """
    if not re.fullmatch(r"[0-9]{1,4}", digits):  # not \d: "²" is a digit that int() refuses
        return None
    hour, minute = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    if not 1 <= hour <= 23 or not 0 <= minute < 60:
        return None
    resolved = _resolve_hour(hour, None, period)
    if resolved is None:
        return None
    return TimeSpec(time=dt.time(resolved, minute), period=period)


def extract_time(text: str) -> TimeSpec | None:
    """A time of day from "3 p.m.", "2:30", "half past two", "quarter to four", "noon",
    "ten o'clock", "at nine", "2 30 in the afternoon", or only "in the morning".

    Hours without "a.m."/"p.m." are read as office hours (1 to 7 is the afternoon).

    Args:
        text: a transcript.

    Returns:
        The time and/or part of day, or None when neither was said.
    """
    text = _misheard_three(text)
    norm = normalize_numbers(text).replace(".", " . ")
    words = tokens(text)
    # The day of a date is not an hour: "December 11, 10 in the morning" is ten, not 11:10.
    joined = _MONTH_DAY.sub(r"\1 ", " ".join(words))
    period = next((_PERIOD_WORDS[w] for w in words if w in _PERIOD_WORDS), None)
    meridiem = _meridiem(" ".join(_WORD.findall(norm)))
    hour: int | None = None
    minute = 0
    if "noon" in words or "midday" in words:
        hour, meridiem = 12, "pm"
    elif (year_hour := _year_as_hour(words)) is not None:
        hour = year_hour
    elif m := re.search(r"\b(?:half|have) (?:past|passed|after) (\d{1,2})\b", joined):
        # "have past two", "half passed two": how the recogniser often writes "half past".
        hour, minute = int(m.group(1)), 30
    elif m := re.search(r"\bquarter (past|after|to|till|of) (\d{1,2})\b", joined):
        hour, minute = int(m.group(2)), 15
        if m.group(1) in ("to", "till", "of"):
            hour, minute = hour - 1, 45
    elif m := re.search(r"\b(\d{1,2}) (past|after) (\d{1,2})\b", joined):
        hour, minute = int(m.group(3)), int(m.group(1))
    elif m := re.search(r"\b(\d{1,2}):(\d{2})\b", norm):
        hour, minute = int(m.group(1)), int(m.group(2))
    elif m := re.search(r"\b(\d{1,2}) (\d{2}|o 0\d)\b(?! (?:19|20)\d\d)", joined):
        hour, minute = int(m.group(1)), int(m.group(2)[-2:].replace(" ", "0"))
    elif m := re.search(
        r"\b(1[0-2]|[1-9])([0-5]\d)\b"
        r"(?= ?(?:o ?clock|a m|p m|am|pm|in the (?:morning|afternoon|evening)))",
        joined,
    ):
        # Whisper writes "nine thirty in the morning" as "930 in the morning".
        hour, minute = int(m.group(1)), int(m.group(2))
    elif m := re.search(r"\b(\d{1,2}) ?(?:o ?clock|a m|p m|am|pm)\b", joined):
        hour = int(m.group(1))
    elif m := re.search(
        r"\b(?:at|around|about|for|do|it|try|say|to) (\d{1,2})\b(?!st|nd|rd|th| \d)", joined
    ):
        hour = int(m.group(1))
    elif m := re.search(r"\b(\d{1,2}) in the (?:morning|afternoon|evening)\b", joined):
        hour = int(m.group(1))
    if hour is None:
        return TimeSpec(period=period) if period else None
    if not 0 <= minute < 60:
        return None
    resolved = _resolve_hour(hour, meridiem, period)
    if resolved is None:
        return None
    return TimeSpec(time=dt.time(resolved, minute), period=period)
