"""What a caller dictates: the phrases that announce it, and numbers and dates cut short.

Used by `turns/semantic.py`: "my number is", "My date of birth." (the item named, not yet
given) and "555 123" (a number's first groups) hold the turn; "March 3rd, 1980" ends one.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

# Phrases that announce something the caller is about to dictate.
DICTATION_LEADS = (
    "my number is",
    "my phone number is",
    "the number is",
    "my date of birth is",
    "my birthday is",
    "date of birth is",
    "born on",
    "my email is",
    "my email address is",
    "my name is",
    "my address is",
    "it's spelled",
    "account number is",
)
# The same announcements without their verb, as a whole utterance ("My date of birth."): the
# recogniser often drops the "is" a caller paused after, and the words alone name an item
# without giving it. (Only as the whole utterance: "I need to change my date of birth." is
# finished.)
_BARE_ANNOUNCEMENTS = frozenset(
    lead[: -len(" is")] for lead in DICTATION_LEADS if lead.endswith(" is")
)
_NEAR_MISS = 0.85
_LEADING_FILLERS = frozenset("um uh er erm so and well okay ok yeah oh".split())
_DIGIT_WORDS = frozenset("zero oh one two three four five six seven eight nine ten".split())


def bare_announcement(words: list[str]) -> bool:
    """The utterance only names an item it is about to give: "My date of birth.", "Um, my
    phone number.", or a near miss of one as the recogniser spells it ("My day of birth.":
    at least 85 % of the characters in common; "my mother" against "my number" is 67 %)."""
    start = 0
    while start < len(words) - 1 and words[start] in _LEADING_FILLERS:
        start += 1
    said = " ".join(words[start:])
    if said in _BARE_ANNOUNCEMENTS:
        return True
    return any(
        SequenceMatcher(None, said, item).ratio() >= _NEAR_MISS for item in _BARE_ANNOUNCEMENTS
    )


def half_dictated(words: list[str]) -> bool:
    """A run of digits that stops short of a phone number or a date."""
    tail: list[str] = []
    for word in reversed(words):
        if word.isdigit() or word in _DIGIT_WORDS:
            tail.append(word)
        else:
            break
    if not tail:
        return False
    if _ends_a_date(words, len(tail)):
        return False
    digits = sum(len(w) if w.isdigit() else 1 for w in tail)
    # 10-11 digits is a full phone number, 7 a local one ("555 1234"), 8 a full date
    # (MMDDYYYY); 3-6 are a number's first groups (callers pause between 3-3-4). Nine is not
    # held: a ten-digit number heard with one digit lost ("five five five" as "55") is far
    # more common than a caller stopping before the last digit, and it waited 1.2 s.
    return 3 <= digits < 7


def _ends_a_date(words: list[str], tail_length: int) -> bool:
    """A year closing a date: "March 3rd, 1980", "March 3, 1980", "the 12th of March 1984",
    the year in its two spoken halves ("March 3rd, 19 80"), or all in numbers ("3-3-1980").
    The month may be misheard ("Mark 3rd, 1980"): a day's ordinal is enough."""
    if _is_year(words[-1]):
        year_words = 1
    elif len(words) >= 2 and words[-2] in ("19", "20") and _is_number(words[-1], 2):
        year_words = 2  # "nineteen eighty" written as two numbers
    else:
        return False
    days = words[len(words) - tail_length : len(words) - year_words]  # numbers before the year
    if len(days) > 2 or not all(_is_number(d, 2) and 1 <= int(d) <= 31 for d in days):
        return False
    if len(days) == 2:
        return True  # day and month in numbers
    start = len(words) - year_words - len(days)
    before = words[max(0, start - 3) : start + len(days)]
    return any(w in _MONTHS or _ORDINAL.fullmatch(w) or w in _ORDINAL_WORDS for w in before)


def _is_year(word: str) -> bool:
    return word.isdigit() and len(word) == 4 and word[:2] in ("19", "20")


def _is_number(word: str, most_digits: int) -> bool:
    return word.isdigit() and len(word) <= most_digits


_MONTHS = frozenset(
    """january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()
)
_ORDINAL = re.compile(r"\d{1,2}(st|nd|rd|th)")
_ORDINAL_WORDS = frozenset(
    """first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth
    thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth
    thirtieth""".split()
)
