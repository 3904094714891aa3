"""Spanish slot phrases rewritten into the forms the slot extractors read.

A small grammar, not a phrase list: Spanish number words (0 to 9999, "mil novecientos
noventa"), weekdays, months, relative days ("mañana", "pasado mañana", "el próximo jueves"),
times ("a las diez y media de la mañana", "a la una menos cuarto", "al mediodía") and yes/no
("sí", "claro", "de acuerdo"; "no") become "Thursday", "December 10", "at 10:30 in the
morning", "yes". `flows.slots` then reads them like an English caller's words, with every rule
it has (dates in the past skipped, office hours, corrections). Words the grammar does not know
pass through unchanged, so names and reasons stay as said.
"""

from __future__ import annotations

import re
import unicodedata

from callwright.flows.slots import extract_yes_no

_UNITS = {
    "cero": 0,
    "un": 1,
    "uno": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
    "trece": 13,
    "catorce": 14,
    "quince": 15,
    "dieciseis": 16,
    "diecisiete": 17,
    "dieciocho": 18,
    "diecinueve": 19,
    "veinte": 20,
    "veintiun": 21,
    "veintiuno": 21,
    "veintiuna": 21,
    "veintidos": 22,
    "veintitres": 23,
    "veinticuatro": 24,
    "veinticinco": 25,
    "veintiseis": 26,
    "veintisiete": 27,
    "veintiocho": 28,
    "veintinueve": 29,
    "primero": 1,
}
# Seseo: Latin American speech (and Whisper writing it) says "z" and soft "c" as "s".
_UNITS |= {
    "dose": 12,
    "onse": 11,
    "trese": 13,
    "catorse": 14,
    "quinse": 15,
    "dies": 10,
    "dieziseis": 16,
}
_TENS = {
    "treinta": 30,
    "cuarenta": 40,
    "cincuenta": 50,
    "sesenta": 60,
    "setenta": 70,
    "ochenta": 80,
    "noventa": 90,
}
_HUNDREDS = {
    "cien": 100,
    "ciento": 100,
    "doscientos": 200,
    "trescientos": 300,
    "cuatrocientos": 400,
    "quinientos": 500,
    "seiscientos": 600,
    "setecientos": 700,
    "ochocientos": 800,
    "novecientos": 900,
}
WEEKDAYS = {
    "lunes": "Monday",
    "martes": "Tuesday",
    "miercoles": "Wednesday",
    "jueves": "Thursday",
    "viernes": "Friday",
    "sabado": "Saturday",
    "domingo": "Sunday",
}
MONTHS = {
    "enero": "January",
    "febrero": "February",
    "marzo": "March",
    "abril": "April",
    "mayo": "May",
    "junio": "June",
    "julio": "July",
    "agosto": "August",
    "septiembre": "September",
    "setiembre": "September",
    "octubre": "October",
    "noviembre": "November",
    "diciembre": "December",
}
_PERIODS = {"mañana": "morning", "tarde": "afternoon", "noche": "evening"}
# Ways of saying yes ("sí" is read in `canonical`, before accents are folded away).
_YES = (
    *("claro", "vale", "de acuerdo", "correcto", "exacto", "por supuesto", "perfecto"),
    *("esta bien", "eso es", "afirmativo", "adelante", "okey", "ok"),
)
_WORD = re.compile(r"\d+(?::\d{2})?|[a-zñ]+|[,.;!?]")


def fold(text: str) -> str:
    """Lower case without accents ("Miércoles" → "miercoles"); ñ is kept."""
    text = text.lower().replace("ñ", "\0")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return text.replace("\0", "ñ")


def without_accents(text: str) -> str:
    """`text` in plain letters, case kept ("María Núñez" → "Maria Nunez"), as names are
    matched by sound on plain letters."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _number_at(words: list[str], start: int) -> tuple[int, int] | None:
    """The number spelled from `words[start]` on, and how many words it took."""
    total, current, i, seen = 0, 0, start, False
    while i < len(words):
        word = words[i]
        if word in _UNITS and (not seen or (current % 10 == 0 and current % 100 >= 30)):
            current += _UNITS[word]
        elif word in _TENS and current % 100 == 0:
            current += _TENS[word]
        elif word in _HUNDREDS and current == 0:
            current = _HUNDREDS[word]
        elif word == "mil" and current < 1000 and total == 0:
            total, current = (current or 1) * 1000, 0
        elif word == "y" and seen and current % 10 == 0 and current % 100 >= 30:
            if i + 1 < len(words) and words[i + 1] in _UNITS and _UNITS[words[i + 1]] < 10:
                i += 1
                continue
            break
        else:
            break
        seen = True
        i += 1
    if not seen:
        return None
    return total + current, i - start


# "a las once" run together: the article's "s" starts the number ("a la sonse").
_LIAISON = re.compile(r"\b(la) s(once|onse|ocho|una)\b")


def numbers_to_digits(text: str) -> str:
    """Folds `text` and writes spelled Spanish numbers as digits: "mil novecientos noventa" →
    "1990"; "las diez y media" keeps "y media" (a time, read later)."""
    words = _WORD.findall(_LIAISON.sub(r"\1s \2", fold(text)))
    out: list[str] = []
    i = 0
    while i < len(words):
        # "una" after "a la"/"la" is one o'clock; elsewhere "una cita" is an article.
        if words[i] in ("un", "una") and not (out and out[-1] == "la"):
            out.append(words[i])
            i += 1
            continue
        found = _number_at(words, i)
        if found is None:
            out.append(words[i])
            i += 1
            continue
        value, used = found
        out.append(str(value))
        i += used
    return " ".join(out)


def _clock(words: str) -> str:
    """Times: "a las 10 y media de la manana" → "at 10:30 in the morning"."""
    words = re.sub(r"\b(?:al |el )?mediodia\b", " at noon ", words)
    words = re.sub(r"\b(\d{1,2}) y media\b", r"\1:30", words)
    words = re.sub(r"\b(\d{1,2}) y cuarto\b", r"\1:15", words)
    words = re.sub(r"\b(\d{1,2}) menos cuarto\b", lambda m: f"{(int(m[1]) - 2) % 12 + 1}:45", words)
    words = re.sub(r"\b(\d{1,2}) y (\d{1,2})\b(?! de)", lambda m: f"{m[1]}:{int(m[2]):02d}", words)
    words = re.sub(r"\b(?:a |sobre |hacia )?las? (\d{1,2}(?::\d{2})?)\b", r" at \1 ", words)
    words = re.sub(r"\b(?:de|por|en) la (mañana|tarde|noche)\b", _period, words)
    return words


def _period(match: re.Match[str]) -> str:
    return f" in the {_PERIODS[match[1]]} "


def _calendar(words: str) -> str:
    """Days: weekdays, "el 10 de diciembre", "mañana", "la semana que viene"."""
    words = re.sub(r"\bpasado mañana\b", " the day after tomorrow ", words)
    words = re.sub(r"\bmañana\b", " tomorrow ", words)
    words = re.sub(r"\bhoy\b", " today ", words)
    words = re.sub(r"\b(?:la )?(?:proxima semana|semana que viene)\b", " next week ", words)
    for spanish, english in WEEKDAYS.items():
        words = re.sub(rf"\b(?:el )?proximo {spanish}\b", f" next {english} ", words)
        words = re.sub(rf"\b(?:el )?{spanish} que viene\b", f" next {english} ", words)
        words = re.sub(rf"\b(?:el )?{spanish}\b", f" {english} ", words)
    months = "|".join(MONTHS)
    words = re.sub(
        rf"\b(?:el )?(?:dia )?(\d{{1,2}}) de ({months})(?: (?:de|del) (\d{{4}}))?\b",
        lambda m: f" {MONTHS[m[2]]} {m[1]}" + (f", {m[3]} " if m[3] else " "),
        words,
    )
    words = re.sub(r"\bel (?:dia )?(\d{1,2})\b(?! de)", lambda m: f" the {_nth(int(m[1]))} ", words)
    return words


def _nth(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _yes_no(words: str) -> str:
    """Answers: "sí", "claro", "de acuerdo" are yes; "no" before a pause, and "no" before a
    yes ("no es correcto"), are no; a "no" that negates a verb ("no puedo el lunes", "no sé")
    is no answer at all."""
    words = re.sub(r"\bsi\b(?= *(?:[,.;!?]|$|por favor|gracias|claro))", " yes ", words)
    words = re.sub(r"\bno (?:es |esta |me parece )?(?:correcto|bien|eso)\b", " no ", words)
    for cue in _YES:
        words = re.sub(rf"\b{cue}\b", " yes ", words)
    words = re.sub(r"\b(?:para nada|negativo|mejor no)\b", " no ", words)
    words = re.sub(r"\bno\b(?! *(?:[,.;!?]|$|gracias|yes\b|no\b))", " ne ", words)
    return re.sub(r"\bnaci\b|\bnacimiento\b|\bnacida?\b", " born ", words)


_ORDINALS = {
    "primer": "first",
    "primera": "first",
    "primero": "first",
    "segunda": "second",
    "segundo": "second",
    "tercera": "third",
    "tercero": "third",
    "ultima": "last",
    "ultimo": "last",
}


def _choices(words: str) -> str:
    """Picks among offers: "la primera" → "the first one"; "el primero de mayo" is a date."""
    return re.sub(
        rf"\b(?:la|el) ({'|'.join(_ORDINALS)})\b(?! de\b)(?: (?:opcion|hora))?",
        lambda m: f" the {_ORDINALS[m[1]]} one ",
        words,
    )


def canonical(text: str) -> str:
    """`text` with its Spanish slot phrases as the English forms `flows.slots` reads.

    "Sí, el jueves a las diez de la mañana" → "yes, Thursday at 10 in the morning".
    """
    # "sí" with its accent is always yes; without it, "si" is also "if" (see `_yes_no`).
    text = re.sub(r"(?<!\w)sí(?!\w)", " yes ", text, flags=re.I)
    spelled = _choices(fold(text))
    spelled = numbers_to_digits(spelled)
    spelled = re.sub(r"\b(\d{1,2}) (\d{2})\b(?= de la)", r"\1:\2", spelled)
    words = _yes_no(_calendar(_clock(spelled)))
    return re.sub(r"\s+([,.;!?])", r"\1", " ".join(words.split()))


def yes_or_no(text: str, language: str) -> bool | None:
    """Yes (True), no (False) or neither (None) in a call's language: a Spanish answer is read
    through `canonical`, whose yes and no are the English words `extract_yes_no` reads."""
    return extract_yes_no(canonical(text) if language == "es" else text)
