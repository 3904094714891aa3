"""The day a caller asks for: a small grammar of anchors and offsets.

An *anchor* names a day: "today", "tomorrow", a weekday ("this Friday", "Wednesday next
week"), a month and day ("December 3rd"), a day of the month ("the 12th", "Friday the 11th").
An *offset* moves from one: "a week / three days / a fortnight from <anchor>" (from now
without one), "in two weeks", "the day after / before <anchor>" (or after the day just said:
"not tomorrow, the day after"), "<weekday> after next" (a week after that weekday), and "next
month" / "this month" qualifying a day of the month ("the 25th of next month"). Spans that
name no single day ("sometime next week", "a Tuesday next month") give None: the flow asks
rather than picks a day for the caller.
"""

from __future__ import annotations

import datetime as dt
import re

from callwright.flows.calendar_words import (
    date_tokens,
    month_days,
    safe_date,
    stands_alone,
    weekday,
)

_COUNTS = {"a": 1, "an": 1, "couple": 2, "of": 2}  # "of": the last word of "a couple of"
_UNIT_DAYS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "fortnight": 14, "fortnights": 14}
_MONTH_UNITS = ("month", "months")
_COUNT = r"(\d{1,2}|a|an|(?:a )?couple(?: of)?)"
_UNIT = r"(days?|weeks?|fortnights?|months?)"
# "a week from Tuesday", "2 weeks after today", "in 3 days", "in a fortnight", and the British
# "a week on Tuesday"; "once a week", "twice a month" are rates, not offsets.
_OFFSET = re.compile(
    rf"\b(?<!once )(?<!twice )(?:(in) )?{_COUNT} {_UNIT}\b(?: (?:s )?(?:time )?(from|after|on)\b)?"
)
_AFTER_NEXT = re.compile(r"\b([a-z]+) after next\b")
_DAY_OF_MONTH = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th) (?:of )?(next|this|the following|the coming) month\b"
    r"|\b(next|this|the following|the coming) month (?:on )?the (\d{1,2})(?:st|nd|rd|th)\b"
)
_NEXT_MONTH = re.compile(r"\b(?:next|the following|the coming) month\b")
# "the day after Friday", "day after tomorrow"; not a span ("any day after the 5th").
_DAY_NEXT_TO = re.compile(r"(?<!\bany )(?<!\bevery )(?<!\bsome )\b(?:the )?day (after|before)\b")
_SLASHED = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")


def extract_date(text: str, today: dt.date) -> dt.date | None:
    """A calendar date in the future (or today) named in `text`.

    Understands the offsets of the module's grammar, "today", "tomorrow", weekdays
    ("Tuesday", "this Tuesday" and "next Tuesday": the first one after today, never today;
    "Tuesday next week": the Tuesday of the following week), "March 3rd", "the 3rd of March",
    "Friday the 11th" (the next 11th that is a Friday), "the 3rd" alone (the next 3rd of a
    month) and "12/4" (US order, month first). A date in the past (a date of birth said in
    the same breath) is skipped for a later one.

    Args:
        text: a transcript.
        today: the date the caller is calling on.

    Returns:
        The date, or None when no single date was said.
    """
    words = date_tokens(text)
    offset, relative = _relative(words, today)
    if offset:
        return relative
    found = _anchor(words, today)
    if found is None and (m := _SLASHED.search(text)):
        # "12/4": month first, the US order; not a fraction ("1/2 a tablet").
        rest = date_tokens(text[m.end() :])
        if stands_alone(rest):
            found = _upcoming(int(m.group(1)), int(m.group(2)), today)
    return found


def _relative(words: list[str], today: dt.date) -> tuple[bool, dt.date | None]:
    """Whether a day was said as an offset from an anchor, and the day (None when it is in
    the past: "the 12th of this month" said on the 23rd)."""
    joined = " ".join(words)
    if m := _OFFSET.search(joined):
        count_word, unit = m.group(2), m.group(3)
        count = int(count_word) if count_word.isdigit() else _COUNTS[count_word.split()[-1]]
        if m.group(4):  # "... from / after / on <anchor>"
            rest = joined[m.end() :].split()
            anchor = today if rest[:1] == ["now"] else _anchor(rest[:4], today)
        else:
            anchor = today if m.group(1) else None  # "in 3 days"; "3 days" alone is a span
        if anchor is not None:
            if unit in _MONTH_UNITS:
                return True, _months_later(anchor, count)
            return True, anchor + dt.timedelta(days=count * _UNIT_DAYS[unit])
    if m := _AFTER_NEXT.search(joined):
        day = weekday(m.group(1))
        if day is not None:  # "Wednesday after next": a week after the next Wednesday
            return True, _next_weekday(day, today) + dt.timedelta(days=7)
    if m := _DAY_OF_MONTH.search(joined):
        number = int(m.group(1) or m.group(4))
        ahead = 0 if (m.group(2) or m.group(3)) == "this" else 1
        month0 = today.month - 1 + ahead
        found = safe_date(today.year + month0 // 12, month0 % 12 + 1, number)
        return True, found if found is not None and found >= today else None
    for m in _NEXT_MONTH.finditer(joined):
        near = joined[: m.start()].split()[-3:] + joined[m.end() :].split()[:3]
        if any(weekday(w) is not None for w in near):
            return True, None  # "a Tuesday next month": no single day until its date is said
    if m := _DAY_NEXT_TO.search(joined):
        step = dt.timedelta(days=1 if m.group(1) == "after" else -1)
        after = joined[m.end() :].split()
        anchor = _anchor(after[:4], today) if after else None
        if anchor is None:
            # "Not tomorrow, the day after": after the day just said.
            anchor = _anchor(joined[: m.start()].split(), today)
        if anchor is not None:
            return True, anchor + step if anchor + step >= today else None
    return False, None


def _anchor(words: list[str], today: dt.date) -> dt.date | None:
    """The day the words name without an offset (see `extract_date`)."""
    joined = " ".join(words)
    if "tomorrow" in words:
        return today + dt.timedelta(days=1)
    if "today" in words or "tonight" in words:
        return today
    weekday_said = next((w for w in map(weekday, words) if w is not None), None)
    month_day = next(month_days(words), None)
    for month, day, year in month_days(words):
        found = safe_date(year or today.year, month, day)
        if found is not None and year is None and found < today:
            found = safe_date(today.year + 1, month, day)
        if found is not None and found >= today:
            if year is None and weekday_said is not None and found.weekday() != weekday_said:
                # "Wednesday, November 16th" said in December: the month was misheard when
                # a 16th in the coming weeks is a Wednesday (the read-back says the month).
                fits = [d for d in _next_days_numbered(day, today) if d.weekday() == weekday_said]
                return fits[0] if fits else found
            return found
        upcoming = _upcoming(month, day, today)
        if (
            year is not None
            and 2001 <= year <= 2012
            and weekday_said is not None
            and upcoming is not None
            and upcoming.weekday() == weekday_said
            and (upcoming - today).days <= 60
            and not ({"born", "birth"} & set(words))
        ):
            # "Monday, December 14, 2010": the weekday fits the coming December 14th, so the
            # "year" is an hour misheard ("the fourteenth at ten"), not a date of birth.
            return upcoming
        # A past date (a date of birth said in the same breath) is not the day wanted: the
        # day wanted may come after it ("born May 5th, 1978 ... on Friday, December 11th").
    # "the 3rd"; ordinals not in date position ("the 2nd one") are no longer ordinals here.
    nth = re.search(r"\bthe (\d{1,2})(st|nd|rd|th)\b", joined)
    if weekday_said is not None:
        # Beside a weekday an ordinal is a day even without "the": in "Thursday to send her
        # 10th" Whisper lost "December", not the day.
        nth = nth or re.search(r"\b(\d{1,2})(st|nd|rd|th)\b", joined)
        if nth is not None and month_day is None:
            # "Friday the 11th": the next 11th that is a Friday, else the next 11th.
            days = _next_days_numbered(int(nth.group(1)), today)
            return next((d for d in days if d.weekday() == weekday_said), days[0] if days else None)
        # "Friday", "this Friday" and "next Friday" all mean the first Friday after today
        # (never today); "Friday next week" is the Friday of the following week. The
        # read-back ("Friday the 4th") lets the caller correct a different reading.
        found = _next_weekday(weekday_said, today)
        if "next week" in joined or "week after" in joined:
            monday_next_week = today + dt.timedelta(days=7 - today.weekday())
            found = monday_next_week + dt.timedelta(days=weekday_said)
            if "week after next" in joined:
                found += dt.timedelta(days=7)  # "Thursday the week after next"
        return found
    if month_day is not None:
        return None  # "the 5th" is part of the past date, not another day
    if nth is not None and not _BIRTH_YEAR.search(joined[nth.end() :]):
        days = _next_days_numbered(int(nth.group(1)), today)
        return days[0] if days else None
    return None  # "the 1st, 2000" is a date of birth misheard, not a day to book


_BIRTH_YEAR = re.compile(r"^\s*(?:of )?(?:19|20)\d\d\b")


def _next_weekday(day: int, today: dt.date) -> dt.date:
    """The first `day` of the week after today, never today."""
    return today + dt.timedelta(days=(day - today.weekday()) % 7 or 7)


def _upcoming(month: int, day: int, today: dt.date) -> dt.date | None:
    """The next `month`/`day` from today on (this year's, else next year's)."""
    found = safe_date(today.year, month, day)
    if found is not None and found < today:
        found = safe_date(today.year + 1, month, day)
    return found


def _months_later(day: dt.date, count: int) -> dt.date:
    """The same day of the month `count` months on, or the month's last day if it is short."""
    month0 = day.month - 1 + count
    y, m = day.year + month0 // 12, month0 % 12 + 1
    for number in range(day.day, 27, -1):
        found = safe_date(y, m, number)
        if found is not None:
            return found
    return dt.date(y, m, min(day.day, 28))


def _next_days_numbered(number: int, today: dt.date) -> list[dt.date]:
    """The dates numbered `number` from today on, over the next three months."""
    found = []
    for months_ahead in range(3):
        month0 = today.month - 1 + months_ahead
        date = safe_date(today.year + month0 // 12, month0 % 12 + 1, number)
        if date is not None and date >= today:
            found.append(date)
    return found
