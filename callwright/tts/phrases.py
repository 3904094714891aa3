"""Where a sentence may be cut without a punctuation mark: before a word that opens a phrase.

A speaker may pause before a conjunction or a preposition ("Doctor Patel is free | on
Wednesday the ninth | at nine"), so a sentence cut there and read as two clauses still sounds
like speech. The reply's first piece (`agent/sentences.py`) and the first sentence a voice
synthesizes (`tts/piper.py`) are cut there when no comma offers a place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# Conjunctions and prepositions (English's closed classes), not "to", whose infinitive binds
# to the verb before it.
PHRASE_OPENERS = frozenset(
    "and but or so because since although though while whereas unless until if when where "
    "which who whose on in at by for with from into onto within without after before during "
    "through about between".split()
)
_WORD = re.compile(r"\S+")


def phrase_cuts(text: str, min_words: int) -> Iterator[tuple[str, str]]:
    """Every (head, rest) of `text` cut before a phrase-opening word, head first shortest.

    Args:
        text: one sentence.
        min_words: the fewest words the head may have (the rest has at least two).

    A cut needs the head's last word to end in a letter or a digit (not "Hello," nor
    "e.g."), so the cut adds the only mark between the two.
    """
    words = list(_WORD.finditer(text))
    for index in range(min_words, len(words) - 1):
        before, opener = words[index - 1].group(), words[index].group()
        if opener.lower() in PHRASE_OPENERS and before[-1].isalnum():
            yield text[: words[index - 1].end()], text[words[index].start() :]
