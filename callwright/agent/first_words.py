"""The first few words of a streamed reply, synthesized on their own before its first piece.

A model writes its reply token by token; the sentence buffer's first piece (a clause, or a
phrase of at least four words) is known several tokens in, and Piper renders a piece only
once it has all of it, in time that grows with its length. Its first few words alone are known
sooner and synthesized faster, and their audio covers the synthesis of the rest of the piece.

The words must be able to stand as a clause (they are read with a comma): the last one is
whole (whitespace came after it), ends in a letter, is no number (a number binds to what
follows: "3 p.m.", "5 dollars") and, unless a clause mark follows it, no word that needs the
next one (an article, a preposition, a pronoun, an auxiliary: "the", "to", "I", "can"...), in
English or Spanish, the languages the runtime has voices and normalisation for.
"""

from __future__ import annotations

import numpy as np

from callwright.agent.sentences import speakable

# Closed-class words a spoken clause does not end on (English and Spanish).
_BINDS_FORWARD = frozenset(
    """
    a an the this that these those my your our their his her its some any each every no
    to of in on at by for from with into onto about as than and or but so if because when
    while where which who whose what how
    i you we they he she it me him us them i'm you're we're they're he's she's it's i'll
    you'll we'll i'd we'd i've we've there here
    is are was were be been being am will would can could should shall may might must do
    does did have has had not just also very really please let
    el la los las un una unos unas lo al del de en por para con sin sobre que y e o u ni
    pero si mi mis tu tus su sus nuestro nuestra yo usted ustedes nosotros le les se me te
    es son está están fue ser estar hay ha he han puede pueden muy más
    """.split()
)
MIN_WORDS = 2  # the fewest words the first unit has
MIN_CHARS = 8  # and the fewest characters
# A voice ends a clip with silence (Piper: 150-250 ms), which between the first words and the
# rest of their clause would be a pause no speaker makes; this much of it is kept, a comma's.
KEEP_AFTER_WORDS_MS = 100.0
SILENCE_FLOOR = 64  # the largest |int16 sample| counted as silence
# The first words go out on their own only while the voice is fast enough that the rest of
# their piece (up to about three times as long, and written a few tokens later) is synthesized
# before they have played, twice over: a gap in the middle of a clause sounds like the end of
# the turn. The pace is seconds of synthesis (wall clock, waiting for the voice included) per
# second of audio, measured on the head starts' own syntheses (`VoicePace`, one per voice,
# shared by the calls that speak with it).
MAX_SPLIT_PACE = 1.0 / 6.0
INITIAL_PACE = 0.15  # before anything was measured (Piper's pace on a quiet 2-core machine)


class VoicePace:
    """How fast a voice synthesizes now: a moving average of seconds of synthesis per second
    of audio, over the head starts' syntheses of every call that speaks with it.

    Args:
        initial: the pace assumed before anything was measured.
    """

    def __init__(self, initial: float = INITIAL_PACE) -> None:
        self.pace = initial
        self._measured = False

    def note(self, spent_s: float, audio_s: float) -> None:
        """The voice took `spent_s` for `audio_s` of audio."""
        if audio_s <= 0.0:
            return
        pace = spent_s / audio_s
        self.pace = pace if not self._measured else 0.7 * self.pace + 0.3 * pace
        self._measured = True

    def allows_split(self, max_pace: float = MAX_SPLIT_PACE) -> bool:
        """Whether the voice is fast enough now for the first words to go out on their own."""
        return self.pace <= max_pace


def first_words(text: str, min_words: int = MIN_WORDS, min_chars: int = MIN_CHARS) -> str | None:
    """The reply's first words that can be synthesized as a clause of their own, once known.

    Args:
        text: the reply's text so far, as written (split anywhere).
        min_words: the fewest words the unit has.
        min_chars: the fewest characters it has (as spoken: markdown removed).

    Returns:
        The shortest such prefix, as `speakable` text, or None while there is none yet.
    """
    words: list[str] = []
    start = None
    for index, char in enumerate(text):
        if not char.isspace():
            if start is None:
                start = index
            continue
        if start is None:
            continue
        words.append(text[start:index])
        start = None
        word = words[-1].strip("\"'“”‘’()*_").lower()
        # A clause mark may end them ("Hello there,"), after any word: the pause is written.
        marked = word.endswith((",", ";", ":"))
        word = word.rstrip(",;:")
        if len(words) < min_words or not word or not word[-1].isalpha():
            continue
        if any(c.isdigit() for c in word) or (word in _BINDS_FORWARD and not marked):
            continue
        unit = speakable(text[:index])
        if len(unit) >= min_chars:
            return unit
    return None


def rest_after(piece: str, unit: str) -> str | None:
    """The rest of `piece` after its first words `unit` ("" if the piece is just them); None
    if the piece does not start with them as whole words."""
    if not piece.startswith(unit):
        return None
    rest = piece[len(unit) :]
    if rest and not rest[0].isspace():
        return None
    return rest.strip()


def trim_trailing_silence(
    samples: np.ndarray, sample_rate: int, keep_ms: float = KEEP_AFTER_WORDS_MS
) -> np.ndarray:
    """`samples` (int16 mono) up to `keep_ms` after their last audible sample; all of them if
    none is audible."""
    audible = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENCE_FLOOR)
    if audible.size == 0:
        return samples
    end = int(audible[-1]) + 1 + int(sample_rate * keep_ms / 1000.0)
    return samples[:end]
