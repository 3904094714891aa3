"""Keyword intent matching on transcripts: small, explainable, no model needed."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-cased words of a transcript, punctuation dropped."""
    return _WORD.findall(text.lower().replace("’", "'"))


@dataclass(frozen=True, slots=True)
class Intent:
    """An intent recognised by any of its cue phrases (each a sequence of words)."""

    name: str
    cues: Sequence[str]

    def score(self, tokens: Sequence[str]) -> int:
        """Number of words of the longest cue found in `tokens` (0: no match)."""
        best = 0
        joined = f" {' '.join(tokens)} "
        for cue in self.cues:
            cue_words = words(cue)
            if cue_words and f" {' '.join(cue_words)} " in joined:
                best = max(best, len(cue_words))
        return best


def find_cue(tokens: Sequence[str], cues: Sequence[str]) -> str | None:
    """The first cue phrase whose words appear, in order and together, in `tokens`."""
    joined = f" {' '.join(tokens)} "
    return next((cue for cue in cues if f" {' '.join(words(cue))} " in joined), None)


def match_intent(text: str, intents: Sequence[Intent]) -> str | None:
    """Returns the first intent, in priority order, with a cue in `text`.

    Priority order rather than best score: "thanks, goodbye" must end the call even though
    "thank you" is the longer cue.
    """
    tokens = words(text)
    return next((intent.name for intent in intents if intent.score(tokens)), None)


def intents_from(table: Mapping[str, Sequence[str]]) -> list[Intent]:
    """Builds intents from {name: [cue, ...]} in order."""
    return [Intent(name, tuple(cues)) for name, cues in table.items()]
