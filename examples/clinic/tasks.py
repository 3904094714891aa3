"""What the caller wants done: the clinic's task intents read by cue words and by meaning
(`callwright.flows.requests`), and the clinic's own rules on top of them.

The rules are about how callers say the clinic's tasks, not about particular phrasings:
Whisper's many takes on "reschedule" ("rescage"), a moving verb with the appointment ("move
it", "push that appointment") and a question of when about the caller's own appointment.
"""

from __future__ import annotations

import dataclasses

from callwright.flows.intents import words
from callwright.flows.requests import IntentVerdict, Recogniser
from examples.clinic.flow import TASK_INTENTS, TASK_ITEMS

# Cue words only: inside a task, and when no sentence embedder is installed.
BY_WORDS = Recogniser(TASK_INTENTS, TASK_ITEMS)
# What the receptionist calls each task when it asks which one the caller means.
TASK_NAMES = {
    "book": "book a new appointment",
    "reschedule": "move your appointment",
    "cancel": "cancel your appointment",
    "lookup": "check when your appointment is",
}
CREATING = frozenset(i.name for i in TASK_INTENTS if i.creates)

_MOVE_VERBS = frozenset({"move", "change", "shift", "push", "postpone", "switch", "bring"})
_APPOINTMENT_WORDS = frozenset({"appointment", "appointments", "booking", "visit", "it", "that"})


def task_intent(text: str) -> str | None:
    """What the caller wants done, by cue words; tolerant of Whisper's takes on "reschedule"."""
    verdict = BY_WORDS.decide(text)
    return _by_rule(text, verdict.intent) or verdict.intent


async def judge_task(recogniser: Recogniser, text: str) -> IntentVerdict:
    """What the caller wants done, by cue words and meaning (see `Recogniser.decide`)."""
    verdict = await recogniser.judge(text)
    ruled = _by_rule(text, verdict.intent)
    if ruled is None:
        return verdict
    return dataclasses.replace(verdict, intent=ruled, choices=(), how="cue")


def _by_rule(text: str, intent: str | None) -> str | None:
    """The task the clinic's own rules find, when they overrule `intent`."""
    said = words(text)
    if any(w.startswith(("resch", "resc", "re-sch")) for w in said):
        return "reschedule"
    if intent not in (None, "book"):
        return None
    # "appointment" alone reads as a booking; what the caller does with it decides.
    refers = [i for i, w in enumerate(said) if w in _APPOINTMENT_WORDS]
    if any(w in _MOVE_VERBS for w in said) and refers and "book" not in said:
        return "reschedule"  # "move that appointment to Wednesday", "can I move it?"
    asks_when = "when" in said or ("what" in said and ("time" in said or "day" in said))
    if asks_when and any(i > 0 and said[i - 1] in ("my", "next") for i in refers):
        return "lookup"  # "when my appointment is", "what time is my next appointment"
    return None
