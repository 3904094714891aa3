"""SSML for synthesizers that take it, and its plain text for those that do not.

Only what a reply needs: `<speak>` documents or fragments with tags such as `<break>`,
`<say-as>`, `<sub>`, `<phoneme>`, `<emphasis>` and `<prosody>`. Stripping keeps the text,
reads `<sub alias>` as its alias and `<say-as>` as characters, digits, numbers or ordinals;
other tags are dropped with their text kept.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from callwright.tts.normalize.numbers import cardinal, digits, ordinal

_SSML_TAGS = (
    "speak|break|say-as|sub|phoneme|emphasis|prosody|p|s|lang|voice|audio|mark|w|amazon:[\\w-]+"
)
_TAG = re.compile(rf"</?(?:{_SSML_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)
_SPEAK = re.compile(r"</?speak(?:\s[^<>]*)?>", re.IGNORECASE)
_SUB = re.compile(r"<sub\s[^<>]*?alias\s*=\s*([\"'])(.*?)\1[^<>]*>.*?</sub>", re.I | re.S)
_SAY_AS = re.compile(
    r"<say-as\s[^<>]*?interpret-as\s*=\s*([\"'])(.*?)\1[^<>]*>(.*?)</say-as>", re.I | re.S
)
_BREAK = re.compile(r"<break\b[^<>]*/?>", re.IGNORECASE)


def is_ssml(text: str) -> bool:
    """Whether `text` is SSML: a `<speak>` document or text with SSML tags in it."""
    return "<" in text and _TAG.search(text) is not None


def as_document(text: str) -> str:
    """The SSML text as one `<speak>` document (a reply's pieces are fragments of one)."""
    return "<speak>" + _SPEAK.sub("", text).strip() + "</speak>"


def _say_as(match: re.Match[str]) -> str:
    kind, content = match.group(2).strip().lower(), html.unescape(match.group(3)).strip()
    number = content.replace(",", "")
    if kind in ("characters", "spell-out", "verbatim"):
        return " ".join(c for c in content if not c.isspace())
    if kind == "digits" and any(c.isdigit() for c in content):
        return digits(content)
    if kind in ("cardinal", "number") and number.lstrip("-").isdigit():
        return cardinal(int(number))
    if kind == "ordinal" and number.isdigit():
        return ordinal(int(number))
    return content  # telephone numbers, dates, times...: the normaliser reads them


# Elements whose text the voice must read as marked up, not as the normaliser would.
_VERBATIM = frozenset({"say-as", "sub", "phoneme"})
_TAG_NAME = re.compile(r"<\s*(/)?\s*([\w:-]+)[^<>]*?(/)?\s*>")


def map_text(text: str, say: Callable[[str], str]) -> str:
    """Applies `say` to the text between SSML tags (entities decoded, then re-escaped),
    leaving the tags and the content of `<say-as>`, `<sub>` and `<phoneme>` as they are.

    Each stretch of text is read on its own: context does not cross a tag.
    """
    out: list[str] = []
    verbatim = 0
    position = 0
    for tag in _TAG.finditer(text):
        out.append(_say_between(text[position : tag.start()], say, verbatim > 0))
        out.append(tag.group(0))
        name = _TAG_NAME.match(tag.group(0))
        if name is not None and name[2].lower() in _VERBATIM and not name[3]:
            verbatim = max(0, verbatim - 1) if name[1] else verbatim + 1
        position = tag.end()
    out.append(_say_between(text[position:], say, verbatim > 0))
    return "".join(out)


def _say_between(segment: str, say: Callable[[str], str], verbatim: bool) -> str:
    if verbatim or not segment.strip():
        return segment
    lead = segment[: len(segment) - len(segment.lstrip())]
    trail = segment[len(segment.rstrip()) :]
    return lead + html.escape(say(html.unescape(segment.strip())), quote=False) + trail


def strip_ssml(text: str) -> str:
    """The plain text of SSML: aliases and say-as readings applied, every tag removed."""
    text = _SUB.sub(lambda m: m.group(2), text)
    text = _SAY_AS.sub(_say_as, text)
    text = _BREAK.sub(", ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r",(\s*,)+", ",", text)
    return " ".join(text.split()).strip(" ,")
