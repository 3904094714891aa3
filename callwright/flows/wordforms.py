"""Word forms for matching cue phrases: a small suffix stripper and the scope of a negation.

Callers say "cancelling", "prescriptions renewed" and "was diagnosed" where a cue list says
"cancel", "prescription" and "diagnose". Both sides are reduced to a stem by the same few
rules (-ing, -ed, -s, -ation, a doubled last consonant, a silent final e), so a cue matches
every inflection without listing it; the stems are only compared, never shown.

A cue said under a negation ("I'm not cancelling", "I don't need the appointment") is the
opposite of a request for it. `negated` marks the words a negation covers: from the word
after "not", "never" or a "-n't" form to the end of its clause (a punctuation mark or a
conjunction), at most `_SCOPE` words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

# Longest first; what replaces the suffix. "-s" is handled apart (not after s, u or i).
_SUFFIXES = (
    ("ations", ""),
    ("ation", ""),
    ("ings", ""),
    ("ing", ""),
    ("ied", "y"),
    ("ies", "y"),
    ("ed", ""),
)
_SHORTEST_STEM = 3
_NEGATORS = frozenset(
    """not never cannot cant dont doesnt didnt wont isnt arent wasnt werent couldnt wouldnt
    shouldnt havent hasnt hadnt unable""".split()
)
# Where a negated clause ends: "I'm not cancelling, I just want..." / "...but move it".
_CLAUSE_ENDS = frozenset(
    """but and or so because though although just instead rather then""".split()
)
_SCOPE = 8
_TOKEN = re.compile(r"[a-z0-9']+|[,.;:!?]")


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """The stem two forms of a word share ("cancelling", "cancelled", "cancel" → "cancel")."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = word.strip("'")
    if len(word) <= _SHORTEST_STEM:
        return word
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _SHORTEST_STEM:
            word = word[: -len(suffix)] + replacement
            break
    else:
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    # "cancell" (from "cancelled") and "cancel", "refil" and "refill": one consonant.
    if len(word) > _SHORTEST_STEM and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    # "diagnos" from "diagnosed" and from "diagnose": the silent e goes.
    if len(word) > _SHORTEST_STEM and word.endswith("e") and word[-2] not in "aeiou":
        word = word[:-1]
    return word


def stems(tokens: Sequence[str]) -> list[str]:
    """The stem of each word."""
    return [stem(t) for t in tokens]


def is_negator(word: str) -> bool:
    """Whether `word` negates what follows ("not", "never", "can't", "won't", "unable")."""
    plain = word.lower().replace("’", "'").replace("'", "")
    return plain in _NEGATORS or (plain.endswith("nt") and word.endswith("n't"))


def tokens_and_breaks(text: str) -> list[str]:
    """Lower-cased words and the punctuation marks that end clauses, in order."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


def negated(tokens: Sequence[str]) -> set[int]:
    """Indexes, among the words of `tokens` (punctuation not counted), that a negation covers.

    Args:
        tokens: from `tokens_and_breaks`, so that a clause ends at its punctuation.
    """
    covered: set[int] = set()
    index = -1
    scope = 0
    for token in tokens:
        if not token[0].isalnum():
            scope = 0
            continue
        index += 1
        if is_negator(token):
            scope = _SCOPE
            continue
        if token in _CLAUSE_ENDS:
            scope = 0
        if scope:
            covered.add(index)
            scope -= 1
    return covered


def without_negated(text: str) -> str:
    """`text` without its negations and what they cover: what the caller does want.

    "I can't make it Thursday" keeps "i"; "I can't do Monday, is Tuesday free?" keeps
    "i , is tuesday free ?".
    """
    tokens = tokens_and_breaks(text)
    covered = negated(tokens)
    kept: list[str] = []
    index = -1
    for token in tokens:
        if token[0].isalnum():
            index += 1
            if index in covered or is_negator(token):
                continue
        kept.append(token)
    return " ".join(kept)
