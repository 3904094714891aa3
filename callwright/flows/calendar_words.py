"""The words of the calendar, shared by the date, time and date-of-birth readers.

Weekdays and months (as the recogniser misspells them), day numbers, years, and one rule the
readers share: where a number or an ordinal stands *in date position*. An ordinal names a day
of the month next to a month, or as "the Nth" / "on the Nth" followed by nothing or by a word
that cannot be its noun ("the 12th works", "the 3rd at ten"); followed by a noun it is an
adjective ("first thing Monday", "my first visit", "hang on a second"), and no day at all.
Nouns are an open class, so the rule lists the closed one instead: function words, calendar
and clock words, and the few verbs and adjectives a caller answers with.
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
_WORD_OR_STOP = re.compile(r"[a-z]+|\d+(?:st|nd|rd|th)?|[,.;!?]")
ORDINAL = re.compile(r"(\d{1,2})(st|nd|rd|th)")

# Words that may follow a number or an ordinal standing for itself (a day, an hour) rather
# than counting a noun: function words, calendar and clock words, and how callers accept.
FOLLOWERS = frozenset(
    """of at in on for from to till until by before after around about between and or but if
    so then please instead rather maybe perhaps would could will can should might is are was
    be s works work working suits suit fits fit sounds sound looks look seems good fine great
    ok okay perfect best better ideal i we it you that this next coming with doctor dr morning
    afternoon evening noon lunch lunchtime o oclock clock am pm ish uh um er hmm no yes yeah
    sorry actually wait thanks thank""".split()
) | frozenset(WEEKDAYS) | frozenset(MONTHS)  # fmt: skip
# Determiners other than "the": "a second", "my first visit" count or order things, never
# name a day. ("her"/"his" are left out: they are object pronouns too, "send her 10th".)
_NOT_DAY_BEFORE = frozenset("a an my your our their its this that every each which".split())


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


def stands_alone(after: list[str]) -> bool:
    """Whether a number or ordinal followed by `after` (the rest of its clause) stands for
    itself: nothing follows, or a word that cannot be the noun it counts ("3 works", "the
    12th at ten", not "3 days", "first thing", "the 2nd one")."""
    if not after:
        return True
    nxt = after[0]
    if nxt == "of":
        # "the 3rd of May", "of next month"; not "first of all".
        rest = after[1] if len(after) > 1 else ""
        return month(rest) is not None or rest in ("next", "this", "the", "following")
    if nxt.isdigit():
        return nxt != "1"  # "the 2nd one" is a choice among options
    return nxt in FOLLOWERS or month(nxt) is not None


def date_tokens(text: str) -> list[str]:
    """`tokens(text)`, with each ordinal that is not in date position put as "nth": "first
    thing Monday" keeps its weekday and loses a day of the month nobody named."""
    said = _WORD_OR_STOP.findall(normalize_numbers(text))
    out: list[str] = []
    for i, word in enumerate(said):
        if word in ",.;!?":
            continue
        if ORDINAL.fullmatch(word) and not _ordinal_is_day(said, i):
            word = "nth"
        out.append(word)
    return out


def _ordinal_is_day(said: list[str], i: int) -> bool:
    before = [w for w in said[max(0, i - 2) : i] if w not in ",.;!?"]
    if before and before[-1] == "the":
        before = before[:-1]
    if before and month(before[-1]) is not None:
        return True  # "March 3rd", "March the 3rd"
    if i > 0 and said[i - 1] in _NOT_DAY_BEFORE:
        return False
    clause: list[str] = []
    for word in said[i + 1 :]:
        if word in ",.;!?":
            break
        clause.append(word)
    return stands_alone(clause)


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
