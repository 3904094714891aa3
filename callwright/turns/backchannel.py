"""Backchannels: what a listener says to show they are listening, not to take the turn."""

from __future__ import annotations

import re

_BACKCHANNELS = frozenset(
    """uh-huh uh huh uhhuh mm-hmm mhm mmhmm mm hmm hm yeah yes yep yup right okay ok sure
    alright i see got it cool great ah oh wow nice true""".split()
)
_WORD = re.compile(r"[a-z'-]+")
# Syllables Whisper writes for murmured assent ("Mm-mm-mm-", "Uh-uh", "Mhm").
_MURMURS = frozenset("uh huh mm hmm mhm um ah oh hm".split())


def is_backchannel(text: str) -> bool:
    """True for "uh-huh", "yeah", "right", "okay", "mm-hmm" and the like (at most 3 words).

    An empty transcript (a cough, a noise) counts too: nothing real was said.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return True
    if len(words) > 3:
        return False
    return all(w.strip("-") in _BACKCHANNELS or _is_murmur(w) for w in words)


def _is_murmur(word: str) -> bool:
    syllables = [part for part in word.split("-") if part]
    return bool(syllables) and all(part in _MURMURS for part in syllables)
