"""The time of day a caller asks for: clock expressions, parts of the day, keyed hours.

Clock expressions are read the way people say them: "half past two" and the British "half
two" (2:30, as in Britain and Ireland; a speaker of German or Dutch means 1:30 by it, and the
read-back, "half past two", lets them correct), "quarter to four", "ten to eleven" (minutes
before the hour: 5, 10, 20 or 25, or any number said with "minutes"), "twenty past nine",
"9ish" (about nine), "noon", "2:30", "2 30". An hour without a.m. or p.m. is an office hour
(1 to 7 is the afternoon). A number alone ("ten, please", "3 works") is an hour only when
the open question asks for a time (`asked`); elsewhere "3" may count days or people.

The recogniser writes a number as a word that sounds the same where the number is not
expected ("at for", "at to", "Thursday, free in the afternoon"): such a word is read as its
number only where an hour stands, after "at" (or a weekday) and before the end of the clause,
a part of the day, "o'clock", "a.m." or minutes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from callwright.flows.calendar_words import MONTHS, day_number, month, stands_alone, weekday
from callwright.flows.numbers import TEENS, UNITS, normalize_numbers

Period = Literal["morning", "afternoon", "evening"]
_WORD = re.compile(r"[a-z]+|\d+(?:st|nd|rd|th)?")
_WORD_OR_STOP = re.compile(r"[a-z]+|\d+(?:st|nd|rd|th)?|[,.;!?]")


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
# Parts of the day named by what happens in them (on normalised words: "first" is "1st").
_PERIOD_PHRASES: tuple[tuple[re.Pattern[str], Period], ...] = (
    (re.compile(r"\b1st thing\b"), "morning"),
    (re.compile(r"\bbefore lunch(?:time)?\b"), "morning"),
    (re.compile(r"\bafter lunch(?:time)?\b"), "afternoon"),
)


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


# Words the recogniser writes for a number it did not expect, by sound, that have a role of
# their own elsewhere ("for", "to"): after "at" that role is impossible ("at for" is no
# English), so they are read as numbers there. Other sound-alikes ("ate", "won", "heaven")
# are left to `flows.heard_numbers`, which reads them only when a time is expected.
_SOUNDS = {"for": "four", "to": "two", "too": "two", "free": "three", "tree": "three"}
_HOUR_CUE = r"\b(at\s+|around\s+|about\s+|(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)"
_HOUR_END = (
    r"(?=\s*(?:$|[,.;!?]|(?:in\s+the\s+)?(?:morning|afternoon|evening)\b|o'?\s?clock\b"
    r"|[ap]\.?\s?m\b|(?:thirty|fifteen|forty[- ]five)\b(?!\s+min)))"
)
_HOMOPHONE = re.compile(rf"{_HOUR_CUE}({'|'.join(_SOUNDS)})\b{_HOUR_END}", re.I)
# "To the afternoon, please": at the start of a clause "to the afternoon" is no phrase.
_TWO = re.compile(
    r"(^|[,.]\s*|\bat\s+)(?:to|too)\s+(?=(?:in\s+)?the\s+(?:afternoon|morning|evening)\b)", re.I
)


def heard_as_numbers(text: str) -> str:
    """`text` with the words that sound like a number put back as it, where an hour stands
    ("Friday at for" → "Friday at four", "at free in the afternoon" → "at three ...")."""
    text = _HOMOPHONE.sub(lambda m: m.group(1) + _SOUNDS[m.group(2).lower()], text)
    return _TWO.sub(r"\1two in ", text)


_MONTH_DAY = re.compile(rf"\b({'|'.join(MONTHS)}) (?:the )?\d{{1,2}}(?:st|nd|rd|th)?\b")
_ISH = re.compile(r"\b(\d{1,2})[ -]?ish\b")
# "elevenish", "fourish": the suffix glued to a number word, which then reads as no number.
_GLUED_ISH = re.compile(rf"\b({'|'.join(w for w in UNITS | TEENS if w != 'oh')})ish\b", re.I)


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


def extract_time(text: str, asked: bool = False) -> TimeSpec | None:
    """A time of day from "3 p.m.", "2:30", "half past two", "half two", "quarter to four",
    "ten to eleven", "9ish", "noon", "ten o'clock", "at nine", "2 30 in the afternoon", or
    only a part of the day ("in the morning", "first thing", "after lunch").

    Args:
        text: a transcript.
        asked: the open question asks for a time, so a number alone is an hour ("ten,
            please"; never "3 days", "the 2nd" or "after 3").

    Returns:
        The time and/or part of day, or None when neither was said.
    """
    said = _GLUED_ISH.sub(r"\1 ish", heard_as_numbers(text))
    norm = _ISH.sub(r"around \1", normalize_numbers(said).replace(".", " . "))
    words = _WORD.findall(norm)
    # The day of a date is not an hour: "December 11, 10 in the morning" is ten, not 11:10.
    joined = _MONTH_DAY.sub(r"\1 ", " ".join(words))
    period = next((_PERIOD_WORDS[w] for w in words if w in _PERIOD_WORDS), None)
    period = period or next((p for pattern, p in _PERIOD_PHRASES if pattern.search(joined)), None)
    meridiem = _meridiem(" ".join(words))
    clock = _clock(joined, norm, words)
    if clock is None and asked:
        clock = _bare_hour(_WORD_OR_STOP.findall(_MONTH_DAY.sub(r"\1 ", norm)))
    if clock is None:
        return TimeSpec(period=period) if period else None
    hour, minute, meridiem = clock[0], clock[1], clock[2] or meridiem
    if not 0 <= minute < 60:
        return None
    resolved = _resolve_hour(hour, meridiem, period)
    if resolved is None:
        return None
    return TimeSpec(time=dt.time(resolved, minute), period=period)


def _before(hour: int) -> int:
    """The hour before `hour` on a 12-hour clock: "ten to one" is 12:50."""
    return hour - 1 if hour > 1 else 12


def _clock(joined: str, norm: str, words: list[str]) -> tuple[int, int, str | None] | None:
    """(hour, minute, meridiem if the expression implies one) of a clock expression."""
    if "noon" in words or "midday" in words:
        return 12, 0, "pm"
    if (year_hour := _year_as_hour(words)) is not None:
        return year_hour, 0, None
    if m := re.search(r"\b(?:half|have) (?:past|passed|after) (\d{1,2})\b", joined):
        # "have past two", "half passed two": how the recogniser often writes "half past".
        return int(m.group(1)), 30, None
    if m := re.search(r"\bquarter (past|after|to|till|of) (\d{1,2})\b", joined):
        if m.group(1) in ("to", "till", "of"):
            return _before(int(m.group(2))), 45, None
        return int(m.group(2)), 15, None
    if m := re.search(r"\b(\d{1,2}) (minutes? )?(?:to|till|til|of) (\d{1,2})\b", joined):
        # "ten to eleven": minutes before the hour, in the steps clocks are read in (or
        # with "minutes"); "from 10 to 11" is a span, "2 to 3" two hours.
        ahead = joined[: m.start()].split()[-1:]
        minutes, hour = int(m.group(1)), int(m.group(3))
        steps = m.group(2) is not None or minutes in (5, 10, 20, 25)
        if steps and 1 <= hour <= 12 and 0 < minutes < 60 and ahead not in (["from"], ["between"]):
            return _before(hour), 60 - minutes, None
    if m := re.search(r"\b(\d{1,2}) (?:minutes? )?(?:past|after) (\d{1,2})\b", joined):
        return int(m.group(2)), int(m.group(1)), None
    if m := re.search(r"\bhalf (\d{1,2})\b", joined):
        # "half ten": 10:30, said this way in Britain and Ireland (see the module's note).
        if 1 <= int(m.group(1)) <= 12 and stands_alone(joined[m.end() :].split()):
            return int(m.group(1)), 30, None
    if m := re.search(r"\b(\d{1,2}):(\d{2})\b", norm):
        return int(m.group(1)), int(m.group(2)), None
    # "2 30", but not two numbers of a longer run ("3 12 84" is a date of birth).
    if m := re.search(r"(?<!\d )\b(\d{1,2}) (\d{2}|o 0\d)\b(?! \d)", joined):
        return int(m.group(1)), int(m.group(2)[-2:].replace(" ", "0")), None
    if m := re.search(
        r"\b(1[0-2]|[1-9])([0-5]\d)\b"
        r"(?= ?(?:o ?clock|a m|p m|am|pm|in the (?:morning|afternoon|evening)))",
        joined,
    ):
        # Whisper writes "nine thirty in the morning" as "930 in the morning".
        return int(m.group(1)), int(m.group(2)), None
    if m := re.search(r"\b(\d{1,2}) ?(?:o ?clock|a m|p m|am|pm)\b", joined):
        return int(m.group(1)), 0, None
    if m := re.search(
        r"\b(?:at|around|about|for|do|it|try|say|to) (\d{1,2})\b(?!st|nd|rd|th| \d)", joined
    ):
        return int(m.group(1)), 0, None
    if m := re.search(r"\b(\d{1,2}) in the (?:morning|afternoon|evening)\b", joined):
        return int(m.group(1)), 0, None
    return None


# A number after these is a bound or a choice, not the hour wanted: "after 3", "option 2".
_NOT_AN_HOUR_AFTER = frozenset(
    "after before until till by than past the number option choice of".split()
)


def _bare_hour(said: list[str]) -> tuple[int, int, str | None] | None:
    """The hour a number alone gives, answering a question for a time: exactly one number
    from 1 to 12 that stands for itself ("3 works", "ten, please"), none that counts a noun
    ("3 days"), is part of a date or of a longer run of numbers, or follows a bound."""
    hours: set[int] = set()
    for i, word in enumerate(said):
        if not word.isdigit() or not 1 <= int(word) <= 12:
            continue
        prev = said[i - 1] if i > 0 else ""
        clause: list[str] = []
        for later in said[i + 1 :]:
            if later in ",.;!?":
                break
            clause.append(later)
        if prev.isdigit() or prev in _NOT_AN_HOUR_AFTER or month(prev) is not None:
            continue
        if clause and (clause[0].isdigit() or month(clause[0]) is not None):
            continue
        if stands_alone(clause):
            hours.add(int(word))
    return (hours.pop(), 0, None) if len(hours) == 1 else None
