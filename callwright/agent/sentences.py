"""Splits a streamed reply into speakable pieces for TTS.

The responder streams text in arbitrary deltas (mid-word, mid-"p.m."). `SentenceBuffer`
emits each sentence as soon as its end is certain, so synthesis can start while the rest of
the reply is still being generated. A boundary is only decided once the text after it has
arrived: every decision depends on the text alone, never on how it was split into deltas.
"""

from __future__ import annotations

import re

from callwright.tts.phrases import PHRASE_OPENERS

_TERMINATORS = frozenset(".!?…")
_CLOSERS = frozenset("\"')]}’”»*_")
_OPENERS = frozenset("\"'([{‘“«*_#¿¡•-")
_NOT_STARTS = frozenset(",;:.!?%)]}…")
_CLAUSES = frozenset(",;:")
_DASHES = frozenset("-–—")

# A period after these never ends a sentence ("no" is handled apart: it is also a word).
_ABBREVIATIONS = frozenset(
    "dr mr mrs ms prof st jr sr mt ave rd vs etc e.g i.e inc ltd co approx dept appt min hr".split()
)
# After "a.m."/"p.m." a capitalized word starts a new sentence, unless it is one of these.
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "mt", "rev", "fr"})
_MERIDIEM = frozenset({"a.m", "p.m"})
_RULE_LINE = re.compile(r"^[ \t]*([-*_=])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)
_HEADING = re.compile(r"^[ \t]*#+[ \t]*", re.MULTILINE)
_BULLET = re.compile(r"^[ \t]*(?:[-+•]|\*+(?=\s))[ \t]+", re.MULTILINE)
_HASH = re.compile(r"(?<!\w)#+")
_UNDERSCORE = re.compile(r"(?<!\w)_+|_+(?!\w)")

# A decision about a boundary: split, do not split, or wait for more text (None).
_Verdict = bool | None


def speakable(text: str) -> str:
    """Returns `text` as it should be spoken: markdown markers removed, whitespace collapsed.

    Args:
        text: raw reply text, possibly with `**bold**`, `- ` bullets or `#` headings.

    Returns:
        The text without emphasis markers, bullets and headings, on one line, stripped.
    """
    text = _RULE_LINE.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _BULLET.sub("", text)
    text = text.replace("*", "").replace("`", "")
    text = _HASH.sub("", text)
    text = _UNDERSCORE.sub("", text)
    return " ".join(text.split())


class SentenceBuffer:
    """Turns the text deltas of one reply into speakable pieces, as early as possible.

    Pieces end at sentence ends, paragraph breaks and list items; the first piece of a reply
    may also end at a clause boundary, so that speech starts sooner. Abbreviations, decimals,
    times, initials, dotted acronyms and URLs never end a sentence. Pieces shorter than
    `min_chars` are merged with the text that follows. After `flush` the buffer is ready for
    the next reply.

    Args:
        min_chars: shortest piece emitted on its own, except at flush.
        first_clause_min_chars: shortest first piece that may end at a clause boundary
            (",", ";", ":", " - ", " — ").
        first_phrase_min_words: when set, the first piece may also end between two words,
            after at least this many words (and `first_clause_min_chars`), where the next word
            opens a phrase ("and", "but", "on", "in", "with"...): for text a model writes
            token by token, whose first comma may come late. Such pieces are noted in
            `before_phrase` (the voice should read them as a clause, not a finished
            sentence). 0 (the default) never does: fixed lines keep the pieces they are
            cached by. May be lowered between pushes.

    Attributes:
        first_phrase_min_words: as the argument.
        before_phrase: the pieces emitted that end before a phrase rather than at a mark.
    """

    def __init__(
        self, min_chars: int = 12, first_clause_min_chars: int = 24, first_phrase_min_words: int = 0
    ) -> None:
        if min_chars < 0 or first_clause_min_chars < 0 or first_phrase_min_words < 0:
            raise ValueError("minimum lengths must not be negative")
        self._min_chars = min_chars
        self._first_clause_min_chars = first_clause_min_chars
        self.first_phrase_min_words = first_phrase_min_words
        self.before_phrase: set[str] = set()
        self._pending = ""
        # Every boundary before this index of `_pending` has been decided against.
        self._scan_pos = 0
        self._first = True

    @property
    def next_is_first(self) -> bool:
        """Whether the next piece emitted will be the first one of the reply."""
        return self._first

    def push(self, delta: str) -> list[str]:
        """Adds a text delta of the reply.

        Args:
            delta: the next piece of reply text, split anywhere.

        Returns:
            The pieces completed by this delta, in order (often none).
        """
        if not delta:
            return []
        self._pending += delta
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """Ends the reply and returns the pieces left, then resets for the next reply.

        Returns:
            The remaining pieces, stripped and non-empty; the last may be shorter than
            `min_chars`.
        """
        pieces = self._drain(final=True)
        rest = speakable(self._pending)
        if rest:
            pieces.append(rest)
        self.reset()
        return pieces

    def reset(self) -> None:
        """Discards buffered text, e.g. when the caller barges in; the next piece is first."""
        self._pending = ""
        self._scan_pos = 0
        self._first = True

    def _drain(self, final: bool) -> list[str]:
        pieces: list[str] = []
        while (cut := self._next_cut(final)) is not None:
            end, resume, before_phrase = cut
            pieces.append(speakable(self._pending[:end]))
            if before_phrase:
                self.before_phrase.add(pieces[-1])
            self._pending = self._pending[resume:]
            self._scan_pos = 0
            self._first = False
        return pieces

    def _next_cut(self, final: bool) -> tuple[int, int, bool] | None:
        """Finds the first boundary of the pending text: (end of the piece, start of the rest,
        whether it is cut before a phrase)."""
        text = self._pending
        i = self._scan_pos
        while i < len(text):
            char = text[i]
            min_len = self._min_chars
            before_phrase = False
            if char in _TERMINATORS:
                after = _skip(text, _skip(text, i, _TERMINATORS), _CLOSERS)
                verdict = _sentence_end(text, i, after, final)
                end = resume = after
            elif char == "\n":
                verdict = _line_break(text, i, final)
                end, resume, after = i, i + 1, i + 1
            elif self._first and (char in _CLAUSES or char in _DASHES):
                verdict = _clause_end(text, i, final)
                # A dash is a pause, not something to say: leave it out of both pieces.
                end = i + 1 if char in _CLAUSES else i
                resume = after = i + 1
                min_len = max(min_len, self._first_clause_min_chars)
            elif self._first and self.first_phrase_min_words and char == " ":
                verdict = _phrase_end(text, i, final, self.first_phrase_min_words)
                end, resume, after, before_phrase = i, i + 1, i + 1, True
                min_len = max(min_len, self._first_clause_min_chars)
            else:
                i += 1
                continue
            if verdict is None:
                self._scan_pos = i
                return None
            if verdict and len(speakable(text[:end])) >= max(min_len, 1):
                return end, resume, before_phrase
            i = after
        self._scan_pos = len(text)
        return None


def _skip(text: str, i: int, chars: frozenset[str]) -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _sentence_end(text: str, i: int, after: int, final: bool) -> _Verdict:
    """Decides whether the terminators at `i` (closers included up to `after`) end a sentence."""
    if after == len(text):
        return True if final else None
    if not text[after].isspace():
        return False  # "3.5", "example.com", "U.S.A.", "J.R.R."
    k = _skip_space(text, after)
    if text.count("\n", after, k) >= 2:
        return False  # a paragraph break follows: the newline makes that cut
    if k == len(text):
        return True if final else None
    if text[i:after].rstrip("".join(_CLOSERS)) != ".":
        return _starts_sentence(text, k, final)  # "!", "?", ellipsis

    start = i
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    token = text[start:i].lstrip("".join(_OPENERS))
    low = token.lower()
    if low in _ABBREVIATIONS or _is_initial(token):
        return False
    if low not in _MERIDIEM and _is_acronym(token):
        return False
    if token.isdigit() and not text[text.rfind("\n", 0, start) + 1 : start].strip():
        return False  # a numbered list marker: "1. Call us"
    starts = _starts_sentence(text, k, final)
    if not starts:
        return starts
    if low == "no":
        return not (text[k].isdigit() or text[k] == "#")  # "No. 5" vs "I said no. Then"
    if low in _MERIDIEM:
        word = _word_at(text, k, final)
        return None if word is None else word.lower() not in _TITLES
    return True


def _is_initial(token: str) -> bool:
    # "I" alone is far more often the pronoun ending a sentence than an initial.
    return len(token) == 1 and token.isalpha() and token.isupper() and token != "I"


def _is_acronym(token: str) -> bool:
    """Whether `token` (without its last period) is like "U.S", "J.R.R" or "Ph.D"."""
    return "." in token and all(seg.isalpha() and len(seg) <= 2 for seg in token.split("."))


def _starts_sentence(text: str, k: int, final: bool) -> _Verdict:
    """Decides whether the text at `k` plausibly starts a sentence."""
    j = _skip(text, k, _OPENERS)
    if j == len(text):
        return True if final else None
    char = text[j]
    if char.isspace():
        return True  # after a bullet marker
    return not (char.islower() or char in _NOT_STARTS)


def _word_at(text: str, k: int, final: bool) -> str | None:
    """Returns the word starting at `k`, or None while it may still grow."""
    j = _skip(text, k, _OPENERS)
    m = j
    while m < len(text) and text[m].isalpha():
        m += 1
    if m == len(text) and not final:
        return None
    return text[j:m]


def _line_break(text: str, i: int, final: bool) -> _Verdict:
    """Decides whether the newline at `i` is a paragraph break or starts a list item."""
    k = _skip_space(text, i)
    if text.count("\n", i, k) >= 2:
        return True
    if k == len(text):
        return False if final else None
    char = text[k]
    if char in "#*•":
        return True
    if char in "-+":
        if k + 1 == len(text):
            return False if final else None
        return text[k + 1].isspace()
    if char.isdigit():
        m = k
        while m < len(text) and text[m].isdigit():
            m += 1
        if m == len(text):
            return False if final else None
        return text[m] in ".)"
    return False


def _clause_end(text: str, i: int, final: bool) -> _Verdict:
    """Decides whether the clause mark at `i` may end the first piece."""
    char = text[i]
    if char == "—":
        return True
    if char in _DASHES and (i == 0 or text[i - 1] not in " \t"):
        return False  # a hyphen: "check-in", "-5"
    if i + 1 == len(text):
        return False if final else None
    # Whitespace must follow: "1,000", "4:30" and "https://" are not clause boundaries.
    return text[i + 1].isspace()


def _phrase_end(text: str, i: int, final: bool, min_words: int) -> _Verdict:
    """Decides whether the space at `i` may end the first piece: after `min_words` words, the
    last one ending in a letter or digit, and before a whole word that opens a phrase."""
    if i == 0 or not text[i - 1].isalnum() or len(text[:i].split()) < min_words:
        return False
    j = _skip_space(text, i)
    m = j
    while m < len(text) and text[m].isalpha():
        m += 1
    if m == len(text):
        return False if final else None  # the word may still grow ("on" → "only")
    return m > j and text[m].isspace() and text[j:m].lower() in PHRASE_OPENERS
