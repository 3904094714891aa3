"""Backchannels: what a listener says to show they are listening, not to take the turn.

Over the agent's voice the recogniser often mishears a murmured "uh-huh" as a few short words
("And then.", "You have.", "Aha"), so the words are judged by what they could claim: a question
or any word that carries content takes the floor; backchannels, murmurs and function words
alone do not.
"""

from __future__ import annotations

import re

_BACKCHANNELS = frozenset(
    """uh-huh uh huh uhhuh mm-hmm mhm mmhmm mm hmm hm yeah yes yep yup right okay ok sure
    alright i see got it cool great ah oh wow nice true""".split()
)
_WORD = re.compile(r"[a-z'-]+")
# Letters of murmured syllables ("Mm-mm", "Uh-uh", "Mhm", "Aha", "M-H-M-M"): a word made of
# these alone is a sound, not a request.
_MURMUR_LETTERS = frozenset("ahmou")
# A hum: nasal letters and "h" without a vowel ("hn", "nhn", "mmm"); "no" and "nah" have one.
_HUM_LETTERS = frozenset("hmn")
# Closed-class words (pronouns, articles, conjunctions, prepositions, auxiliaries, fillers):
# a few of them alone ask the agent for nothing.
_FUNCTION_WORDS = frozenset(
    """a an the this that these those some any each every all both i me my mine you your yours
    he him his she her hers it its we us our ours they them their theirs i'm i've i'd i'll
    you're you've you'd you'll he's she's it's we're we've they're they've that's there's
    here's what's and or but so because if then than as of to in on at by for with from about
    into is are was were am be been being do does did have has had will would can
    could shall should may might must well just like also too now here there then er erm um
    what why where when how who which""".split()
)
SHORT_WORDS = 3  # more words than this are more than a murmur, whatever they are
# Fast speech is 4-5 words a second; more is the recogniser hallucinating on a sound.
MAX_WORDS_PER_S = 7.0


def is_backchannel(text: str) -> bool:
    """True for "uh-huh", "yeah", "right", "okay", "mm-hmm" and the like (at most 3 words).

    An empty transcript (a cough, a noise) counts too: nothing real was said.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return True
    if len(words) > SHORT_WORDS:
        return False
    return all(w.strip("-") in _BACKCHANNELS or _is_murmur(w) for w in words)


def takes_the_floor(text: str, speech_ms: float | None = None) -> bool:
    """True when words said over the agent claim the turn: a question, a request, a "no".

    False for a backchannel, a noise, or at most three words that carry no content of their
    own ("And then.", "You have."): what a murmur over the agent's voice is heard as. False
    too for more words than `speech_ms` of speech could hold: the recogniser made them up
    from a sound ("And in each and in the end of the presentation," for a 0.9 s "mm-hmm").
    """
    stripped = text.strip()
    if speech_ms is not None and more_words_than_said(stripped, speech_ms):
        return False
    if stripped.endswith("?"):
        return True
    if is_backchannel(stripped):
        return False
    words = [w.strip("-'") for w in _WORD.findall(stripped.lower().replace("’", "'"))]
    # Hums are not words: a murmured "mm-hmm" heard as letters ("And HN and M.") is two
    # words, not four.
    words = [w for w in words if w and not _is_murmur(w)]
    if len(words) > SHORT_WORDS:
        return True
    return not all(w in _FUNCTION_WORDS or w in _BACKCHANNELS or _is_murmur(w) for w in words if w)


def more_words_than_said(text: str, speech_ms: float) -> bool:
    """More words than anyone says in `speech_ms` (over MAX_WORDS_PER_S, and more than a few:
    a short burst may be quick)."""
    words = [w for w in _WORD.findall(text.lower()) if not _is_murmur(w)]
    return len(words) > SHORT_WORDS and len(words) > MAX_WORDS_PER_S * speech_ms / 1000.0


def _is_murmur(word: str) -> bool:
    """A sound, not a word: murmured syllables ("aha", "mhm"), or a hum with no vowel at all
    ("hn", "nhn": how the recogniser spells a nasal "mm-hmm")."""
    syllables = [part for part in word.split("-") if part]
    return bool(syllables) and all(
        set(part) <= _MURMUR_LETTERS or set(part) <= _HUM_LETTERS for part in syllables
    )
