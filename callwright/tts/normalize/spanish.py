"""Written forms as they are said in Spanish: numbers, money, times, dates, abbreviations.

num2words spells the numbers (`lang="es"`); the context rules (which numeral is a time, a date,
money) are ours, like the English ones, so Spanish text never reaches the voice as English
words ("10:30" is "diez y media", not "ten thirty").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from num2words import num2words

MONTHS = (
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
).split()
_NUM = r"\d{1,3}(?:[.\s]\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]


def cardinal(number: int) -> str:
    """12 → "doce"; 21 → "veintiuno"."""
    return str(num2words(number, lang="es"))


def _amount(text: str) -> str:
    """A written Spanish amount ("1.200", "3,5") said in words."""
    text = re.sub(r"[.\s](?=\d{3}\b)", "", text)
    whole, _, decimals = text.partition(",")
    spoken = cardinal(int(whole))
    if decimals:
        spoken += " coma " + " ".join(cardinal(int(d)) for d in decimals)
    return spoken


def say_time(hour: int, minute: int, part: str | None = None) -> str:
    """Says a time of day as Spanish speakers do on the phone: 9:30 → "nueve y media"."""
    hour12 = hour % 12 or 12
    spoken = "una" if hour12 == 1 else cardinal(hour12)
    if minute == 30:
        spoken += " y media"
    elif minute == 15:
        spoken += " y cuarto"
    elif minute:
        spoken += " y " + cardinal(minute)
    if part is None:
        part = "de la mañana" if hour < 12 else "de la tarde" if hour < 20 else "de la noche"
        if hour == 12 and minute == 0:
            part = "del mediodía"
    return f"{spoken} {part}".strip()


def _say_time_24(match: re.Match[str]) -> str:
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 23 or minute > 59:
        return match[0]
    part = match["part"].strip() if match["part"] else None
    return say_time(hour, minute, part)


def _say_time_meridiem(match: re.Match[str]) -> str:
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if not 1 <= hour <= 12 or minute > 59:
        return match[0]
    afternoon = match["ap"].lower().startswith("p")
    hour24 = hour % 12 + (12 if afternoon else 0)
    return say_time(hour24, minute)


def say_date(day: int, month: int, year_number: int | None = None) -> str:
    """10, 12, 2026 → "diez de diciembre de dos mil veintiséis" (the first: "primero")."""
    spoken = f"{'primero' if day == 1 else cardinal(day)} de {MONTHS[month - 1]}"
    if year_number is not None:
        spoken += f" de {cardinal(year_number)}"
    return spoken


def _say_numeric_date(match: re.Match[str]) -> str:
    day, month, raw_year = int(match["d"]), int(match["m"]), match["y"]
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return match[0]
    year_number = int(raw_year) + (2000 if len(raw_year) == 2 else 0)
    return say_date(day, month, year_number)


def _say_iso_date(match: re.Match[str]) -> str:
    day, month = int(match["d"]), int(match["m"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return match[0]
    return say_date(day, month, int(match["y"]))


def _say_day_of_month(match: re.Match[str]) -> str:
    day = int(match["d"])
    return f"{'primero' if day == 1 else cardinal(day)} de {match['month']}"


_CURRENCIES = {"$": ("dólar", "dólares"), "€": ("euro", "euros"), "£": ("libra", "libras")}


def _say_money(match: re.Match[str]) -> str:
    one, many = _CURRENCIES[match["sym"]]
    raw = match["num"]
    text = re.sub(r"[.\s](?=\d{3}\b)", "", raw)
    whole, _, cents = text.partition(",") if "," in text else text.partition(".")
    units = int(whole)
    spoken = f"{'un' if units == 1 else cardinal(units)} {one if units == 1 else many}"
    if cents and int(cents):
        spoken += f" con {cardinal(int(cents.ljust(2, '0')[:2]))} céntimos"
    return spoken


def _say_percent(match: re.Match[str]) -> str:
    return f"{_amount(match['num'])} por ciento"


def _say_number(match: re.Match[str]) -> str:
    return _amount(match[0])


_ABBREVIATIONS = {
    "Dr.": "doctor",
    "Dra.": "doctora",
    "Sr.": "señor",
    "Sra.": "señora",
    "Srta.": "señorita",
    "Av.": "avenida",
    "Avda.": "avenida",
    "Tel.": "teléfono",
    "n.º": "número",
}


def _say_abbreviation(match: re.Match[str]) -> str:
    return _ABBREVIATIONS[match[0]]


def rules() -> list[_Rule]:
    """The Spanish rules, in the order they must run (dates before times, money before
    numbers)."""
    abbreviations = "|".join(re.escape(a) for a in _ABBREVIATIONS)
    return [
        (re.compile(rf"(?<!\w)(?:{abbreviations})(?!\w)"), _say_abbreviation),
        (re.compile(r"(?<![\w-])(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?![\w-])"), _say_iso_date),
        (
            re.compile(r"(?<![\w/.])(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4}|\d{2})(?![\w/])"),
            _say_numeric_date,
        ),
        (
            re.compile(rf"\b(?P<d>\d{{1,2}})\s+de\s+(?P<month>{'|'.join(MONTHS)})\b", re.I),
            _say_day_of_month,
        ),
        (
            re.compile(
                r"(?<![\w:.,])(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s?(?P<ap>[ap])\.?\s?m\.?(?!\w)",
                re.I,
            ),
            _say_time_meridiem,
        ),
        (
            re.compile(
                r"(?<![\w:.,])(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])(?:\s?h\b)?"
                r"(?P<part>\s+de la (?:mañana|tarde|noche)|\s+del mediodía)?"
            ),
            _say_time_24,
        ),
        (re.compile(rf"(?P<sym>[$€£])\s?(?P<num>{_NUM})"), _say_money),
        (re.compile(rf"(?P<num>{_NUM})\s?(?P<sym>[$€£])"), _say_money),
        (re.compile(rf"(?<![\w.,])(?P<num>{_NUM})\s?%"), _say_percent),
        (
            re.compile(r"(?<![\w.,])\d{1,3}(?:\.\d{3})+(?:,\d+)?(?![\w.,])|\d+(?:,\d+)?"),
            _say_number,
        ),
    ]
