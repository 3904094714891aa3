"""Sound-alike matching of recognised words against a known vocabulary.

Whisper writes a name it does not know as the nearest words it does know: "Nguyen" comes
back as "New Year" or "Win", "Patel" as "Pachel", "Aetna" as "that now". Spelling similarity
misses most of these; a phonetic key (a Metaphone-style reduction of a spelling to its
consonant sounds) plus edit distance on the keys finds them. A term may span several heard
words ("new year" for one name), so every run of one to three words is compared.

`phonetic_key` is a compact English Metaphone variant written for this purpose: it keeps
the first vowel (names often start with one), maps letters to sound classes, and folds the
spellings that sound the same ("ph"/"f", "ck"/"k", "ch"/"tch", "gu" before a vowel).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

_VOWELS = frozenset("aeiou")
# Initial spellings that sound like something else ("kn" in "knee", "ng" in "Nguyen"). The
# second sound, when given, is a common alternative pronunciation (Double Metaphone's idea of
# an alternate key): English speakers say "Nguyen" as "new-yen" or as "win".
_INITIAL: tuple[tuple[str, str, str | None], ...] = (
    ("ngu", "n", "w"),
    ("ng", "n", None),
    ("kn", "n", None),
    ("gn", "n", None),
    ("pn", "n", None),
    ("wr", "r", None),
    ("ps", "s", None),
    ("wh", "w", None),
    ("x", "s", None),
)
_DIGRAPHS = (
    ("tch", "X"),
    ("sch", "SK"),
    ("ch", "X"),
    ("sh", "X"),
    ("tia", "X"),
    ("tio", "X"),
    ("ph", "F"),
    ("th", "0"),
    ("ck", "K"),
    ("gh", ""),
    ("dg", "J"),
    ("qu", "KW"),
)
_SINGLE = {
    "b": "P",
    "p": "P",
    "d": "T",
    "t": "T",
    "f": "F",
    "v": "F",
    "g": "K",
    "k": "K",
    "q": "K",
    "c": "K",
    "j": "J",
    "s": "S",
    "z": "S",
    "x": "KS",
    "l": "L",
    "m": "M",
    "n": "N",
    "r": "R",
    "h": "",
}
# Sounds the phone line and the recogniser confuse with each other: a substitution inside a
# group costs half. Weak sounds (a vowel onset, glides, "th") also cost half to add or drop.
_GROUPS = ("PTKX", "FSX0J", "MNLR", "AWY0")
_WEAK = frozenset("AWY0")


@lru_cache(maxsize=4096)
def phonetic_keys(text: str) -> tuple[str, ...]:
    """The sound keys of a word or phrase: the usual pronunciation first, then alternatives.

    Letters map to sound classes with voiced and unvoiced pairs merged (b/p, d/t, g/k, v/f,
    z/s), inner vowels drop, a leading vowel is kept as "A" and a "y" or "w" before a vowel
    is a glide ("Y", "W"). "Nguyen" → ("NYN", "WN"), "New Year" → ("NYR",).
    """
    keys = [""]
    for word in re.findall(r"[a-z]+", text.lower()):
        variants = _word_keys(word)
        keys = [k + v for k in keys for v in variants]
    return tuple(dict.fromkeys(keys))


def phonetic_key(text: str) -> str:
    """The usual sound key of a word or phrase (see `phonetic_keys`)."""
    return phonetic_keys(text)[0]


def _word_keys(word: str) -> list[str]:
    for prefix, sound, alternative in _INITIAL:
        if word.startswith(prefix) and len(word) > len(prefix):
            rest = word[len(prefix) :]
            keys = [_encode(sound + rest)]
            if alternative is not None:
                keys.append(_encode(alternative + rest.lstrip("y")))
            return keys
    return [_encode(word)]


def _encode(word: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(word):
        ch = word[i]
        following = word[i + 1] if i + 1 < len(word) else ""
        digraph = next(((g, s) for g, s in _DIGRAPHS if word.startswith(g, i)), None)
        if digraph is not None:
            sound = digraph[1]
            i += len(digraph[0])
        elif ch in _VOWELS:
            sound, i = ("A" if i == 0 else ""), i + 1
        elif ch in "wy":
            sound, i = ("W" if ch == "w" else "Y") if following in _VOWELS else "", i + 1
            if ch == "y" and i == 1 and following not in _VOWELS:
                sound = "A"
        elif ch == "c" and following in ("e", "i", "y"):
            sound, i = "S", i + 1
        elif ch == "g" and following in ("e", "i", "y") and i > 0:
            sound, i = "J", i + 1
        else:
            sound, i = _SINGLE.get(ch, ""), i + 1
        if sound and not (out and out[-1] == sound):
            out.append(sound)
    return "".join(out)


def _substitution(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return 0.5 if any(a in g and b in g for g in _GROUPS) else 1.0


def _indel(a: str) -> float:
    return 0.5 if a in _WEAK else 1.0


# Every letter a key can hold, and the costs between them, looked up rather than worked out:
# the distance runs for every run of heard words against every term, on every turn.
_KEY_LETTERS = "AFJKLMNPRSTWXY0"
_SUBSTITUTION = {(a, b): _substitution(a, b) for a in _KEY_LETTERS for b in _KEY_LETTERS}
_INDEL = {a: _indel(a) for a in _KEY_LETTERS}


def key_distance(a: str, b: str) -> float:
    """Edit distance between two keys, with cheaper confusions between similar sounds."""
    indel, substitution = _INDEL, _SUBSTITUTION
    previous = [0.0]
    for cb in b:
        previous.append(previous[-1] + indel[cb])
    for ca in a:
        cost_a = indel[ca]
        current = [previous[0] + cost_a]
        left = current[0]
        for j, cb in enumerate(b, 1):
            swap = previous[j - 1] + substitution[ca, cb]
            left = min(previous[j] + cost_a, left + indel[cb], swap)
            current.append(left)
        previous = current
    return previous[-1]


def key_similarity(a: str, b: str) -> float:
    """1 minus the normalised weighted edit distance of two keys (1.0 = the same sounds)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return max(0.0, 1.0 - key_distance(a, b) / max(len(a), len(b)))


@lru_cache(maxsize=65536)
def sounds_like(heard: str, term: str) -> float:
    """How likely `heard` (one or more words) is a transcription of `term`, from 0 to 1.

    The best of spelling similarity and sound-key similarity; the sound key weighs a little
    less, since short keys collide ("Park" and "Brook").
    """
    heard, term = heard.lower().strip(), term.lower().strip()
    if not heard or not term:
        return 0.0
    if heard == term:
        return 1.0
    matcher = difflib.SequenceMatcher(None, heard.replace(" ", ""), term.replace(" ", ""))
    # The full ratio is slow; the length bound rules most spans out first.
    quick = matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6
    best = matcher.ratio() if quick else 0.0
    for ka in phonetic_keys(heard):
        for kb in phonetic_keys(term):
            # Keys of one or two sounds match too easily to count fully.
            weight = 0.95 if min(len(ka), len(kb)) >= 3 else 0.85
            longest = max(len(ka), len(kb))
            if longest and weight * (1 - 0.5 * abs(len(ka) - len(kb)) / longest) <= best:
                continue  # cannot beat what is found: half a sound per sound of length
            best = max(best, key_similarity(ka, kb) * weight)
    return best


@dataclass(frozen=True, slots=True)
class TermMatch:
    """A known term found in a transcript.

    Attributes:
        term: the vocabulary term.
        heard: the words that matched it.
        score: how sure the match is, 0 to 1.
        start: index of the first matched word.
    """

    term: str
    heard: str
    score: float
    start: int


def spans(words: Sequence[str], longest: int = 3) -> Iterable[tuple[int, str]]:
    """Every run of 1 to `longest` consecutive words, as (start index, joined text)."""
    for start in range(len(words)):
        for length in range(1, longest + 1):
            if start + length <= len(words):
                yield start, " ".join(words[start : start + length])


def _score_bound(heard: str, term: str) -> float:
    """An upper bound of `sounds_like(heard, term)` from lengths alone (no alignment).

    Spelling similarity is at most 2·min/(sum) of the lengths; key similarity loses at least
    half a sound per sound of difference in length.
    """
    a, b = len(heard.replace(" ", "")), len(term.replace(" ", ""))
    bound = 2 * min(a, b) / (a + b) if a + b else 0.0
    for ka in phonetic_keys(heard):
        for kb in phonetic_keys(term):
            longest = max(len(ka), len(kb))
            if longest:
                bound = max(bound, 0.95 * (1 - 0.5 * abs(len(ka) - len(kb)) / longest))
    return bound


def best_span(words: Sequence[str], term: str, floor: float = 0.0) -> TermMatch | None:
    """The run of words in `words` that sounds most like `term`.

    Runs that cannot score `floor` (judged by their lengths) are not aligned: most of them,
    when a caller's turn is compared with a vocabulary on every turn.
    """
    term_words = len(term.split())
    best: TermMatch | None = None
    for start, heard in spans(words, longest=term_words + 1):
        if len(heard) < 2:
            continue
        if floor > 0 and _score_bound(heard, term) < floor:
            continue
        score = sounds_like(heard, term)
        # A run much longer than the term borrows sounds from its neighbours.
        if abs(len(heard.replace(" ", "")) - len(term.replace(" ", ""))) > max(3, len(term) // 2):
            score *= 0.85
        if best is None or score > best.score:
            best = TermMatch(term, heard, score, start)
    return best


def find_terms(
    words: Sequence[str], vocabulary: Iterable[str], threshold: float = 0.75
) -> list[TermMatch]:
    """Every vocabulary term heard in `words` at or above `threshold`, best first."""
    found = [
        m for t in vocabulary if (m := best_span(words, t, threshold)) and m.score >= threshold
    ]
    return sorted(found, key=lambda m: m.score, reverse=True)


def _anchored(match: TermMatch) -> bool:
    """Whether a term of several words had at least one of its words heard as itself (or
    with another ending of its stem).

    Sound alone, word for word across a whole phrase, fits ordinary phrases as well as names:
    "please start calling" (a misheard "please stop calling") scored 0.78 against a business's
    three-word name, and the caller's opt-out was answered with its address. A misheard name
    keeps a word of it ("opening errors" for opening hours); a one-word term ("that now" for
    Aetna) has nothing to anchor it and is taken on sound.
    """
    term_words = match.term.lower().split()
    return len(term_words) < 2 or any(_same_stem(w, match.heard.split()) for w in term_words)


def _same_stem(word: str, heard: Iterable[str]) -> bool:
    """Whether `word` was heard as itself or with another ending of the same stem ("open"
    for "opening": the recogniser keeps the stem and loses the ending)."""
    return any(
        h == word or (min(len(h), len(word)) >= 4 and (h.startswith(word) or word.startswith(h)))
        for h in heard
    )


def respell(text: str, vocabulary: Iterable[str], threshold: float = 0.75) -> tuple[str, list[str]]:
    """`text` with the runs of words that sound like a vocabulary term replaced by the term.

    "do you take that now" → ("do you take Aetna", ["Aetna"]). Callers use it as a second
    reading when the words as heard led nowhere, and confirm what it changed ("If you mean
    Aetna: ..."), since a sound-alike can be wrong ("open" also sounds a little like Aetna).

    Returns:
        The respelled text (lower case, words only) and the terms put in, best match first.
    """
    words = re.findall(r"[a-z0-9']+", text.lower())
    # A term of several words is only put in where one of its words was heard as itself
    # (`_anchored`), so one with none of them in the turn is not aligned at all: most of a
    # vocabulary, on most turns, and most of what the alignment costs.
    anchorable = [
        t
        for t in vocabulary
        if len(t.split()) < 2 or any(_same_stem(w, words) for w in t.lower().split())
    ]
    # A term of several words with a word heard as itself has that word as evidence besides
    # its sound, so it takes its words before a one-word sound-alike ("open errors" is
    # opening hours, not "Aetna errors").
    matches = sorted(find_terms(words, anchorable, threshold), key=lambda m: -len(m.term.split()))
    taken: set[int] = set()
    replaced: dict[int, tuple[int, str]] = {}
    for m in matches:
        span = set(range(m.start, m.start + len(m.heard.split())))
        if span & taken or m.heard == m.term.lower() or not _anchored(m):
            continue
        taken |= span
        replaced[m.start] = (len(span), m.term)
    out: list[str] = []
    i = 0
    while i < len(words):
        if i in replaced:
            length, term = replaced[i]
            out.append(term)
            i += length
        else:
            out.append(words[i])
            i += 1
    terms = [replaced[k][1] for k in sorted(replaced, key=lambda k: k)]
    return " ".join(out), terms
