"""Hours the recogniser wrote as other words, read back by sound when a time is expected.

A number said in an unusual voice comes back as the nearest words the recogniser knows:
"at eleven" as "till heaven", "eight" as "ate". Out of context such words mean nothing, so
they are only read as an hour when the open question expects a time, where the words stand
where an hour stands (before "in the morning", "o'clock" or "a.m.", after "at" or "around",
or at the end of a clause: "Till heaven, please."), and when they sound like one hour clearly
more than like any other. The match is the phonetic key and edit distance of
`flows.phonetic` against the hours' own words, so it covers mishearings nobody listed. The
flow reads the time back before it acts, so a wrong reading is corrected by the caller.
"""

from __future__ import annotations

import re

from callwright.flows.names import EVERYDAY
from callwright.flows.numbers import ORDINALS, TEENS, TENS, UNITS
from callwright.flows.phonetic import sounds_like

HOURS: dict[str, int] = {
    word: value for word, value in (UNITS | TEENS).items() if 1 <= value <= 12 and word != "oh"
}
# Words that already mean something to the date and time extractors, and the words callers
# use about times and openings: none of them is a misheard number ("whatever is free in the
# morning" is not four in the morning). Everyday words (`flows.names.EVERYDAY`) are not either
# ("then" sounds like "ten" but is nearly always "then").
_MEANINGFUL = frozenset(
    """morning afternoon evening night tonight noon midday today tomorrow o'clock oclock
    am pm half quarter past monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    week weekend free open available busy early earlier earliest late later latest soon
    right fine great okay ok works work""".split()
)
_NUMBER_WORDS = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | frozenset(ORDINALS)
_BEFORE_HOUR = frozenset({"at", "around", "about", "by", "after", "before"})
_AFTER_HOUR = re.compile(r"^(in the (morning|afternoon|evening)|o'? ?clock|[ap]\.? ?m\b)")
_CLAUSE = re.compile(r"[^,.;!?]+")
_WORD = re.compile(r"[a-z']+|\d+(?:st|nd|rd|th)?")


def _candidate(word: str) -> bool:
    return (
        not word[:1].isdigit()
        and word not in _NUMBER_WORDS
        and word not in _MEANINGFUL
        and (word not in EVERYDAY or word in ("at", "till"))  # "till heaven" = "at eleven"
    )


def _hour_position(words: list[str], start: int, end: int) -> bool:
    if end == len(words):
        return True  # ends its clause: "Till heaven, please" is "eleven" then "please"
    if start > 0 and words[start - 1] in _BEFORE_HOUR:
        return True
    return _AFTER_HOUR.match(" ".join(words[end : end + 3])) is not None


def _best_hour(heard: str) -> tuple[float, int, bool]:
    """The hour `heard` sounds most like: (score, hour, whether "at" was heard with it);
    score 0 when another hour fits nearly as well."""
    scored: list[tuple[float, int, bool]] = []
    for word, value in HOURS.items():
        plain, with_at = sounds_like(heard, word), sounds_like(heard, f"at {word}")
        scored.append((max(plain, with_at), value, with_at > plain))
    scored.sort(reverse=True)
    best, runner_up = scored[0], scored[1]
    return (best[0] if best[0] - runner_up[0] >= _MARGIN - 1e-9 else 0.0), best[1], best[2]


# A match must beat the next best hour by this much: "at heaven" sounds about as much like
# "at four" as like "at seven", and is neither for sure.
_MARGIN = 0.1


def hour_by_sound(text: str, threshold: float = 0.75) -> str | None:
    """`text` with the run of words that sounds like an hour, where an hour stands, put
    back as its number ("Monday, till heaven in the morning" → "... at 11 in the morning").

    Args:
        text: a transcript in which no hour was found.
        threshold: the least sound-alike score (`flows.phonetic.sounds_like`) to accept.

    Returns:
        The rewritten text (lower case), or None when no run of words qualifies.
    """
    best: tuple[float, str] | None = None
    clauses = [c.strip() for c in _CLAUSE.findall(text.lower()) if c.strip()]
    for index, clause in enumerate(clauses):
        words = _WORD.findall(clause)
        for start in range(len(words)):
            for end in range(start + 1, min(start + 2, len(words)) + 1):
                span = words[start:end]
                if not all(_candidate(w) for w in span) or span[-1] in ("at", "till"):
                    continue
                if not _hour_position(words, start, end):
                    continue
                score, hour, with_at = _best_hour(" ".join(span))
                if score < threshold or (best is not None and score <= best[0]):
                    continue
                said = " ".join([*words[:start], "at" if with_at else "", str(hour),
                                 *words[end:]])  # fmt: skip
                rewritten = [*clauses[:index], " ".join(said.split()), *clauses[index + 1 :]]
                best = (score, ", ".join(rewritten))
    return None if best is None else best[1]
