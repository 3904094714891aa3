"""Interface of a speech synthesizer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import numpy as np


class TtsError(RuntimeError):
    """A synthesizer failed to produce audio for a text."""


class TextToSpeech(Protocol):
    """Synthesizes text, streaming audio as it is produced.

    Providers are shared by all calls; inference runs off the event loop. A provider that
    reads SSML (a text starting with `<speak>`) says so with a true `accepts_ssml` attribute;
    the others get plain text (`callwright.tts.normalize.accepts_ssml` reads the capability).
    """

    name: str
    sample_rate: int

    def synthesize(self, text: str) -> AsyncIterator[np.ndarray]:
        """Yields int16 mono chunks at `sample_rate`; raises TtsError on failure."""
        ...
