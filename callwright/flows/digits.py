"""Digits dictated as words: "four one five, double five five, oh one oh oh" → "4155550100".

A caller reading out a number says more than the digits: a count before a digit ("double
five", "triple oh"), the letter O for zero ("o one o o"), and corrections ("...0100, uh no,
sorry, 0101"). The rules are about the run of digits, not about phone numbers: "oh" and "o"
are zero only beside a digit (a turn opening "Oh, ..." is no zero), "double" repeats only a
digit after it, and digits said after a repair word replace as many digits said before it
(all of them when the new run is as long or longer: the caller started again).
"""

from __future__ import annotations

import re

from callwright.flows.numbers import normalize_numbers

_TOKEN = re.compile(r"\d+|[a-z]+(?:'[a-z]+)*|[^\sa-z\d]")
_ZEROS = frozenset({"oh", "o"})
_REPEATS = {"double": 2, "triple": 3}
_REPAIRS = frozenset({"no", "nope", "sorry", "wait", "oops", "actually", "correction"})
_REPAIR_PAIRS = frozenset({("i", "mean"), ("i", "meant"), ("or", "rather"), ("make", "that"),
                           ("scratch", "that")})  # fmt: skip


def _zeros(tokens: list[str]) -> list[bool]:
    """Which tokens are an "oh" or "o" said as zero: one directly before a digit (or another
    such zero, or "double"), or one after a digit or "double" whatever the punctuation."""
    zero = [False] * len(tokens)
    for i in range(len(tokens) - 2, -1, -1):  # right to left: "o o four" chains back
        after = tokens[i + 1]
        if tokens[i] in _ZEROS and (after.isdigit() or after in _REPEATS or zero[i + 1]):
            zero[i] = True
    said = False  # a digit (or "double") came before, with only punctuation since
    for i, token in enumerate(tokens):
        if token in _ZEROS and said:
            zero[i] = True
        if token.isdigit() or zero[i] or token in _REPEATS:
            said = True
        elif token.isalpha():
            said = False
    return zero


def _runs(text: str) -> list[str]:
    """The digits said, one string per stretch between repair words."""
    tokens = _TOKEN.findall(normalize_numbers(text.lower().replace("’", "'")))
    zero = _zeros(tokens)
    runs = [""]
    repeat = 1
    for i, token in enumerate(tokens):
        pair = (tokens[i - 1], token) if i else ("", "")
        if token in _REPAIRS or pair in _REPAIR_PAIRS:
            runs.append("")
        digit = "0" if zero[i] else token if token.isdigit() else None
        if digit is not None:
            # "double five" is 55; "double 20" is no digit repeated, so 20.
            runs[-1] += digit * repeat if len(digit) == 1 else digit
            repeat = 1
        elif token in _REPEATS:
            repeat = _REPEATS[token]
        elif token.isalpha():
            repeat = 1
    return runs


def extract_digits(text: str) -> str:
    """Every digit said or keyed, in order, with the caller's corrections applied.

    "five five five, oh one" → "55501"; "double oh seven" → "007"; "555 0100, no sorry,
    0101" → "5550101".

    Args:
        text: a transcript, or the digits of a keypad entry.

    Returns:
        The digits, or "" when none were said.
    """
    digits = ""
    for run in _runs(text):
        if not run:
            continue
        # A correction replaces the digits it stands for: the same number of them at the end.
        digits = digits[: -len(run)] + run if len(run) < len(digits) else run
    return digits
