"""A date of birth: month, day and year, spoken ("March 12, 1984") or keyed in."""

from __future__ import annotations

import datetime as dt
import re

from callwright.flows.calendar_words import month_days, safe_date, tokens


def _numeric_date(text: str) -> tuple[int, int, int] | None:
    """(month, day, year) from "3/12/1984" or "03-12-1984" (US order)."""
    match = re.search(r"\b(\d{1,2})[/.-](\d{1,2})[/.-]((?:19|20)\d\d)\b", text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


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
    md = next(month_days(words), None)
    numeric = _numeric_date(text)
    if md is not None and md[2] is not None:
        found = safe_date(md[2], md[0], md[1])
    elif numeric is not None:
        found = safe_date(numeric[2], numeric[0], numeric[1])
    elif len(digits) == 8 and re.fullmatch(r"[\d\s#*]+", text.strip()):
        found = safe_date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        if found is None or not 1900 <= found.year:
            found = safe_date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))
    if found is None or found > today or found.year < 1900:
        return None
    return found
