"""Deterministic rules that run before any understanding: emergencies, abuse, out of scope.

They are plain phrase lists on purpose: a rule that decides "tell the caller to dial 911"
must be predictable, testable and the same with or without an LLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from callwright.flows import spanish
from callwright.flows.intents import find_cue, words

Verdict = Literal["emergency", "abuse", "out_of_scope"]

EMERGENCY_CUES = (
    "chest pain",
    "chest pains",
    "pain in my chest",
    "can't breathe",
    "cannot breathe",
    "can not breathe",
    "trouble breathing",
    "not breathing",
    "stopped breathing",
    "heart attack",
    "having a stroke",
    "unconscious",
    "passed out",
    "bleeding badly",
    "bleeding heavily",
    "won't stop bleeding",
    "overdose",
    "kill myself",
    "suicide",
    "seizure",
)
ABUSE_CUES = ("fuck", "fucking", "shit", "bitch", "asshole", "bastard", "idiot", "stupid bot")


@dataclass(frozen=True, slots=True)
class GuardrailOptions:
    """The phrases each rule reacts to; replace them to adapt the agent to another domain.

    Emergencies and abuse are the same everywhere; what is out of scope is the agent's own
    (prescriptions at a doctor's office, investment advice at a bank), so no topic is by default.
    """

    emergency: Sequence[str] = EMERGENCY_CUES
    abuse: Sequence[str] = ABUSE_CUES
    out_of_scope: Sequence[str] = ()


# The same in Spanish, written without accents (check the text through
# `flows.spanish.without_accents`: "no puedo respirar", "sangrando mucho").
EMERGENCY_CUES_ES = (
    "dolor en el pecho",
    "dolor de pecho",
    "me duele el pecho",
    "no puedo respirar",
    "no puede respirar",
    "dificultad para respirar",
    "no respira",
    "ataque al corazon",
    "infarto",
    "derrame cerebral",
    "inconsciente",
    "se ha desmayado",
    "se desmayo",
    "sangrando mucho",
    "no para de sangrar",
    "sobredosis",
    "matarme",
    "suicidarme",
    "suicidio",
    "convulsiones",
    "convulsion",
)
ABUSE_CUES_ES = ("mierda", "puta", "puto", "cabron", "gilipollas", "imbecil", "idiota")


SPANISH_GUARDRAILS = GuardrailOptions(EMERGENCY_CUES_ES, ABUSE_CUES_ES)


@dataclass(slots=True)
class Guardrails:
    """Checks each caller turn before anything else sees it."""

    options: GuardrailOptions = field(default_factory=GuardrailOptions)

    def check(self, text: str) -> Verdict | None:
        """The first rule `text` trips, in order of severity, or None (accents ignored)."""
        tokens = words(spanish.without_accents(text))
        for verdict, cues in (
            ("emergency", self.options.emergency),
            ("abuse", self.options.abuse),
            ("out_of_scope", self.options.out_of_scope),
        ):
            if find_cue(tokens, cues) is not None:
                return verdict  # type: ignore[return-value]
        return None
