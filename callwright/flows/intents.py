"""Keyword intent matching on transcripts: small, explainable, no model needed.

Cue phrases match the caller's words stem for stem (`flows.wordforms`): the cue "cancel"
matches "cancelling" and "cancelled". A cue under a negation ("I'm not cancelling") does not
count. Intents recognised by meaning as well are in `flows.requests`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from callwright.flows.wordforms import negated, stem, stems, tokens_and_breaks

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-cased words of a transcript, punctuation dropped."""
    return _WORD.findall(text.lower().replace("’", "'"))


@lru_cache(maxsize=4096)
def cue_stems(cue: str) -> tuple[str, ...]:
    """The stems of a cue phrase's words."""
    return tuple(stem(w) for w in words(cue))


@dataclass(frozen=True, slots=True)
class Said:
    """A caller's words ready for cue matching.

    Attributes:
        words: the words, lower-cased, punctuation dropped.
        stems: the stem of each word.
        negated: indexes of the words a negation covers.
    """

    words: tuple[str, ...]
    stems: tuple[str, ...]
    negated: frozenset[int]

    @classmethod
    def of(cls, text: str) -> Said:
        """Reads `text` (its punctuation ends the scope of a negation)."""
        tokens = tokens_and_breaks(text)
        said = tuple(t for t in tokens if t[0].isalnum())
        return cls(said, tuple(stems(said)), frozenset(negated(tokens)))

    def find(self, cue: str) -> list[int]:
        """Where the cue's stems start, together and in order, in the words."""
        wanted = cue_stems(cue)
        n = len(wanted)
        if not n:
            return []
        return [i for i in range(len(self.stems) - n + 1) if self.stems[i : i + n] == wanted]


@dataclass(frozen=True, slots=True)
class CueMatch:
    """The longest cue of an intent found in a turn.

    Attributes:
        cue: the cue phrase.
        start: index of its first word.
        length: its number of words.
    """

    cue: str
    start: int
    length: int


@dataclass(frozen=True, slots=True)
class Intent:
    """An intent recognised by any of its cue phrases (each a sequence of words).

    Attributes:
        name: the intent (a flow's node, often).
        cues: phrases that name it; matched stem for stem.
        examples: whole requests in callers' words, for recognition by meaning
            (`flows.requests`); a few varied ones, not a list of phrasings to catch.
        creates: it makes something new (a booking) rather than acting on what the caller
            already has (their booking): a turn about "my appointment" is not one.
    """

    name: str
    cues: Sequence[str]
    examples: Sequence[str] = ()
    creates: bool = False

    def score(self, tokens: Sequence[str]) -> int:
        """Number of words of the longest cue found in `tokens` (0: no match)."""
        found = self.find(Said(tuple(tokens), tuple(stems(tokens)), frozenset()))
        return found.length if found else 0

    def find(self, said: Said, negated: bool = False) -> CueMatch | None:
        """The longest cue said outside a negation (or, with `negated`, under one)."""
        best: CueMatch | None = None
        for cue in self.cues:
            for start in said.find(cue):
                if (start in said.negated) != negated:
                    continue  # "never mind" starts with its own negation, not under one
                length = len(cue_stems(cue))
                if best is None or length > best.length:
                    best = CueMatch(cue, start, length)
        return best


def find_cue(tokens: Sequence[str], cues: Sequence[str]) -> str | None:
    """The first cue phrase whose words appear, in order and together, in `tokens` (stem for
    stem: "prescriptions" is the cue "prescription")."""
    said = Said(tuple(tokens), tuple(stems(tokens)), frozenset())
    return next((cue for cue in cues if said.find(cue)), None)


def match_intent(text: str, intents: Sequence[Intent]) -> str | None:
    """Returns the first intent, in priority order, with a cue in `text` not negated.

    Priority order rather than best score: "thanks, goodbye" must end the call even though
    "thank you" is the longer cue.
    """
    said = Said.of(text)
    return next((intent.name for intent in intents if intent.find(said)), None)


def intents_from(table: Mapping[str, Sequence[str]]) -> list[Intent]:
    """Builds intents from {name: [cue, ...]} in order."""
    return [Intent(name, tuple(cues)) for name, cues in table.items()]
