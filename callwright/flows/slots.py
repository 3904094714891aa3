"""Slot extraction from real transcripts: yes/no, digits, phone numbers, reasons, choices.

Each extractor takes one transcript (as Whisper writes it: digits or words, "3 p.m.",
"half past two", "March 12, 1984") and returns a typed value or None. None means "not said",
never a guess: the flow asks again rather than book the wrong day. Dates, times and dates of
birth are read in `flows.dates`, `flows.times` and `flows.dob` (their words in
`flows.calendar_words`), corrections in `flows.repairs`; their names are imported here too.
"""

from __future__ import annotations

import datetime as dt
import re

from callwright.flows.calendar_words import (
    MONTHS,
    WEEKDAYS,
    month_days,
    tokens,
)
from callwright.flows.dates import extract_date
from callwright.flows.digits import extract_digits
from callwright.flows.dob import extract_dob
from callwright.flows.repairs import repair_segments, without_markers, without_replaced
from callwright.flows.times import (
    HOUR_TO_FOLLOW,
    Period,
    TimeSpec,
    extract_time,
    keyed_time,
)
from callwright.flows.yes_no import polarity

# Callers have always found the date, time and correction readers here.
__all__ = [
    "HOUR_TO_FOLLOW",
    "MONTHS",
    "WEEKDAYS",
    "Period",
    "TimeSpec",
    "extract_choice",
    "extract_date",
    "extract_digits",
    "extract_dob",
    "extract_phone",
    "extract_reason",
    "extract_time",
    "extract_yes_no",
    "keyed_time",
    "repair_segments",
    "tokens",
    "without_markers",
    "without_replaced",
]


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
        if next(month_days(words), None) is not None or all(w.isdigit() for w in words):
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
