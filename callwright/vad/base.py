"""Interface of a voice activity detector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class VadWindow:
    """Speech probability of one analysis window, on the call's audio timeline."""

    start_ms: float
    end_ms: float
    probability: float


class VadStream(Protocol):
    """Per-call detector state. Feed audio in any chunk size; get one result per window."""

    sample_rate: int

    async def process(self, samples: np.ndarray, timestamp_ms: float) -> list[VadWindow]:
        """Consumes int16 samples at `sample_rate` starting at `timestamp_ms`.

        Returns the windows completed by this chunk (possibly none); leftover samples are kept
        for the next call.
        """
        ...

    def reset(self) -> None:
        """Forgets the recurrent state and buffered samples."""
        ...


class VoiceActivityModel(Protocol):
    """A loaded model shared by every call in the process."""

    def open_stream(self, sample_rate: int = 16000) -> VadStream:
        """Returns fresh per-call state."""
        ...
