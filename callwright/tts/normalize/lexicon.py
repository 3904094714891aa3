"""A pronunciation lexicon: how an agent wants particular words said."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_CAPITALISED = 0xE100
_LOWER = 0xE900
_MAX_HELD = 0x800  # placeholders per text; more (never seen in a sentence) are not protected
_PLACEHOLDER = re.compile("[\ue100-\uf0ff]")
CAPITALISED_PLACEHOLDERS = "\ue100-\ue8ff"


@dataclass(frozen=True)
class PronunciationLexicon:
    """Whole-word (or whole-phrase) respellings applied before any other normalisation.

    An agent carries one (names such as "Nguyen" → "win", product names, local places); the
    respelling is what the voice reads, so it should be spelled as it sounds. Entries match
    whole words only, case-insensitively unless `case_sensitive`; the longest entry wins
    where entries overlap ("St. Mary's" before "St.").

    Attributes:
        entries: written form → spoken form.
        case_sensitive: match the written forms' case exactly.
    """

    entries: Mapping[str, str] = field(default_factory=dict)
    case_sensitive: bool = False
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _lookup: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entries = {k.strip(): v.strip() for k, v in self.entries.items() if k.strip()}
        if any(not v for v in entries.values()):
            raise ValueError("every lexicon entry needs a spoken form")
        fold = (lambda s: s) if self.case_sensitive else str.casefold
        object.__setattr__(self, "entries", MappingProxyType(entries))
        object.__setattr__(self, "_lookup", {fold(k): v for k, v in entries.items()})
        pattern = None
        if entries:
            words = sorted(entries, key=len, reverse=True)
            alternation = "|".join(re.escape(w) for w in words)
            flags = 0 if self.case_sensitive else re.IGNORECASE
            pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", flags)
        object.__setattr__(self, "_pattern", pattern)

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.entries.items())), self.case_sensitive))

    def __bool__(self) -> bool:
        return bool(self.entries)

    def apply(self, text: str) -> str:
        """Returns `text` with every entry replaced by its spoken form."""
        if self._pattern is None:
            return text
        fold = (lambda s: s) if self.case_sensitive else str.casefold
        return self._pattern.sub(lambda m: self._lookup[fold(m.group(0))], text)

    def protect(self, text: str) -> tuple[str, list[str]]:
        """Replaces every entry in `text` by a placeholder that other rules leave alone.

        A placeholder is one private-use character: from U+E100 where the written word was
        capitalised (so "Dr. Nguyen" still reads as a title before a name), from U+E900
        otherwise. `restore` puts the spoken forms in.

        Returns:
            The text with placeholders, and the spoken forms they stand for, in order.
        """
        spoken: list[str] = []
        if self._pattern is None:
            return text, spoken
        text = _PLACEHOLDER.sub("", text)  # unspeakable anyway, and must not pose as ours
        fold = (lambda s: s) if self.case_sensitive else str.casefold

        def hold(match: re.Match[str]) -> str:
            index = len(spoken)
            spoken.append(self._lookup[fold(match.group(0))])
            if index >= _MAX_HELD:
                return spoken[-1]
            return chr((_CAPITALISED if match.group(0)[0].isupper() else _LOWER) + index)

        return self._pattern.sub(hold, text), spoken

    @staticmethod
    def restore(text: str, spoken: list[str]) -> str:
        """Undoes `protect`: each placeholder becomes its spoken form."""
        if not spoken:
            return text
        return _PLACEHOLDER.sub(lambda m: spoken[(ord(m.group(0)) - _CAPITALISED) % 0x800], text)

    def merged(self, other: PronunciationLexicon | Mapping[str, str]) -> PronunciationLexicon:
        """A lexicon with `other`'s entries added (they win on conflicts)."""
        extra = other.entries if isinstance(other, PronunciationLexicon) else other
        return PronunciationLexicon({**self.entries, **extra}, self.case_sensitive)
