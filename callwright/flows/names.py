"""Names from a directory, matched the way Whisper mishears them.

"Dr. Patel" comes out as "Dr. Pattel", "Garcia" as "Darcia". A name matches when it is
spelled alike (difflib ratio) or sounds alike (same Soundex code, or the same code apart from
the first letter). When two entries match about equally, the caller is asked which one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from callwright.flows.slots import tokens

_SOUNDEX = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}
_TITLES = {"doctor", "dr", "doc", "mr", "mrs", "ms", "miss"}


def soundex(word: str) -> str:
    """The American Soundex code of a word ("Patel" → "P340")."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    if not letters:
        return ""
    code, last = letters[0].upper(), _SOUNDEX.get(letters[0], "")
    for ch in letters[1:]:
        digit = _SOUNDEX.get(ch, "")
        if digit and digit != last:
            code += digit
        if ch not in "hw":
            last = digit
    return (code + "000")[:4]


def similarity(heard: str, name: str) -> float:
    """How likely `heard` is a transcription of `name`, from 0 to 1."""
    heard, name = heard.lower(), name.lower()
    if heard == name:
        return 1.0
    ratio = difflib.SequenceMatcher(None, heard, name).ratio()
    a, b = soundex(heard), soundex(name)
    if a == b and a:
        ratio = max(ratio, 0.9)
    elif a[1:] == b[1:] and a[1:] != "000" and len(heard) >= 4:
        ratio = max(ratio, 0.75)  # the first sound misheard: "Darcia" for "Garcia"
    return ratio


@dataclass(frozen=True, slots=True)
class Person:
    """A directory entry.

    Attributes:
        key: stable id (a doctor id, a patient id).
        first: given name.
        last: family name.
        spoken: how the agent says it ("Doctor Patel").
    """

    key: str
    first: str
    last: str
    spoken: str


@dataclass(frozen=True, slots=True)
class NameMatch:
    """The outcome of matching a transcript against a directory.

    Attributes:
        best: the entry matched, when one stands out.
        candidates: entries that matched about equally (for "did you mean A or B?").
        score: the best entry's score.
    """

    best: Person | None
    candidates: tuple[Person, ...] = ()
    score: float = 0.0


class Directory:
    """People the caller may name (doctors, patients).

    Args:
        people: the entries.
        threshold: lowest score that counts as a match.
        margin: a runner-up within this of the best makes the match ambiguous.
    """

    def __init__(
        self, people: Sequence[Person], threshold: float = 0.74, margin: float = 0.06
    ) -> None:
        self.people = list(people)
        self.threshold = threshold
        self.margin = margin

    def score(self, words: Sequence[str], person: Person) -> float:
        """Best match of the person's names against the words; full names score higher."""
        last = max((similarity(w, person.last) for w in words if len(w) > 1), default=0.0)
        first = max((similarity(w, person.first) for w in words if len(w) > 1), default=0.0)
        if first >= self.threshold and last >= 0.6:
            return min(1.0, (first + last) / 2 + 0.1)
        return last if last >= first else first * 0.9

    def match(self, text: str) -> NameMatch:
        """Finds who `text` names.

        Args:
            text: a transcript ("I'd like to see Dr. Pattel").

        Returns:
            The match; `best` is None when nobody matched or the match is ambiguous, in which
            case `candidates` lists who it might be.
        """
        words = [w for w in tokens(text) if w not in _TITLES and not w.isdigit()]
        scored = sorted(
            ((self.score(words, p), p) for p in self.people), key=lambda sp: sp[0], reverse=True
        )
        hits = [(s, p) for s, p in scored if s >= self.threshold]
        if not hits:
            return NameMatch(best=None)
        top = hits[0][0]
        close = tuple(p for s, p in hits if top - s <= self.margin)
        if len(close) > 1:
            return NameMatch(best=None, candidates=close, score=top)
        return NameMatch(best=hits[0][1], candidates=(hits[0][1],), score=top)
