"""Turn-taking: deciding from voice activity when the caller starts, pauses and finishes."""

from callwright.turns.endpointer import (
    Endpointer,
    PauseStarted,
    SpeechResumed,
    SpeechStarted,
    TurnEnded,
    TurnEvent,
    TurnOptions,
)

__all__ = [
    "Endpointer",
    "PauseStarted",
    "SpeechResumed",
    "SpeechStarted",
    "TurnEnded",
    "TurnEvent",
    "TurnOptions",
]
