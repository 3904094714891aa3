"""Phone numbers, email and web addresses, abbreviations and symbols, as they are said."""

from __future__ import annotations

import re

from callwright.tts.normalize.lexicon import CAPITALISED_PLACEHOLDERS
from callwright.tts.normalize.numbers import digits

# --- phone numbers: digits read one by one, in the groups they are written in ---------------

# Country codes of two digits (those of one are 1 and 7; the rest have three).
_TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)
E164 = re.compile(r"(?<![\w+])\+(?P<number>\d[\d ().-]{6,18}\d)(?![\w-]|\.\d)")
NATIONAL_PHONE = re.compile(
    r"(?<![\w+(.-])(?P<number>(?:1[-. ])?(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-. ]\d{4})(?![\w-]|\.\d)"
)
LOCAL_PHONE = re.compile(r"(?<![\w.,:/$-])(?P<number>\d{3}-\d{4})(?![\w-]|\.\d)")


def _grouped(groups: list[str]) -> str:
    return ", ".join(digits(g) for g in groups if g)


def _international_groups(number: str) -> list[str]:
    if number[0] in "17":
        code_length = 1
    else:
        code_length = 2 if number[:2] in _TWO_DIGIT_CODES else 3
    code, rest = number[:code_length], number[code_length:]
    if code == "1" and len(rest) == 10:
        return [code, rest[:3], rest[3:6], rest[6:]]
    groups = [code]
    while len(rest) > 4:
        cut = 3 if len(rest) != 5 else 2
        groups.append(rest[:cut])
        rest = rest[cut:]
    return [*groups, rest]


def say_e164(match: re.Match[str]) -> str:
    """Says "+14155550123" → "plus one, four one five, five five five, zero one two three"."""
    written = match["number"]
    groups = [g for g in re.split(r"[ ().-]+", written) if g]
    if len(groups) == 1:
        groups = _international_groups(groups[0])
    return "plus " + _grouped(groups)


def say_national_phone(match: re.Match[str]) -> str:
    """Says "(415) 555-0123" → "four one five, five five five, zero one two three"."""
    return _grouped([g for g in re.split(r"[ ().-]+", match["number"]) if g])


# --- email and web addresses ------------------------------------------------------------------

_TLDS = (
    "com|org|net|edu|gov|mil|int|io|co|us|uk|ca|au|de|fr|es|it|nl|eu|in|ai|app|dev|info|biz|"
    "health|shop|store|care|me|tv|ly|so"
)
EMAIL = re.compile(r"(?<![\w.+-])(?P<user>[\w.+-]+)@(?P<domain>[\w-]+(?:\.[\w-]+)+)(?<!\.)\b")
URL = re.compile(
    r"(?<![\w@./-])(?P<scheme>https?://)?(?P<host>(?:[\w-]+\.)+(?:" + _TLDS + r"))\b"
    r"(?P<path>/(?:[\w./?=&%#~+-]*[\w/])?)?(?![\w@-])",
    re.IGNORECASE,
)
_SEPARATORS = {".": "dot", "-": "dash", "_": "underscore", "+": "plus", "/": "slash"}
_SEPARATORS |= {"?": "question mark", "=": "equals", "&": "and", "#": "hash", "%": "percent"}
_SEPARATORS |= {"~": "tilde", "@": "at"}
_ADDRESS_PART = re.compile(r"(\d+|[^\W\d_]+|.)")


def say_address_part(text: str) -> str:
    """Reads part of an address: words as words, digits one by one, separators by name."""
    spoken = []
    for part in _ADDRESS_PART.findall(text):
        if part.isdigit():
            spoken.append(digits(part))
        elif part in _SEPARATORS:
            spoken.append(_SEPARATORS[part])
        elif part.strip():
            spoken.append(part.lower() if part.isupper() and len(part) > 3 else part)
    return " ".join(spoken)


def say_email(match: re.Match[str]) -> str:
    """Says "jane.doe@maple-bakery.com" → "jane dot doe at maple dash bakery dot com"."""
    return f"{say_address_part(match['user'])} at {say_address_part(match['domain'])}"


def say_url(match: re.Match[str]) -> str:
    """Says "https://www.maple-bakery.com/book" as "w w w dot maple dash bakery dot com
    slash book"."""
    host = match["host"]
    spoken = ""
    if host.lower().startswith("www."):
        spoken, host = "w w w dot ", host[4:]
    spoken += say_address_part(host)
    if match["path"] and match["path"] != "/":
        spoken += " " + say_address_part(match["path"].rstrip("/"))
    return spoken


# --- abbreviations ------------------------------------------------------------------------

# Before a name they are titles, after a street name they are streets: "St. Mary St.".
_TITLE_OR_STREET = {"Dr": ("Doctor", "Drive"), "St": ("Saint", "Street")}
TITLE_OR_STREET = re.compile(
    rf"(?<![\w.])(?P<abbr>Dr|St)\b(?P<dot>\.)?(?P<next>\s+[A-Z{CAPITALISED_PLACEHOLDERS}][\w'-]*)?"
)
_CONTEXT_CHARS = 64
_BEFORE_STREET = re.compile(r"(?:\d[\w]*|[A-Z][\w'-]*)\s+$")
_BEFORE_STREET_NAME = re.compile(r"[A-Z][\w'-]*\s+$")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+)[A-Z][\w'-]*\s+$")

# Expanded only with their period, case as written.
_ABBREVIATIONS = {
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "Prof": "Professor",
    "Jr": "Junior",
    "Sr": "Senior",
    "Mt": "Mount",
    "Ft": "Fort",
    "Ave": "Avenue",
    "Blvd": "Boulevard",
    "Rd": "Road",
    "Ln": "Lane",
    "Ct": "Court",
    "Hwy": "Highway",
    "Apt": "Apartment",
    "apt": "apartment",
    "Ste": "Suite",
    "ext": "extension",
    "Ext": "Extension",
    "Dept": "Department",
    "dept": "department",
    "appt": "appointment",
    "Appt": "Appointment",
    "approx": "approximately",
    "Approx": "Approximately",
    "etc": "et cetera",
    "vs": "versus",
    "e.g": "for example",
    "i.e": "that is",
    "Inc": "Incorporated",
    "Ltd": "Limited",
    "Corp": "Corporation",
    "Jan": "January",
    "Feb": "February",
    "Mar": "March",
    "Apr": "April",
    "Jun": "June",
    "Jul": "July",
    "Aug": "August",
    "Sep": "September",
    "Sept": "September",
    "Oct": "October",
    "Nov": "November",
    "Dec": "December",
}
ABBREVIATION = re.compile(
    r"(?<![\w.])(?P<abbr>"
    + "|".join(re.escape(a) for a in sorted(_ABBREVIATIONS, key=len, reverse=True))
    + r")\.(?!\w)"
)
NUMBER_SIGN = re.compile(r"(?:(?<![\w.])No\.|#)\s?(?=[A-Za-z]{0,3}\d)")
# "500 N. Main St.": after a house number, a lone compass letter is a direction.
DIRECTION = re.compile(r"(?<=\d\s)(?P<letter>[NSEW])\.?(?=\s[A-Z])")
_DIRECTIONS = {"N": "North", "S": "South", "E": "East", "W": "West"}


def say_direction(match: re.Match[str]) -> str:
    """Says the "N." of "500 N. Main St." as "North"."""
    return _DIRECTIONS[match["letter"]]


# --- codes: digits said one by one ---------------------------------------------------------

# After these words a number is an identifier ("ZIP code 94110", "call 911"), not a count.
CODE_CONTEXT = re.compile(
    r"\b(?P<before>(?:code|ZIP|zip|PIN|ID|number|account|reference|confirmation|policy|member|"
    r"extension|call|Call|dial|Dial|text|Text)\s(?:is\s|was\s|:\s?)?)(?P<digits>\d{3,})(?![\d,.]\d)"
)
# Letters and digits in one token ("A1234", "ABC-12345"); two digits or fewer are left to the
# number rules ("COVID-19" is "COVID nineteen", "Q3" is "Q three").
ALPHANUMERIC_CODE = re.compile(
    r"(?<![\w-])(?=[\w-]*[A-Za-z])(?=(?:[\w-]*?\d){3})[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?![\w-])"
)
_DIGIT_RUN = re.compile(r"\d+")


def say_code_in_context(match: re.Match[str]) -> str:
    """Says "ZIP code 94110" as "ZIP code nine four one one zero"."""
    return match["before"] + digits(match["digits"])


def say_alphanumeric_code(match: re.Match[str]) -> str:
    """Says "ABC-12345" as "ABC one two three four five"."""
    spoken = _DIGIT_RUN.sub(lambda m: f" {digits(m.group(0))} ", match.group(0))
    return " ".join(spoken.replace("-", " ").split())


def say_title_or_street(match: re.Match[str]) -> str:
    """Says "Dr. Nguyen" → "Doctor Nguyen"; "Elm Dr." → "Elm Drive"; "St. Mary St." → both."""
    title, street = _TITLE_OR_STREET[match["abbr"]]
    # The words just before decide; a bounded window keeps long texts linear.
    before = match.string[max(0, match.start() - _CONTEXT_CHARS) : match.start()]
    after = match["next"] or ""
    street_name = _BEFORE_STREET_NAME.search(before) and not _SENTENCE_START.search(before)
    if after and not street_name:
        return title + after  # before a name, not after a street's name
    if not match["dot"] and not (street_name or _BEFORE_STREET.search(before)):
        return match.group(0)  # "St" or "Dr" alone, not after a name: leave it
    return street + after


def say_abbreviation(match: re.Match[str]) -> str:
    """Says "Ave." → "Avenue", "e.g." → "for example"."""
    return _ABBREVIATIONS[match["abbr"]]


# --- symbols ------------------------------------------------------------------------------

AMPERSAND = re.compile(r"\s&\s|(?<=[A-Za-z])&(?=[A-Za-z])")
WORD_SLASH = re.compile(r"(?<=[A-Za-z])/(?=[A-Za-z])")
PER = re.compile(r"(?<=\d)\s?/\s?(?=[A-Za-z])")  # "$45/hour" is forty-five dollars per hour
TIMES = re.compile(r"(?<=\d)\s?[x×]\s?(?=\d)")
APPROXIMATELY = re.compile(r"(?<!\S)~\s?(?=\d)")
PLUS_MINUS = re.compile(r"±\s?")
AT_SIGN = re.compile(r"\s@\s")
