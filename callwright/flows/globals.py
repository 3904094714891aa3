"""Intents that work in every node of every flow: a human, repeat, go back, never mind, bye."""

from __future__ import annotations

from typing import Literal

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


def match_global(text: str) -> GlobalIntent | None:
    """The global intent in `text`, if any."""
    return match_intent(text, GLOBAL_INTENTS)  # type: ignore[return-value]
