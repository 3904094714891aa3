"""Dates and times as people say them: "Tuesday the third at half past two".

The agent's text goes straight to the synthesizer, so it never contains "14:30" or
"2026-03-03": those are read out digit by digit or in a format nobody uses on the phone.
"""

from __future__ import annotations

import datetime as dt

from callwright.flows.slots import MONTHS, WEEKDAYS

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL_ONES = {
    1: "first",
    2: "second",
    3: "third",
    4: "fourth",
    5: "fifth",
    6: "sixth",
    7: "seventh",
    8: "eighth",
    9: "ninth",
    10: "tenth",
    11: "eleventh",
    12: "twelfth",
    13: "thirteenth",
    14: "fourteenth",
    15: "fifteenth",
    16: "sixteenth",
    17: "seventeenth",
    18: "eighteenth",
    19: "nineteenth",
    20: "twentieth",
    30: "thirtieth",
}


def number_words(n: int) -> str:
    """0 to 99 in words ("forty five")."""
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")


def ordinal_words(n: int) -> str:
    """1 to 31 as an ordinal ("twenty first")."""
    if n in _ORDINAL_ONES:
        return _ORDINAL_ONES[n]
    tens, ones = divmod(n, 10)
    return f"{_TENS[tens]} {_ORDINAL_ONES[ones]}"


def year_words(year: int) -> str:
    """A year as said aloud ("nineteen eighty four", "two thousand five")."""
    high, low = divmod(year, 100)
    if 2000 <= year < 2010:
        return "two thousand" + (f" {_ONES[low]}" if low else "")
    if low == 0:
        return f"{number_words(high)} hundred"
    return f"{number_words(high)} {'oh ' + _ONES[low] if low < 10 else number_words(low)}"


def speak_time(value: dt.time) -> str:
    """ "nine in the morning", "half past two", "quarter to four", "noon", "three fifteen"."""
    hour12 = value.hour % 12 or 12
    minute = value.minute
    if value.hour == 12 and minute == 0:
        return "noon"
    part = "in the morning" if value.hour < 12 else "in the afternoon"
    if value.hour >= 17:
        part = "in the evening"
    if minute == 0:
        return f"{number_words(hour12)} {part}" if value.hour < 12 else f"{number_words(hour12)}"
    if minute == 30:
        return f"half past {number_words(hour12)}"
    if minute == 15:
        return f"quarter past {number_words(hour12)}"
    if minute == 45:
        return f"quarter to {number_words(hour12 % 12 + 1)}"
    return (
        f"{number_words(hour12)} {number_words(minute) if minute >= 10 else 'oh ' + _ONES[minute]}"
    )


# A date further than this from today is said with its year: "November sixteenth" in December
# is a year away, and a caller who meant this November must hear that to say no.
YEAR_SAID_AFTER_DAYS = 182


def speak_date(value: dt.date, today: dt.date | None = None) -> str:
    """ "Tuesday the third"; the month is added when the date is not within the next 3 weeks,
    the year when it is more than six months away."""
    weekday = WEEKDAYS[value.weekday()].capitalize()
    day = ordinal_words(value.day)
    if today is not None and 0 <= (value - today).days <= 20:
        return f"{weekday} the {day}"
    spoken = f"{weekday}, {MONTHS[value.month - 1].capitalize()} {day}"
    if today is not None and abs((value - today).days) > YEAR_SAID_AFTER_DAYS:
        spoken += f", {year_words(value.year)}"
    return spoken


def speak_dob(value: dt.date) -> str:
    """A date of birth: "March twelfth, nineteen eighty four"."""
    month = MONTHS[value.month - 1].capitalize()
    return f"{month} {ordinal_words(value.day)}, {year_words(value.year)}"


def speak_when(day: dt.date, time: dt.time, today: dt.date | None = None) -> str:
    """ "Tuesday the third at half past two"."""
    return f"{speak_date(day, today)} at {speak_time(time)}"


def speak_moment(start: dt.datetime, today: dt.date | None = None) -> str:
    """`speak_when` of a date and time in one ("Tuesday the third at half past two")."""
    return speak_when(start.date(), start.time(), today)


def join_or(items: list[str]) -> str:
    """ "A", "A or B", "A, B or C"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


def join_and(items: list[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
