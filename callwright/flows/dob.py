"""A date of birth, however it is said: with the month's name, as groups of numbers, keyed in.

- With the month's name, the year after the day ("March 12th, 1984", "the 12th of March in
  1984", "March 12th, uh, 1984") or before the month ("1965, June 2nd").
- As groups of numbers, month first in the US order ("oh three twelve eighty four",
  "seven four nineteen ninety", "10 1 2000", "6/2/65"), or year first ("1965 6 2"); a day
  above 12 said first is read day first ("25 12 1984"), as it can be nothing else.
- A year of two digits ("July 4th, '90") is a birth year: of 19xx and 20xx, the later one not
  in the future (in 2026 "20" is 2020 and "30" is 1930).
- A correction of part of it stands ("March 12th, 1984. No wait, 1985" is 1985): after a
  repair marker of `flows.repairs`, a whole date of birth replaces the earlier one, and a
  year or a month and day said alone replaces its part; anything longer is about something
  else ("..., sorry, at 11", "actually I'd like March 13th").
"""

from __future__ import annotations

import datetime as dt
import re

from callwright.flows.calendar_words import day_number, month, safe_date, tokens, year
from callwright.flows.repairs import repair_segments, without_markers

# Words a caller says between the day and the year of a birthday; the year still follows.
_FILLERS = frozenset("uh um er erm ah eh hmm like".split())
_LINKS = frozenset("in of the year and".split())
# After these a two-digit number is a time, not a year ("July 4th, 10 a.m.").
_TIME_AFTER = frozenset("am pm a p o oclock clock in at".split())
_ZERO = frozenset({"oh", "o", "zero"})


def extract_dob(text: str, today: dt.date | None = None) -> dt.date | None:
    """A date of birth: month, day and year, spoken (see the module) or keyed in.

    Keypad entry is 8 digits, as year-month-day ("19840312") or month-day-year ("03121984").

    Args:
        text: a transcript, or the digits of a keypad entry.
        today: for rejecting dates of birth in the future; defaults to the current date.

    Returns:
        The date of birth, or None when no complete, plausible one was given.
    """
    today = today or dt.date.today()
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 8 and re.fullmatch(r"[\d\s#*]+", text.strip()):
        keyed = safe_date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        if keyed is None or not 1900 <= keyed.year:
            keyed = safe_date(int(digits[4:]), int(digits[:2]), int(digits[2:4]))
        if _plausible(keyed, today):
            return keyed
    found: dt.date | None = None
    for segment in repair_segments(text):
        whole = _whole(segment, today)
        if whole is not None:
            found = whole
        elif found is not None:
            found = _patched(found, segment, today)  # "..., no wait, 1985": one part again
    return found


def _plausible(found: dt.date | None, today: dt.date) -> dt.date | None:
    return found if found is not None and 1900 <= found.year and found <= today else None


def _birth_year(number: str, month_: int, day: int, today: dt.date) -> int | None:
    """The year a birth year said as `number` (4 digits, or 2: see the module) stands for."""
    if len(number) == 4:
        return year(number)
    if len(number) != 2:
        return None
    later = 2000 + int(number)
    born = safe_date(later, month_, day)
    return later if born is not None and born <= today else 1900 + int(number)


def _whole(text: str, today: dt.date) -> dt.date | None:
    """A complete date of birth in one stretch of speech without a repair."""
    if m := re.search(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b", text):
        y = _birth_year(m.group(3), int(m.group(1)), int(m.group(2)), today)
        found = safe_date(y, int(m.group(1)), int(m.group(2))) if y else None
        if _plausible(found, today):
            return found
    return _named_month(tokens(text), today) or _number_groups(text, today)


def _named_month(words: list[str], today: dt.date) -> dt.date | None:
    """A date with the month's name: "March 12th 1984", "the 12th of March in 1984", "1965
    June 2", "july 4th 90"."""
    for i, word in enumerate(words):
        month_ = month(word)
        if month_ is None:
            continue
        j = i + 2 if words[i + 1 : i + 2] == ["the"] else i + 1
        day = day_number(words[j]) if j < len(words) else None
        start, after = i, j + 1
        if day is None:
            k = i - 1
            while k >= 0 and words[k] in ("the", "of"):
                k -= 1
            day = day_number(words[k]) if k >= 0 else None
            start, after = k, i + 1
        if day is None:
            continue
        said = _year_after(words[after:]) or _year_before(words[:start])
        y = _birth_year(said, month_, day, today) if said else None
        found = _plausible(safe_date(y, month_, day) if y else None, today)
        if found is not None:
            return found
    return None


def _year_after(rest: list[str]) -> str | None:
    """The year said after the day and month, past fillers ("uh 1984", "in 1984", "90")."""
    skipped_link = False
    for i, word in enumerate(rest[:4]):
        if word in _FILLERS:
            continue
        if word in _LINKS:
            skipped_link = True
            continue
        if year(word):
            return word
        nxt = rest[i + 1] if i + 1 < len(rest) else ""
        if word in _ZERO and re.fullmatch(r"\d", nxt) and not skipped_link:
            return "0" + nxt  # "oh five": 2005
        two = re.fullmatch(r"\d\d", word) and not nxt.isdigit() and nxt not in _TIME_AFTER
        return word if two and not skipped_link else None
    return None


def _year_before(before: list[str]) -> str | None:
    """A year said before the month: "1965 June 2", "65, June 2nd" (a number no day is)."""
    if not before:
        return None
    word = before[-1]
    if year(word) or (re.fullmatch(r"\d\d", word) and int(word) > 31):
        return word
    return None


def _number_groups(text: str, today: dt.date) -> dt.date | None:
    """A date of birth said as numbers: the first run of numbers that is one."""
    # A clock time ("10:30") and the day of a named month ("December 10") start no run.
    words = tokens(_CLOCK.sub(" ", text))
    run: list[str] = []
    for i, word in enumerate([*words, ""]):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        after_month = i > 0 and month(words[i - 1]) is not None
        if (word.isdigit() or (word in _ZERO and nxt.isdigit())) and (run or not after_month):
            run.append("0" if word in _ZERO else word)
            continue
        found = _groups_date(run, today) if run else None
        if found is not None:
            return found
        run = []
    return None


_CLOCK = re.compile(r"\b\d{1,2}:\d\d\b")


def _groups_date(run: list[str], today: dt.date) -> dt.date | None:
    """The date of birth a run of numbers says, if it says one (see the module)."""
    if all(len(n) == 1 for n in run) and len(run) in (6, 8):
        said = "".join(run)  # digit by digit: MMDDYY or MMDDYYYY
        groups = [said[:2], said[2:4], said[4:]]
    else:
        groups = []
        for number in run:
            # "oh three" is 03: a zero said before a digit belongs to it.
            if groups and groups[-1] == "0" and len(number) == 1:
                groups[-1] += number
            else:
                groups.append(number)
    if len(groups) != 3:
        return None
    first, second, third = groups
    if len(first) == 4:
        orders = [(int(second), int(third), first)]  # "1965 6 2": year first
    else:
        # Month first (US); a first number above 12 can only be the day.
        orders = [(int(first), int(second), third), (int(second), int(first), third)]
    for month_, day, said in orders:
        if not (1 <= month_ <= 12 and 1 <= day <= 31):
            continue
        y = _birth_year(said, month_, day, today)
        found = _plausible(safe_date(y, month_, day) if y else None, today)
        if found is not None:
            return found
    return None


def _patched(found: dt.date, text: str, today: dt.date) -> dt.date:
    """`found` with the part a repair says again, and nothing else: the year ("no wait,
    1985", "sorry, '85") or the month and day ("sorry, March 13th"). A repair that says more
    ("sorry, I'd like March 13th") is about something else."""
    said = [w for w in tokens(without_markers(text)) if w not in _FILLERS | _LINKS]
    if len(said) == 1 and (year(said[0]) or (re.fullmatch(r"\d\d", said[0]) and int(said[0]) > 31)):
        y = _birth_year(said[0], found.month, found.day, today)
        return _plausible(safe_date(y, found.month, found.day) if y else None, today) or found
    if len(said) == 2:
        month_, day = month(said[0]), day_number(said[1])
        if month_ is None:
            month_, day = month(said[1]), day_number(said[0])
        if month_ is not None and day is not None:
            return _plausible(safe_date(found.year, month_, day), today) or found
    return found
