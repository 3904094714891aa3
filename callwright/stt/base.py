"""Interface of a speech recognizer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Transcript:
    """What the recognizer heard in one utterance.

    Attributes:
        text: the transcript, stripped.
        confidence: mean token probability in [0, 1], or None when the provider gives none.
        audio_ms: length of the audio that was transcribed.
        compute_ms: wall time the recognizer spent on it (queueing excluded).
    """

    text: str
    confidence: float | None
    audio_ms: float
    compute_ms: float


class SpeechToText(Protocol):
    """Transcribes whole utterances. Providers are shared by all calls and never block the loop."""

    name: str
    sample_rate: int

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        """Transcribes int16 mono samples at `sample_rate`."""
        ...
