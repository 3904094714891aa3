"""Intents that work in every node of every flow: a human, repeat, go back, never mind, bye."""

from __future__ import annotations

from typing import Literal

from callwright.flows import spanish
from callwright.flows.intents import Intent, intents_from, match_intent

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


def match_global(text: str, language: str = "en") -> GlobalIntent | None:
    """The global intent in `text`, if any (English and Spanish cues; English for others)."""
    if language == "es":
        text = spanish.fold(text)
    table = _GLOBAL_BY_LANGUAGE.get(language, GLOBAL_INTENTS)
    return match_intent(text, table)  # type: ignore[return-value]
