"""Names from a directory, matched the way Whisper mishears them.

"Dr. Patel" comes out as "Dr. Pattel" or "Dr. Pachel", "Nguyen" as "New Year" or "Win",
"Garcia" as "Darcia". A name matches when a run of heard words is spelled alike or sounds
alike (`callwright.flows.phonetic`). Words right after a title ("Doctor", "Dr.") are taken
for a name readily; elsewhere a match must be close and not an everyday word, so "when" is
not Doctor Nguyen. A match that is not sure is flagged for the flow to confirm ("Doctor
Nguyen, is that right?"); when two entries match about equally, the caller is asked which.

When the name was not asked for (`Directory.match(text, asked=False)`), words away from a
title name someone only as a full name, or as a last name that is no common English word
(`common_word`): "my son James" is not Doctor James Park, "the park" not Doctor Park, "which
line" not Doctor Linh Nguyen, "a bottle" not Doctor Patel. A caller who wants a doctor says
"Doctor", or answers the question that asks which.
"""

from __future__ import annotations

import difflib
import gzip
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from callwright.flows.phonetic import sounds_like, spans
from callwright.flows.slots import MONTHS, WEEKDAYS, tokens
from callwright.flows.spanish import without_accents

_SOUNDEX = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}
# Spanish titles too: "la doctora Patel" names Doctor Patel.
_TITLES = {"doctor", "dr", "doc", "mr", "mrs", "ms", "miss", "doctora", "dra", "senor", "senora"}
# Everyday words Whisper writes when it did hear them: never a name unless after a title.
_EVERYDAY = frozenset(
    """a about after again all also am an and any are as at back be been before but by can
    could day do does for from get go good have he her him his how i if in into is it just know
    like make may me my name need next no not now of off on one onto or our out please see she so
    some that the then there they this time to today too two up us want was we week well
    were what when where which who why will with would yeah yes you your""".split()
)
EVERYDAY = _EVERYDAY
# Away from a title, words shorter than this share of a name's letters are another word,
# whatever their sound key ("end" and "Anita" are both A-N-T): Whisper writes a name it
# does not know as words of about its length ("Pachel", "Darcia", "New Year").
_SHORTEST = 0.7


_COMMON_WORDS = Path(__file__).resolve().parent / "data" / "common_words.json.gz"


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    return frozenset(json.loads(gzip.decompress(_COMMON_WORDS.read_bytes())))


def common_word(word: str) -> bool:
    """Whether `word` is a common English word (SCOWL's size-35 list, names left out)."""
    return word.lower() in _EVERYDAY or word.lower() in _common_words()


_NOT_NAME = _EVERYDAY | frozenset(
    """born birth date dob hi hello hey it's its i'm im thanks thank okay ok sure sorry um uh
    mine first last full called speaking and yeah""".split()
)


def says_a_name(text: str) -> bool:
    """Whether `text` holds a word that may be someone's name, in a directory or not.

    Whisper capitalises names: a capitalised word that is not everyday, a date or the first
    of its sentence ("Robert Brown, March third, 1970"), or in a short reply any word that
    is not everyday ("brown."). "March third, 1970", "Yes, that's me" and "1990. Actually,
    could we do 11?" say none.
    """
    dates = set(MONTHS) | set(WEEKDAYS)

    def plain(word: str) -> bool:
        lower = word.lower().split("'")[0]  # "I'd", "that's"
        said = tokens(lower)
        number = bool(said) and not said[0].isalpha()  # "nineteen", "third"
        return len(lower) < 2 or lower in _NOT_NAME or lower in dates or number

    words = re.findall(r"[A-Za-z][A-Za-z']*|[.!?]", text)
    short = len([w for w in words if w.isalpha()]) <= 4
    first = True
    for word in words:
        if word in ".!?":
            first = True
            continue
        if not plain(word) and (short or (word[0].isupper() and not first)):
            return True
        first = False
    return False


# Before a title these make it a role, not a title: "the doctor is fine", "my doctor".
_DETERMINERS = frozenset("a an the that this my your our his her their la el mi su".split())


def names_with_a_title(text: str) -> bool:
    """Whether a title is said as a title, before a name, heard or not ("make it Doctor and
    GUI in instead"): a title followed by a word and not after a determiner ("the doctor is
    fine" names nobody)."""
    words = tokens(text)
    return any(
        word in _TITLES and i + 1 < len(words) and (i == 0 or words[i - 1] not in _DETERMINERS)
        for i, word in enumerate(words)
    )


def _spelled_joined(words: list[str]) -> list[str]:
    """Letters spelled one by one, as Whisper writes a spelled name ("N.G.Y.N"), as a word."""
    joined: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha() and word not in ("a", "i"):
            run.append(word)
            continue
        if len(run) >= 2:
            joined.append("".join(run))
        else:
            joined.extend(run)
        run = []
        if word:
            joined.append(word)
    return joined


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
        sure: the best entry matched closely enough to use without asking.
    """

    best: Person | None
    candidates: tuple[Person, ...] = ()
    score: float = 0.0
    sure: bool = True


class Directory:
    """People the caller may name (doctors, patients).

    Args:
        people: the entries.
        threshold: lowest score that counts as a match right after a title.
        margin: a runner-up within this of the best makes the match ambiguous.
        sure: lowest score used without confirming.
        untitled: lowest score of words that do not follow a title.
    """

    def __init__(
        self,
        people: Sequence[Person],
        threshold: float = 0.74,
        margin: float = 0.06,
        sure: float = 0.88,
        untitled: float = 0.85,
    ) -> None:
        self.people = list(people)
        self.threshold = threshold
        self.margin = margin
        self.sure = sure
        self.untitled = untitled

    def vocabulary(self) -> list[str]:
        """The names as they are spoken, to bias the recogniser with."""
        return list(dict.fromkeys(p.spoken or f"{p.first} {p.last}" for p in self.people))

    def _name_score(
        self,
        words: Sequence[str],
        titled: set[int],
        name: str,
        untitled: float | None = None,
        words_count: bool = True,
    ) -> float:
        floor = self.untitled if untitled is None else untitled
        best = 0.0
        length = len(name.split())
        for start, heard in spans(words, longest=length + 1):
            if start not in titled and (
                len(heard) < 3 or any(w in _EVERYDAY for w in heard.split())
            ):
                continue
            if start not in titled and not words_count and all(map(common_word, heard.split())):
                continue  # not asked for: "the park", "a bottle" are those things
            if heard != name.lower() and all(w in _EVERYDAY for w in heard.split()):
                continue  # "Doctor and GUI in": Whisper heard "and", not "Anita"
            if start not in titled and len(heard.replace(" ", "")) < _SHORTEST * len(name):
                continue  # "end" is not "Anita": a name misheard keeps about its length
            score = sounds_like(heard, name)
            if start not in titled and score < floor:
                continue  # away from a title, only a close match counts
            best = max(best, score)
        return best

    def score(
        self,
        words: Sequence[str],
        person: Person,
        titled: set[int] | None = None,
        asked: bool | None = None,
    ) -> float:
        """Best match of the person's names against the words; full names score higher.

        Args:
            words: the transcript's words, titles removed.
            person: the entry.
            titled: indexes of words that came right after a title.
            asked: whether the name was asked for (see `match`).
        """
        titled = titled or set()
        first_name, last_name = without_accents(person.first), without_accents(person.last)
        if asked is False:
            # Not asked for: the full name, a last name that is no common word, or a first
            # name right after a title ("Doctor Anita"); never a first name alone.
            full = self._name_score(words, titled, f"{first_name} {last_name}")
            last = self._name_score(words, titled, last_name, words_count=False)
            first = self._name_score(words, titled, first_name, untitled=2.0)
            return max(full, last, first * 0.9)
        last = self._name_score(words, titled, last_name)
        first = self._name_score(words, titled, first_name)
        if first >= self.threshold and last >= 0.6:
            return min(1.0, (first + last) / 2 + 0.1)
        return last if last >= first else first * 0.9

    def match(self, text: str, asked: bool | None = None) -> NameMatch:
        """Finds who `text` names.

        Args:
            text: a transcript ("I'd like to see Dr. Pachel").
            asked: whether the agent asked for this name. False: it was not, so only a
                full name, a titled name or a last name that is no common word counts (see
                the module doc). None (not known): any close match counts.

        Returns:
            The match; `best` is None when nobody matched or the match is ambiguous, in which
            case `candidates` lists who it might be. `sure` is False for a loose match.
        """
        words: list[str] = []
        titled: set[int] = set()
        # Plain letters: the tokenizer would cut "María" into "mar" and "a".
        for word in _spelled_joined(tokens(without_accents(text))):
            if word in _TITLES:
                titled.add(len(words))
            elif not word.isdigit():
                words.append(word)
        scored = sorted(
            ((self.score(words, p, titled, asked), p) for p in self.people),
            key=lambda sp: sp[0],
            reverse=True,
        )
        hits = [(s, p) for s, p in scored if s >= self.threshold]
        if not hits:
            return NameMatch(best=None)
        top = hits[0][0]
        close = tuple(p for s, p in hits if top - s <= self.margin)
        if len(close) > 1 and titled:
            # A name right after a title outweighs one heard elsewhere: in "can I break an
            # appointment with Doctor Nguyen" the caller named Nguyen, "break" is not Park.
            after_title = [
                p
                for p in close
                if self._name_score(words, titled, without_accents(p.last), 2.0) >= self.threshold
            ]
            if len(after_title) == 1:
                close = (after_title[0],)
        if len(close) > 1:
            return NameMatch(best=None, candidates=close, score=top)
        if close[0] is not hits[0][1]:
            chosen = close[0]
            score = next(s for s, p in hits if p is chosen)
            return NameMatch(
                best=chosen, candidates=(chosen,), score=score, sure=score >= self.sure
            )
        return NameMatch(
            best=hits[0][1], candidates=(hits[0][1],), score=top, sure=top >= self.sure
        )
