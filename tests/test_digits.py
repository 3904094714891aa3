"""Digits and phone numbers dictated as words (`flows.digits`), by mechanism.

Each mechanism has the phrasings a probe found misread, and phrasings written apart from
it (other numbers, other words) that the reader never saw while it was written.
"""

from __future__ import annotations

import pytest

from callwright.flows.slots import extract_digits, extract_phone

P = "+14155550100"

# --- "double five", "triple oh": a count word before a digit repeats it ------------------
REPEATS = [
    ("four one five, double five five, oh one oh oh", P),
    ("four one five triple five oh one oh oh", P),
    ("four one five, five five five, oh one double oh", P),
]
REPEATS_HELD_OUT = [
    ("six five oh double two three four four five six", "+16502234456"),
    ("two one two triple seven one two three four", "+12127771234"),
    ("eight double oh, five five five, one two one two", "+18005551212"),
    ("seven one eight, five five five, double oh double seven", "+17185550077"),
]

# --- the letter "o" for zero inside a run of digits --------------------------------------
LETTER_O = [
    ("four one five. five five five. o one o o", P),
]
LETTER_O_HELD_OUT = [
    ("three one o, five five five, o o four two", "+13105550042"),
]

# --- a correction inside a number keeps the corrected digits -----------------------------
REPAIRS = [
    ("my number is 415-555-0100 uh no sorry 0101", "+14155550101"),
]
REPAIRS_HELD_OUT = [
    ("my cell is 312 555 0199 sorry i mean 0198", "+13125550198"),
    ("four one five five five five oh one two three no wait oh one two four", "+14155550124"),
]

# --- what already worked keeps working ----------------------------------------------------
KEPT = [
    ("four one five five five five oh one oh oh", P),
    ("(415) 555-0100", P),
    ("four fifteen, five five five, zero one hundred", P),
    ("it's 4155550100", P),
    ("one four one five five five five zero one zero zero", P),
    ("uh four one five um five five five oh one oh oh", P),
]

CASES = REPEATS + REPEATS_HELD_OUT + LETTER_O + LETTER_O_HELD_OUT + REPAIRS + REPAIRS_HELD_OUT


@pytest.mark.parametrize(("text", "want"), CASES + KEPT, ids=[t for t, _ in CASES + KEPT])
def test_phone_numbers(text: str, want: str) -> None:
    assert extract_phone(text) == want


def test_digits_outside_a_number_are_left_alone() -> None:
    assert extract_digits("a double room for two") == "2"  # "double" before no digit
    assert extract_digits("o five") == "05"
    assert extract_digits("Oh, five five five, one two") == "55512"  # "Oh," begins a turn
    # A restatement longer than what it corrects replaces all of it.
    assert extract_digits("five five five, sorry, four one five five five five") == "415555"
    assert extract_phone("555 0100") is None
