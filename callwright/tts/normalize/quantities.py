"""Numbers in context: money, percentages, units, ordinals, decades and plain numerals.

Each rule is a compiled pattern and a function that says its match; `SpeechNormalizer`
applies them in order, after dates, times and phone numbers have been read.
"""

from __future__ import annotations

import re

from callwright.tts.normalize.numbers import cardinal, decimal, digits, is_plural, ordinal, year

# A numeral: thousands commas ("1,250.50"), or plain digits with an optional fraction.
NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"

# symbol or code → (one major, many major, one minor, many minor); minor None: no subunit.
_CURRENCIES: dict[str, tuple[str, str, str | None, str | None]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", None, None),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "USD": ("US dollar", "US dollars", "cent", "cents"),
    "CAD": ("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": ("Australian dollar", "Australian dollars", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
    "GBP": ("pound", "pounds", "penny", "pence"),
    "JPY": ("yen", "yen", None, None),
}
_SCALES = {"k": "thousand", "K": "thousand", "M": "million", "mn": "million", "B": "billion"}
_SCALES |= {"bn": "billion", "thousand": "thousand", "million": "million"}
_SCALES |= {"billion": "billion", "trillion": "trillion"}

MONEY = re.compile(
    rf"(?<![\w$€£¥₹])(?P<neg>-)?(?P<sym>[$€£¥₹])\s?(?P<num>{NUM})"
    r"(?:\s(?P<word>thousand|million|billion|trillion)\b|(?P<abbr>k|K|M|mn|B|bn)\b)?"
)
MONEY_CODE = re.compile(
    rf"(?<![\w.])(?:(?P<pre>USD|CAD|AUD|EUR|GBP|JPY)\s?(?P<num1>{NUM})"
    rf"|(?P<num2>{NUM})\s?(?P<post>USD|CAD|AUD|EUR|GBP|JPY))\b"
)
CENTS_SIGN = re.compile(rf"(?<![\w.])(?P<num>{NUM})\s?¢")


def _say_money(number: str, currency: str, scale: str | None = None) -> str:
    one, many, minor_one, minor_many = _CURRENCIES[currency]
    if scale:
        return f"{decimal(number)} {scale} {many}"
    whole, _, fraction = number.replace(",", "").partition(".")
    units = int(whole) if whole else 0
    if minor_one is None or len(fraction) > 2 or not fraction.strip("0"):
        if fraction.strip("0"):
            return f"{decimal(number)} {many}"
        return f"{cardinal(units)} {one if units == 1 else many}"
    cents = int(fraction.ljust(2, "0"))
    minor = f"{cardinal(cents)} {minor_one if cents == 1 else minor_many}"
    if units == 0:
        return minor
    return f"{cardinal(units)} {one if units == 1 else many} and {minor}"


def say_money(match: re.Match[str]) -> str:
    """Says "$1,250.50" → "one thousand two hundred fifty dollars and fifty cents"."""
    scale = match.group("word") or (_SCALES[match.group("abbr")] if match.group("abbr") else None)
    spoken = _say_money(match.group("num"), match.group("sym"), scale)
    return ("minus " if match.group("neg") else "") + spoken


def say_money_code(match: re.Match[str]) -> str:
    """Says "100 USD" or "USD 100" → "one hundred US dollars"."""
    number = match.group("num1") or match.group("num2")
    return _say_money(number, match.group("pre") or match.group("post"))


def say_cents(match: re.Match[str]) -> str:
    """Says "25¢" → "twenty-five cents"."""
    number = match.group("num")
    return f"{decimal(number)} {'cents' if is_plural(number) else 'cent'}"


PERCENT = re.compile(rf"(?<![\w.])(?P<neg>-)?(?P<num>{NUM})\s?%")


def say_percent(match: re.Match[str]) -> str:
    """Says "2.5%" → "two point five percent"."""
    return ("minus " if match.group("neg") else "") + decimal(match.group("num")) + " percent"


# unit → (singular, plural); matched case-sensitively right after a numeral.
_UNITS: dict[str, tuple[str, str]] = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "l": ("liter", "liters"),
    "L": ("liter", "liters"),
    "hrs": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "h": ("hour", "hours"),
    "mins": ("minute", "minutes"),
    "min": ("minute", "minutes"),
    "sec": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "kW": ("kilowatt", "kilowatts"),
    "W": ("watt", "watts"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "TB": ("terabyte", "terabytes"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
}
_UNIT_ALTERNATION = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
UNIT = re.compile(rf"(?<![\w.])(?P<neg>-)?(?P<num>{NUM})\s?(?P<unit>{_UNIT_ALTERNATION})(?![\w/])")
DEGREES = re.compile(rf"(?<![\w.])(?P<neg>-)?(?P<num>{NUM})\s?°\s?(?P<scale>[FC]\b)?")


def say_unit(match: re.Match[str]) -> str:
    """Says "5 km" → "five kilometers", "1 lb" → "one pound"."""
    number = match.group("num")
    one, many = _UNITS[match.group("unit")]
    spoken = f"{decimal(number)} {many if is_plural(number) else one}"
    return ("minus " if match.group("neg") else "") + spoken


def say_degrees(match: re.Match[str]) -> str:
    """Says "72°F" → "seventy-two degrees Fahrenheit"."""
    number = match.group("num")
    spoken = decimal(number) + (" degrees" if is_plural(number) else " degree")
    scale = match.group("scale")
    if scale:
        spoken += " Fahrenheit" if scale == "F" else " Celsius"
    return ("minus " if match.group("neg") else "") + spoken


ORDINAL = re.compile(r"(?<![\w.,])(?P<num>\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)


def say_ordinal(match: re.Match[str]) -> str:
    """Says "22nd" → "twenty-second"."""
    return ordinal(int(match.group("num")))


DECADE = re.compile(
    r"(?<![\w.,])(?:(?P<century>1[1-9]|20)(?P<decade>\d0)|’?'?(?P<short>[1-9]0))s\b"
)


def say_decade(match: re.Match[str]) -> str:
    """Says "1990s" → "nineteen nineties", "80s" → "eighties"."""
    if match.group("short"):
        words = cardinal(int(match.group("short")))
    else:
        words = year(int(match.group("century") + match.group("decade")))
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


# Words after which a four-digit number is a year ("in 2026"), not a count.
YEAR_CONTEXT = re.compile(
    r"\b(?P<before>(?:in|In|since|Since|until|till|year|from|From|before|after|during|through|"
    r"January|February|March|April|May|June|July|August|September|October|November|December)"
    r",?\s)(?P<year>1[1-9]\d\d|20\d\d)(?![\d,.]\d|\w)"
)


def say_year(match: re.Match[str]) -> str:
    """Says "2026" in "since 2026" → "twenty twenty-six"."""
    return match.group("before") + year(int(match.group("year")))


FRACTION = re.compile(r"(?<![\w./,-])(?P<a>\d+)/(?P<b>\d+)(?![\w/]|\.\d)")


def say_fraction(match: re.Match[str]) -> str:
    """Says "3/4" as "three quarters"; numbers that are no proper fraction with a small
    denominator are said side by side ("24/7" is "twenty-four seven", "50/50", "20/20")."""
    a, b = int(match["a"]), int(match["b"])
    if not 0 < a < b <= 10:
        return f"{cardinal(a)} {cardinal(b)}"
    one, many = {2: ("half", "halves"), 4: ("quarter", "quarters")}.get(
        b, (ordinal(b), ordinal(b) + "s")
    )
    return f"{cardinal(a)} {one if a == 1 else many}"


NUMBER = re.compile(rf"(?<![\d.,])(?P<neg>(?<![\w])-)?(?P<num>{NUM})(?![\d])")
_LETTER_DIGIT = re.compile(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")


def say_number(match: re.Match[str]) -> str:
    """A numeral left over by the other rules: a count, a decimal or a code.

    Plain digit strings with a leading zero ("007") or of seven digits or more that are not
    round ("40213377") are codes and read digit by digit; numerals with commas are counts
    whatever their size; four digits from 1900 to 2099 are said like years ("in Q3 2025",
    "room 1905": "twenty twenty-five", "nineteen oh five").
    """
    number = match.group("num")
    if "," not in number and "." not in number:
        if len(number) == 4 and 1900 <= int(number) <= 2099 and not match.group("neg"):
            return year(int(number))
        if (len(number) > 1 and number.startswith("0")) or (
            len(number) >= 7 and not number.endswith("000")
        ):
            return digits(number)
    return ("minus " if match.group("neg") else "") + decimal(number)


def say_numbers(text: str) -> str:
    """Reads every numeral left in `text`, separating digits glued to letters first."""
    if not any(c.isdigit() for c in text):
        return text
    text = _LETTER_DIGIT.sub(" ", text)
    return NUMBER.sub(say_number, text)
