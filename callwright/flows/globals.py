"""Intents that work in every node of every flow: a human, repeat, go back, never mind, bye."""

from __future__ import annotations

import re
from typing import Literal

from callwright.flows import spanish
from callwright.flows.intents import Intent, intents_from, match_intent, words

GlobalIntent = Literal["human", "repeat", "back", "abort", "goodbye"]

# Priority order: "no thanks, goodbye" is a goodbye, "go back" beats the rest.
GLOBAL_INTENTS: list[Intent] = intents_from(
    {
        "human": [
            "human",
            "real person",
            "a person",
            "that person",
            "speak to someone",
            "talk to someone",
            "speak with someone",
            "receptionist",
            "front desk",
            "operator",
            "representative",
            "somebody real",
            "agent please",
        ],
        "goodbye": [
            "goodbye",
            "good bye",
            "bye",
            "that's all",
            "that is all",
            "nothing else",
            "hang up",
        ],
        "repeat": [
            "repeat that",
            "say that again",
            "say it again",
            "come again",
            "pardon",
            "didn't catch",
            "didn't hear",
            "what did you say",
            "repeat",
        ],
        "back": ["go back", "change my answer", "previous question", "back up"],
        "abort": [
            "never mind",
            "nevermind",
            "forget it",
            "start over",
            "stop that",
            "scratch that",
        ],
    }
)


# The same in Spanish, matched on the words without accents ("adiós" → "adios").
GLOBAL_INTENTS_ES: list[Intent] = intents_from(
    {
        "human": [
            "una persona",
            "persona real",
            "hablar con alguien",
            "recepcion",
            "recepcionista",
            "operador",
            "operadora",
            "un agente",
        ],
        "goodbye": ["adios", "hasta luego", "eso es todo", "nada mas", "colgar"],
        "repeat": [
            "repite",
            "repita",
            "repetir",
            "repetirlo",
            "repitalo",
            "repitelo",
            "otra vez",
            "no entendi",
            "no le entendi",
            "no escuche",
            "como dice",
        ],
        "back": ["volver atras", "cambiar mi respuesta", "pregunta anterior"],
        "abort": ["olvidalo", "olvidelo", "dejalo", "empezar de nuevo", "no importa"],
    }
)
_GLOBAL_BY_LANGUAGE = {"en": GLOBAL_INTENTS, "es": GLOBAL_INTENTS_ES}


# How a question opens, in each language (Whisper often leaves out the question mark).
_QUESTION_OPENERS = {
    "en": frozenset(
        """where what when how who which why whose can could do does did is are will would
        should may""".split()
    ),
    "es": frozenset("donde que cuando como quien cual cuales cuanto cuanta puedo puede".split()),
}


def match_global(text: str, language: str = "en") -> GlobalIntent | None:
    """The global intent in `text`, if any (English and Spanish cues; English for others).

    A goodbye followed by a question is not the end of the call (`question_after_goodbye`).
    """
    if language == "es":
        text = spanish.fold(text)
    table = _GLOBAL_BY_LANGUAGE.get(language, GLOBAL_INTENTS)
    intent = match_intent(text, table)
    if intent == "goodbye" and question_after_goodbye(text, language) is not None:
        return None
    return intent  # type: ignore[return-value]


def question_after_goodbye(text: str, language: str = "en") -> str | None:
    """The question a caller asks after saying goodbye, or None.

    "Bye, where exactly are you located?" is a greeting misheard ("Hi") or a last question:
    either way the caller waits for the answer, which is about the words after the goodbye.

    Returns:
        The words after the last goodbye when they open a question or end with "?".
    """
    if language == "es":
        text = spanish.fold(text)
    table = _GLOBAL_BY_LANGUAGE.get(language, GLOBAL_INTENTS)
    cues = next(intent.cues for intent in table if intent.name == "goodbye")
    lowered = text.lower().replace("\u2019", "'")
    ends = [
        m.end()
        for cue in cues
        for m in re.finditer(rf"(?<![a-z']){re.escape(cue)}(?![a-z'])", lowered)
    ]
    if not ends:
        return None
    rest = text[max(ends) :].strip(" ,.;:!-")
    tokens = words(rest)
    openers = _QUESTION_OPENERS.get(language, _QUESTION_OPENERS["en"])
    if tokens and (rest.endswith("?") or tokens[0] in openers):
        return rest
    return None
