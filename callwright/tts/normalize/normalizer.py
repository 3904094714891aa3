"""The text a voice is given: written forms expanded into the words a person would say."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial

from callwright.tts.normalize import dates, quantities, spanish, ssml, words
from callwright.tts.normalize.dates import DateOrder
from callwright.tts.normalize.lexicon import PronunciationLexicon

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]
_TERMINAL = ".!?"
_DOUBLE_STOP = re.compile(r"(?<=[ap]\.m\.)\.")  # "at 14:30." → "p.m.", not "p.m.."


def _rules(date_order: DateOrder) -> list[_Rule]:
    # Order matters: a rule must run before any rule that would misread part of its match
    # (addresses and phone numbers before ranges, dates before times, money before numbers).
    return [
        (words.EMAIL, words.say_email),
        (words.URL, words.say_url),
        (words.E164, words.say_e164),
        (words.NATIONAL_PHONE, words.say_national_phone),
        (words.DIRECTION, words.say_direction),
        (words.TITLE_OR_STREET, words.say_title_or_street),
        (words.ABBREVIATION, words.say_abbreviation),
        (dates.ISO_DATE, partial(dates.say_iso_date, order=date_order)),
        (dates.NUMERIC_DATE, partial(dates.say_numeric_date, order=date_order)),
        (words.LOCAL_PHONE, words.say_national_phone),
        (dates.MONTH_DAY, dates.say_month_day),
        (dates.DAY_MONTH, dates.say_day_month),
        (words.CODE_CONTEXT, words.say_code_in_context),
        (dates.DAY_RANGE, dates.say_day_range),
        (dates.DAY_LIST, dates.say_day_list),
        (dates.NUMBER_RANGE, dates.say_number_range),
        (dates.TIME_MERIDIEM, dates.say_time_meridiem),
        (dates.TIME_24, dates.say_time_24),
        (words.PER, " per "),
        (words.TIMES, " times "),
        (quantities.MONEY, quantities.say_money),
        (quantities.MONEY_CODE, quantities.say_money_code),
        (quantities.CENTS_SIGN, quantities.say_cents),
        (quantities.PERCENT, quantities.say_percent),
        (quantities.DEGREES, quantities.say_degrees),
        (quantities.UNIT, quantities.say_unit),
        (quantities.ORDINAL, quantities.say_ordinal),
        (quantities.DECADE, quantities.say_decade),
        (quantities.YEAR_CONTEXT, quantities.say_year),
        (quantities.FRACTION, quantities.say_fraction),
        (words.NUMBER_SIGN, "number "),
        (words.ALPHANUMERIC_CODE, words.say_alphanumeric_code),
        (dates.DAY_ABBREVIATION, dates.say_day_abbreviation),
        (words.AMPERSAND, " and "),
        (words.WORD_SLASH, " or "),
        (words.APPROXIMATELY, "about "),
        (words.PLUS_MINUS, "plus or minus "),
        (words.AT_SIGN, " at "),
    ]


class SpeechNormalizer:
    """Turns reply text into what a voice should read: "$120 at 14:30 with Dr. Nguyen" →
    "one hundred twenty dollars at two thirty p.m. with Doctor win" (with Nguyen → win).

    English (American) rules: numbers of any size, ordinals, money, times (12 and 24 hour),
    dates, phone numbers read digit by digit in their groups, ranges, percentages, units,
    abbreviations read by their context ("St. Mary St."), email and web addresses, a few
    symbols. An agent's pronunciation lexicon is applied first, so it overrides every rule.
    Pure and fast (tens of microseconds a sentence), so it runs on the event loop.

    Library choice: num2words (LGPL, pure Python, one small dependency) spells the numbers;
    the rules for context (which numeral is money, a time or a phone number) are ours.
    NeMo's text processing covers more but needs pynini (a 165 MB OpenFst wheel), pandas and
    transformers, and compiles grammars for seconds to minutes at start-up; inflect spells
    numbers too but has no context rules either, and num2words also speaks other languages.

    Args:
        lexicon: the agent's respellings (a mapping is turned into a PronunciationLexicon).
        date_order: how "12/10/2026" is read: "mdy" (December 10) or "dmy" (12 October);
            also the style dates are said in ("December tenth" or "the tenth of December").
        language: "en" (the rules above), or "es": Spanish rules (`normalize/spanish.py`:
            numbers, money, percentages, times, dates day first, abbreviations). Any other
            language keeps its text as written, apart from the lexicon: English words would
            be wrong in it.
    """

    def __init__(
        self,
        lexicon: PronunciationLexicon | Mapping[str, str] | None = None,
        date_order: DateOrder = "mdy",
        language: str = "en",
    ) -> None:
        if date_order not in ("mdy", "dmy"):
            raise ValueError(f"date_order must be 'mdy' or 'dmy', got {date_order!r}")
        if lexicon is None or not isinstance(lexicon, PronunciationLexicon):
            lexicon = PronunciationLexicon(lexicon or {})
        self.lexicon = lexicon
        self.date_order: DateOrder = date_order
        self.language = language.split("-")[0].lower()
        self._english = self.language == "en"
        if self._english:
            self._rules = _rules(date_order)
        else:
            self._rules = spanish.rules() if self.language == "es" else []

    def with_lexicon(self, lexicon: PronunciationLexicon | Mapping[str, str]) -> SpeechNormalizer:
        """The same rules with another lexicon (e.g. the agent of a call)."""
        return SpeechNormalizer(lexicon, self.date_order, self.language)

    def normalize(self, text: str) -> str:
        """Plain text as it should be spoken.

        Args:
            text: one piece of a reply (a sentence or clause), plain text.

        Returns:
            The spoken form, whitespace collapsed; a sentence end the rules consumed (the
            period of "St." closing a sentence) is put back.
        """
        spoken, held = self.lexicon.protect(text)
        for pattern, say in self._rules:
            spoken = pattern.sub(say, spoken)
        if self._english:
            spoken = quantities.say_numbers(spoken)
        spoken = self.lexicon.restore(spoken, held)
        spoken = _DOUBLE_STOP.sub("", " ".join(spoken.split()))
        original = text.rstrip()
        if original and original[-1] in _TERMINAL and spoken and spoken[-1] not in _TERMINAL:
            spoken += original[-1]
        return spoken

    def prepare(self, text: str, accepts_ssml: bool) -> str:
        """The text to send to a synthesizer: SSML passed on to one that takes it (as one
        `<speak>` document, the text between its tags normalised), otherwise stripped to its
        text and normalised; plain text normalised.

        Args:
            text: plain text or SSML (a `<speak>` document or a fragment with SSML tags).
            accepts_ssml: the synthesizer's capability (see `accepts_ssml`).
        """
        if not ssml.is_ssml(text):
            return self.normalize(text)
        if accepts_ssml:
            return ssml.as_document(ssml.map_text(text, self.normalize))
        return self.normalize(ssml.strip_ssml(text))


def accepts_ssml(tts: object) -> bool:
    """Whether a synthesizer reads SSML: its `accepts_ssml` attribute (absent: no)."""
    return bool(getattr(tts, "accepts_ssml", False))
