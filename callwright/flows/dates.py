"""The day a caller asks for: today, tomorrow, a weekday, a month and day, "the 3rd"."""

from __future__ import annotations

import datetime as dt
import re

from callwright.flows.calendar_words import month_days, safe_date, tokens, weekday


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
    md = next(month_days(words), None)
    weekday_said = next((w for w in map(weekday, words) if w is not None), None)
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
        upcoming = safe_date(today.year, month, day)
        if upcoming is not None and upcoming < today:
            upcoming = safe_date(today.year + 1, month, day)
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
    # "the 3rd", but not "the 2nd one" (a choice among offered times).
    nth = re.search(r"\bthe (\d{1,2})(st|nd|rd|th)\b(?! 1\b| option)", joined)
    if weekday_said is not None:
        # Beside a weekday an ordinal is a day even without "the": in "Thursday to send her
        # 10th" Whisper lost "December", not the day.
        nth = nth or re.search(r"\b(\d{1,2})(st|nd|rd|th)\b(?! 1\b| option)", joined)
        if nth is not None and md is None:
            # "Friday the 11th": the next 11th that is a Friday, else the next 11th.
            days = _next_days_numbered(int(nth.group(1)), today)
            return next((d for d in days if d.weekday() == weekday_said), days[0] if days else None)
        # "Friday", "this Friday" and "next Friday" all mean the first Friday after today
        # (never today); "Friday next week" is the Friday of the following week. The
        # read-back ("Friday the 4th") lets the caller correct a different reading.
        found = today + dt.timedelta(days=(weekday_said - today.weekday()) % 7 or 7)
        if "next week" in joined or "week after" in joined:
            monday_next_week = today + dt.timedelta(days=7 - today.weekday())
            found = monday_next_week + dt.timedelta(days=weekday_said)
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
        date = safe_date(today.year + month0 // 12, month0 % 12 + 1, day)
        if date is not None and date >= today:
            found.append(date)
    return found
