"""Numbers as American English words, on top of num2words.

num2words spells British-style ("one hundred and one", "one thousand, two hundred"); a US
voice says "one hundred one" without the pauses a comma makes a TTS voice take, so its "and"
and commas are removed. The small numbers that fill every sentence are memoized.
"""

from __future__ import annotations

from functools import lru_cache

from num2words import num2words

_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _american(words: str) -> str:
    return " ".join(w for w in words.replace(",", "").split() if w != "and")


@lru_cache(maxsize=4096)
def cardinal(number: int) -> str:
    """12 → "twelve", 1250 → "one thousand two hundred fifty", -5 → "minus five"."""
    if number < 0:
        return "minus " + cardinal(-number)
    return _american(num2words(number))


@lru_cache(maxsize=1024)
def ordinal(number: int) -> str:
    """1 → "first", 22 → "twenty-second", 101 → "one hundred first"."""
    return _american(num2words(number, to="ordinal"))


@lru_cache(maxsize=1024)
def year(number: int) -> str:
    """1999 → "nineteen ninety-nine", 2005 → "two thousand five", 1905 → "nineteen oh five"."""
    if 2000 <= number <= 2009:
        return cardinal(number)
    return _american(num2words(number, to="year")).replace("oh-", "oh ")


def digits(text: str) -> str:
    """Reads digits one by one: "0123" → "zero one two three" (other characters dropped)."""
    return " ".join(_DIGIT_WORDS[int(c)] for c in text if c.isdigit())


def decimal(text: str) -> str:
    """A decimal numeral as said: "3.14" → "three point one four", "1,250.5", ".5" too.

    Args:
        text: digits with optional thousands commas, an optional point and fraction digits.
    """
    whole, _, fraction = text.replace(",", "").partition(".")
    spoken = cardinal(int(whole)) if whole else "zero"
    if fraction:
        spoken += " point " + digits(fraction)
    return spoken


def is_plural(text: str) -> bool:
    """Whether a numeral takes a plural noun: only exactly one ("1", "1.0" is plural) does not."""
    return text.strip().lstrip("+-") != "1"
