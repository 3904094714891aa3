"""What the clinic's agent must not handle, and who it hands callers to: the clinic's own
phrases for the framework's guardrails and handoff triggers (in English and Spanish)."""

from __future__ import annotations

from dataclasses import replace

from callwright.flows.guardrails import SPANISH_GUARDRAILS, GuardrailOptions
from callwright.handoff.triggers import EXPLICIT_CUES, EscalationOptions

# Medical questions a receptionist must not answer: they go to a person.
OUT_OF_SCOPE = (
    "prescription",
    "prescribe",
    "refill",
    "diagnose",
    "diagnosis",
    "test results",
    "lab results",
    "medical advice",
    "what medicine",
    "how much should i take",
    "dosage",
)
# The same in Spanish, written without accents (the guardrails compare without them).
OUT_OF_SCOPE_ES = (
    "receta",
    "recetar",
    "diagnostico",
    "diagnosticar",
    "resultados de",
    "consejo medico",
    "que medicamento",
    "cuanto debo tomar",
    "dosis",
)
# A clinic's callers ask for the desk by name.
ASK_FOR_THE_DESK = ("front desk", "receptionist")

GUARDRAILS = GuardrailOptions(out_of_scope=OUT_OF_SCOPE)
GUARDRAILS_ES = replace(SPANISH_GUARDRAILS, out_of_scope=OUT_OF_SCOPE_ES)
ESCALATION = EscalationOptions(
    explicit_cues=(*EXPLICIT_CUES, *ASK_FOR_THE_DESK), out_of_scope_cues=OUT_OF_SCOPE
)
