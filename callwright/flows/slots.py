"""Slot extraction from real transcripts: dates, times, dates of birth, digits, yes/no.

Each extractor takes one transcript (as Whisper writes it: digits or words, "3 p.m.",
"half past two", "March 12, 1984") and returns a typed value or None. None means "not said",
never a guess: the flow asks again rather than book the wrong day.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from callwright.flows.digits import extract_digits
from callwright.flows.numbers import normalize_numbers
from callwright.flows.yes_no import polarity

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
Period = Literal["morning", "afternoon", "evening"]


def tokens(text: str) -> list[str]:
    """Lower-cased words and numbers of a transcript, with number words as digits."""
    return _WORD.findall(normalize_numbers(text))


def _weekday(word: str) -> int | None:
    if word in WEEKDAYS:
        return WEEKDAYS.index(word)
    if len(word) >= 5:
        # Whisper misspells rather than drops weekdays ("wensday"); close enough counts.
        close = difflib.get_close_matches(word, WEEKDAYS, n=1, cutoff=0.8)
        if close:
            return WEEKDAYS.index(close[0])
    return None


def _month(word: str) -> int | None:
    if word in MONTHS:
        return MONTHS.index(word) + 1
    if word in _MONTH_ABBR and word != "may" and word != "mar":
        return _MONTH_ABBR[word]
    return None


def _day_number(word: str) -> int | None:
    match = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", word)
    if match and 1 <= int(match.group(1)) <= 31:
        return int(match.group(1))
    return None


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_day(words: list[str]) -> tuple[int, int, int | None] | None:
    """(month, day, year or None) from "march 12 1984", "12th of march", "the 3rd of may"."""
    return next(_month_days(words), None)


def _month_days(words: list[str]) -> Iterator[tuple[int, int, int | None]]:
    """Every (month, day, year or None) in the words, in order (see `_month_day`)."""
    for i, word in enumerate(words):
        month = _month(word)
        if month is None:
            continue
        after = words[i + 1 : i + 4]
        if after and after[0] == "the":
            after = after[1:]
        if after and (day := _day_number(after[0])) is not None:
            year = _year(after[1]) if len(after) > 1 else None
            yield month, day, year
            continue
        before = [w for w in words[max(0, i - 3) : i] if w not in ("the", "of")]
        if before and (day := _day_number(before[-1])) is not None:
            year = _year(after[0]) if after else None
            yield month, day, year


def _year(word: str) -> int | None:
    return int(word) if re.fullmatch(r"(19|20)\d\d", word) else None


def _numeric_date(text: str) -> tuple[int, int, int] | None:
    """(month, day, year) from "3/12/1984" or "03-12-1984" (US order)."""
    match = re.search(r"\b(\d{1,2})[/.-](\d{1,2})[/.-]((?:19|20)\d\d)\b", text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def extract_date(text: str, today: dt.date) -> dt.date | None:
    """A calendar date in the future (or today) named in `text`.

    Understands "today", "tomorrow", "the day after tomorrow", weekdays ("Tuesday", "this
    Tuesday" and "next Tuesday": the first one after today, never today; "Tuesday next week":
    the Tuesday of the following week), "March 3rd", "the 3rd of March", "Friday the 11th"
    (the next 11th that is a Friday), and "the 3rd" alone (the next 3rd of a month). A date
    in the past (a date of birth said in the same breath) is skipped for a later one.

    Args:
        text: a transcript.
        today: the date the caller is calling on.

    Returns:
        The date, or None when no date was said.
    """
    words = tokens(text)
    joined = " ".join(words)
    if "day after tomorrow" in joined:
        return today + dt.timedelta(days=2)
    if "tomorrow" in words:
        return today + dt.timedelta(days=1)
    if "today" in words:
        return today
    md = _month_day(words)
    weekday = next((w for w in map(_weekday, words) if w is not None), None)
    for month, day, year in _month_days(words):
        found = _safe_date(year or today.year, month, day)
        if found is not None and year is None and found < today:
            found = _safe_date(today.year + 1, month, day)
        if found is not None and found >= today:
            if year is None and weekday is not None and found.weekday() != weekday:
                # "Wednesday, November 16th" said in December: the month was misheard when
                # a 16th in the coming weeks is a Wednesday (the read-back says the month).
                fits = [d for d in _next_days_numbered(day, today) if d.weekday() == weekday]
                return fits[0] if fits else found
            return found
        upcoming = _safe_date(today.year, month, day)
        if upcoming is not None and upcoming < today:
            upcoming = _safe_date(today.year + 1, month, day)
        if (
            year is not None
            and 2001 <= year <= 2012
            and weekday is not None
            and upcoming is not None
            and upcoming.weekday() == weekday
            and (upcoming - today).days <= 60
            and not ({"born", "birth"} & set(words))
        ):
            # "Monday, December 14, 2010": the weekday fits the coming December 14th, so the
            # "year" is an hour misheard ("the fourteenth at ten"), not a date of birth.
            return upcoming
        # A past date (a date of birth said in the same breath) is not the day wanted: the
        # day wanted may come after it ("born May 5th, 1978 ... on Friday, December 11th").
    # "the 3rd", but not "the 2nd one" (a choice among offered times).
    nth = re.search(r"\bthe (\d{1,2})(st|nd|rd|th)\b(?! 1\b| option)", joined)
    if weekday is not None:
        # Beside a weekday an ordinal is a day even without "the": in "Thursday to send her
        # 10th" Whisper lost "December", not the day.
        nth = nth or re.search(r"\b(\d{1,2})(st|nd|rd|th)\b(?! 1\b| option)", joined)
        if nth is not None and md is None:
            # "Friday the 11th": the next 11th that is a Friday, else the next 11th.
            days = _next_days_numbered(int(nth.group(1)), today)
            return next((d for d in days if d.weekday() == weekday), days[0] if days else None)
        # "Friday", "this Friday" and "next Friday" all mean the first Friday after today
        # (never today); "Friday next week" is the Friday of the following week. The
        # read-back ("Friday the 4th") lets the caller correct a different reading.
        found = today + dt.timedelta(days=(weekday - today.weekday()) % 7 or 7)
        if "next week" in joined or "week after" in joined:
            monday_next_week = today + dt.timedelta(days=7 - today.weekday())
            found = monday_next_week + dt.timedelta(days=weekday)
        return found
    if md is not None:
        return None  # "the 5th" is part of the past date, not another day
    if nth is not None and not _BIRTH_YEAR.search(joined[nth.end() :]):
        days = _next_days_numbered(int(nth.group(1)), today)
        return days[0] if days else None
    return None  # "the 1st, 2000" is a date of birth misheard, not a day to book


_BIRTH_YEAR = re.compile(r"^\s*(?:of )?(?:19|20)\d\d\b")


def _next_days_numbered(day: int, today: dt.date) -> list[dt.date]:
    """The dates numbered `day` from today on, over the next three months."""
    found = []
    for months_ahead in range(3):
        month0 = today.month - 1 + months_ahead
        date = _safe_date(today.year + month0 // 12, month0 % 12 + 1, day)
        if date is not None and date >= today:
            found.append(date)
    return found


def extract_dob(text: str, today: dt.date | None = None) -> dt.date | None:
    """A date of birth: month, day and year, spoken ("March 12, 1984") or keyed in.

    Keypad entry is 8 digits, as year-month-day ("19840312") or month-day-year ("03121984").

    Args:
        text: a transcript, or the digits of a keypad entry.
        today: for rejecting dates of birth in the future; defaults to the current date.

    Returns:
        The date of birth, or None when no complete, plausible one was given.
    """
    today = today or dt.date.today()
    words = tokens(text)
    found: dt.date | None = None
    digits = "".join(ch for ch in text if ch.isdigit())
    md = _month_day(words)
    numeric = _numeric_date(text)
    if md is not None and md[2] is not None:
        found = _safe_date(md[2], md[0], md[1])
    elif numeric is not None:
        found = _safe_date(numeric[2], numeric[0], numeric[1])
    elif len(digits) == 8 and re.fullmatch(r"[\d\s#*]+", text.strip()):
        found = _safe_date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        if found is None or not 1900 <= found.year:
            found = _safe_date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))
    if found is None or found > today or found.year < 1900:
        return None
    return found


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
    ten" (see `extract_date`); only with a weekday and nothing that says born."""
    if {"born", "birth"} & set(words) or not any(_weekday(w) is not None for w in words):
        return None
    for i, word in enumerate(words[:-2]):
        if _month(word) is not None and _day_number(words[i + 1]) is not None:
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


def extract_yes_no(text: str) -> bool | None:
    """True for yes ("yeah", "that's right", "not a problem"), False for no ("absolutely
    not", "yes, wait, no"), None for neither (a hedge, a question back): see `flows.yes_no`."""
    return polarity(text)


def extract_phone(text: str) -> str | None:
    """A phone number of 10 digits (or 11 starting with 1), as E.164 for the US; else None."""
    digits = extract_digits(text)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return None
    return "+1" + digits


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
    "tuesday, ", "move it from ten to eleven" → "move it  eleven". Values are then read from
    what is left, so the new value wins whichever order the caller says them in.
    """
    lowered = text.lower()
    # "eleven instead of ten": the number replacing a number is a time of the same kind.
    numbers = normalize_numbers(lowered)
    for pattern in _NUMBER_FOR_NUMBER:
        if pattern.search(numbers):
            lowered = numbers = pattern.sub(r"at \1 ", numbers)
    for pattern in _REPLACED:
        lowered = pattern.sub(" ", lowered)
    return lowered


# "for a checkup", "because of my knee", "about a rash": the reason runs to the end of the
# clause, or to where the sentence turns to the doctor, the day or the time.
_REASON = re.compile(
    r"\b(?:for|because of|because|about|regarding|it's for|it is for)\s+"
    r"(?P<reason>(?:(?!\b(?:with|on|at|next|this|tomorrow|today|and|but|please)\b)[^,.;!?])+)"
)
_NOT_A_REASON = frozenset(
    {"me", "you", "it", "that", "this", "him", "her", "them", "now", "sure", "real", "one",
     "an appointment", "appointment", "a visit", "visit", "booking", "a booking", "calling",
     "the time", "your time", "your help", "help", "asking", "that one", "everything", "all"}
)  # fmt: skip


def extract_reason(text: str, today: dt.date) -> str | None:
    """Why the caller wants to come in: "for a checkup" → "a checkup"; None when not said.

    A phrase that is a day or a time ("for Thursday", "for ten") or a doctor ("for Doctor
    Park") is not a reason.
    """
    for match in _REASON.finditer(text.lower().replace("’", "'")):
        reason = " ".join(match.group("reason").split()).strip(" '")
        words = tokens(reason)
        if not words or reason in _NOT_A_REASON or len(words) > 8:
            continue
        if words[0] in ("doctor", "dr") or any(w in ("am", "pm", "o", "clock") for w in words):
            continue
        if extract_date(reason, today) is not None or extract_time(f"at {reason}") is not None:
            continue
        if _month_day(words) is not None or all(w.isdigit() for w in words):
            continue
        return reason
    return None


def extract_choice(text: str, count: int) -> int | None:
    """Which of `count` offered options the caller picked: "the first one", "2", "the last",
    "number one", "option 2" (a bare number in a longer reply may be a time: "2 please")."""
    words = tokens(text)
    if "last" in words or "later" in words or "latest" in words:
        return count - 1
    if "earlier" in words or "earliest" in words:
        return 0
    for i, word in enumerate(words):
        if m := re.fullmatch(r"(\d)(st|nd|rd|th)?", word):
            index = int(m.group(1)) - 1
            named = i > 0 and words[i - 1] in ("number", "option", "choice")
            if 0 <= index < count and (m.group(2) or named or len(words) == 1):
                return index
    return None
