"""Strings built to make a backtracking regex pattern slow, shared by the test and the bench."""

from __future__ import annotations

import random
from collections.abc import Iterator

# Units that, repeated, hit each pattern's worst case on a backtracking engine: long digit runs
# ending in a letter (phone, card), separators between digits, local parts with no "@" or many,
# dotted domains with no end, cues and capitals that never become a name, months without years.
UNITS = [
    "1", "1 ", "1-", "(1", "1.", "+1 ", "12 34 ", "a", "a.", "a@", "a@b.", "a-", "my name is ",
    "this is A ", "March 3 ", "3 of March ", "12/", "1 Main ", "1 A B C ", " ", "\t",
]  # fmt: skip
ENDINGS = ["", "a", "_", "@", "x9"]


def adversarial(length: int) -> Iterator[str]:
    """Each unit repeated to `length` characters, with each ending."""
    for unit in UNITS:
        body = (unit * (length // len(unit) + 1))[:length]
        for end in ENDINGS:
            yield body + end


def random_strings(length: int, count: int, seed: int = 13) -> Iterator[str]:
    """Random strings over the characters the patterns care about."""
    rng = random.Random(seed)
    alphabet = "0123456789 ().-+@_aAzZ/:,\n\t'"
    for _ in range(count):
        yield "".join(rng.choice(alphabet) for _ in range(length))
