"""Dates, times of day and ranges as they are said in American English."""

from __future__ import annotations

import re
from typing import Literal

from callwright.tts.normalize.numbers import cardinal, ordinal, year

DateOrder = Literal["mdy", "dmy"]

MONTHS = (
    "January February March April May June July August September October November December"
).split()
_MONTH_BY_PREFIX = {m[:3]: m for m in MONTHS} | {"Sept": "September"}
_MONTH_NAME = r"(?:January|February|March|April|May|June|July|August|September|October|"
_MONTH_NAME += r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_DAY_BY_PREFIX = {d[:3]: d for d in _DAYS} | {"Tues": "Tuesday", "Thur": "Thursday"}
_DAY_BY_PREFIX |= {"Thurs": "Thursday"}
_DAY_NAME = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
_DAY_NAME += r"Mon|Tues|Tue|Wed|Thurs|Thur|Thu|Fri|Sat|Sun)"


def month_name(text: str) -> str:
    """Says "Dec" or "December" → "December"."""
    return _MONTH_BY_PREFIX.get(text[:4] if text.startswith("Sept") else text[:3], text)


def day_name(text: str) -> str:
    """Says "Thurs" or "Thursday" → "Thursday"."""
    return _DAY_BY_PREFIX.get(text if text in _DAY_BY_PREFIX else text[:3], text)


def _say_date(month: int, day: int, year_number: int | None, order: DateOrder) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    tail = "" if year_number is None else year(year_number)
    if order == "dmy":
        spoken = f"the {ordinal(day)} of {MONTHS[month - 1]}"
        return f"{spoken} {tail}" if tail else spoken
    spoken = f"{MONTHS[month - 1]} {ordinal(day)}"
    return f"{spoken}, {tail}" if tail else spoken


ISO_DATE = re.compile(r"(?<![\w-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?![\w-])")
NUMERIC_DATE = re.compile(
    r"(?<![\w/.])(?P<a>\d{1,2})(?P<sep>[/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?![\w/]|\.\d)"
)
MONTH_DAY = re.compile(
    rf"\b(?P<month>{_MONTH_NAME})\.?\s(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b"
    r"(?:,?\s(?P<y>1[1-9]\d\d|20\d\d)\b)?"
)
DAY_MONTH = re.compile(
    rf"(?:\b(?P<the>[Tt]he)\s)?(?<![\w.,])(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?(?P<month>{_MONTH_NAME})\b"
    r"(?:,?\s(?P<y>1[1-9]\d\d|20\d\d)\b)?"
)


def say_iso_date(match: re.Match[str], order: DateOrder) -> str:
    """Says "2026-12-10" → "December tenth, twenty twenty-six" (the date order sets the style)."""
    spoken = _say_date(int(match["m"]), int(match["d"]), int(match["y"]), order)
    return spoken if spoken is not None else match.group(0)


def say_numeric_date(match: re.Match[str], order: DateOrder) -> str:
    """Says "12/10/2026" → December 10 (order "mdy") or 12 October (order "dmy")."""
    a, b = int(match["a"]), int(match["b"])
    year_number = int(match["y"]) + (2000 if len(match["y"]) == 2 else 0)
    month, day = (a, b) if order == "mdy" else (b, a)
    if month > 12 >= day:  # written the other way round: unambiguous, so read it so
        month, day = day, month
    spoken = _say_date(month, day, year_number, order)
    return spoken if spoken is not None else match.group(0)


def say_month_day(match: re.Match[str]) -> str:
    """Says "Dec 10" → "December tenth"; with a year "December tenth, twenty twenty-six"."""
    day = int(match["day"])
    month = month_name(match["month"])
    if not 1 <= day <= 31:
        return match.group(0)
    spoken = f"{month} {ordinal(day)}"
    return spoken + (f", {year(int(match['y']))}" if match["y"] else "")


def say_day_month(match: re.Match[str]) -> str:
    """Says "10 December 2026" → "the tenth of December twenty twenty-six"."""
    day = int(match["day"])
    if not 1 <= day <= 31:
        return match.group(0)
    spoken = f"{match['the'] or 'the'} {ordinal(day)} of {month_name(match['month'])}"
    return spoken + (f" {year(int(match['y']))}" if match["y"] else "")


_MERIDIEM = r"(?P<mer>[AaPp])\.?\s?[Mm]\.?(?!\w)"
TIME_MERIDIEM = re.compile(rf"(?<![\w:.,])(?P<h>\d{{1,2}})(?::(?P<m>\d{{2}}))?\s?{_MERIDIEM}")
TIME_24 = re.compile(r"(?<![\w:.,])(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:]|\.\d)")


def _minutes(minute: int) -> str:
    return f"oh {cardinal(minute)}" if minute < 10 else cardinal(minute)


def say_time_meridiem(match: re.Match[str]) -> str:
    """Says "2:30 pm" → "two thirty p.m.", "9am" → "nine a.m."."""
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if not (1 <= hour <= 12 and minute < 60):
        return match.group(0)
    spoken = cardinal(hour) + (f" {_minutes(minute)}" if minute else "")
    return spoken + (" a.m." if match["mer"] in "Aa" else " p.m.")


def say_time_24(match: re.Match[str]) -> str:
    """Says "14:30" → "two thirty p.m.", "09:00" → "nine a.m.", "9:30" → "nine thirty".

    Hours from 13, hour 0 and hours written with a leading zero are read as the 24-hour
    clock and said with a.m./p.m.; "1:00" to "12:59" are said as written ("nine o'clock").
    """
    spoken = _clock(match["h"], match["m"], twenty_four=False)
    return spoken if spoken is not None else match.group(0)


def _is_24_hour(text_hour: str) -> bool:
    hour = int(text_hour)
    return hour == 0 or hour > 12 or (len(text_hour) == 2 and text_hour[0] == "0")


def _clock(text_hour: str, text_minute: str, twenty_four: bool) -> str | None:
    hour, minute = int(text_hour), int(text_minute)
    if hour > 23 or minute > 59:
        return None
    if not (twenty_four or _is_24_hour(text_hour)):
        return cardinal(hour) + (f" {_minutes(minute)}" if minute else " o'clock")
    spoken = cardinal(hour % 12 or 12) + (f" {_minutes(minute)}" if minute else "")
    return spoken + (" p.m." if hour >= 12 else " a.m.")


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_RANGE_END = r"(?:[$€£¥₹]?\d[\d,]*(?:[.:]\d+)?(?:\s?[AaPp]\.?\s?[Mm]\.?(?!\w))?)"
NUMBER_RANGE = re.compile(
    rf"(?<![\w.,:/-])(?P<a>{_RANGE_END})(?:\s?[–—]\s?|-|\s-\s)(?P<b>{_RANGE_END})(?![\w.:,-]?\d)"
)
DAY_RANGE = re.compile(rf"\b(?P<a>{_DAY_NAME})\.?\s?[–—-]\s?(?P<b>{_DAY_NAME})\b")
DAY_ABBREVIATION = re.compile(rf"\b(?P<day>{_DAY_NAME})\.(?=\s|$|[,;:!?])")


_YEAR = re.compile(r"1[1-9]\d\d|20\d\d")


def say_number_range(match: re.Match[str]) -> str:
    """Says "9-5" as "9 to 5", "$10-20" as "10 to $20" (then read by the number rules);
    years ("1990-1995") are said as years."""
    a, b = match["a"], match["b"]
    if _YEAR.fullmatch(a) and _YEAR.fullmatch(b):
        return f"{year(int(a))} to {year(int(b))}"
    clocks = [_CLOCK.fullmatch(a), _CLOCK.fullmatch(b)]
    if clocks[0] and clocks[1] and any(_is_24_hour(c[1]) for c in clocks if c):
        # "8:00-18:00" is on the 24-hour clock at both ends: "eight a.m. to six p.m.".
        ends = [_clock(c[1], c[2], twenty_four=True) for c in clocks if c]
        if ends[0] is not None and ends[1] is not None:
            return f"{ends[0]} to {ends[1]}"
    if a[0] in "$€£¥₹" and b[0] not in "$€£¥₹":
        a, b = a[1:], a[0] + b
    return f"{a} to {b}"


DAY_LIST = re.compile(
    rf"\b{_DAY_NAME}\.?(?:(?:,\s?|\s(?:and|or)\s|\s?/\s?|\s&\s)(?:and\s)?{_DAY_NAME}\b\.?)+"
)
_DAY_IN_LIST = re.compile(rf"\b(?P<day>{_DAY_NAME})\b\.?")


def say_day_list(match: re.Match[str]) -> str:
    """Says "Mon, Wed, Fri" or "Mon/Wed/Fri" as "Monday, Wednesday, Friday" (days are only
    expanded in lists and ranges, or with their period: a lone "Sun" may be the sun)."""
    spoken = _DAY_IN_LIST.sub(lambda m: day_name(m["day"]), match.group(0))
    return re.sub(r"\s?/\s?", ", ", spoken).replace(" & ", " and ")


def say_day_range(match: re.Match[str]) -> str:
    """Says "Mon-Fri" → "Monday to Friday"."""
    return f"{day_name(match['a'])} to {day_name(match['b'])}"


def say_day_abbreviation(match: re.Match[str]) -> str:
    """Says "Mon." → "Monday"."""
    return day_name(match["day"])
