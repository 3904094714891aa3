"""Interface of a speech recognizer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the recognizer heard in one utterance.

    Attributes:
        text: the transcript, stripped.
        confidence: mean token probability in [0, 1], or None when the provider gives none.
        audio_ms: length of the audio that was transcribed.
        compute_ms: wall time the recognizer spent on it (queueing excluded).
        language: the language the words were heard in, when the recognizer chose it among
            several (`DetectsLanguage`); None otherwise.
    """

    text: str
    confidence: float | None
    audio_ms: float
    compute_ms: float
    language: str | None = None


class SpeechToText(Protocol):
    """Transcribes whole utterances. Providers are shared by all calls and never block the loop."""

    name: str
    sample_rate: int

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        """Transcribes int16 mono samples at `sample_rate`."""
        ...


@runtime_checkable
class DetectsLanguage(Protocol):
    """A recognizer that also tells which of several languages an utterance is in."""

    async def transcribe_detecting(
        self, samples: np.ndarray, languages: Sequence[str], current: str
    ) -> Transcript:
        """Transcribes in the language of `languages` the audio is in, keeping `current`
        unless the audio is clearly another; the transcript's `language` says which."""
        ...


@runtime_checkable
class HasQueue(Protocol):
    """A recognizer whose requests wait for a shared pool (the embedded Whisper): how long they
    wait says whether it keeps up with the calls (`/readyz`, server/load.py)."""

    def queue_wait_ms(self, window_s: float) -> float:
        """The wait before a request starts, p95 over the last `window_s` (stt/queue_waits.py)."""
        ...
