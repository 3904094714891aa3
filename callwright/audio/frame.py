"""The unit of audio that moves through a call."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUPPORTED_RATES = (8000, 16000, 22050, 24000)


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A chunk of PCM16 mono audio placed on the call's audio timeline.

    Attributes:
        samples: int16 samples, mono.
        sample_rate: samples per second.
        timestamp_ms: start of the chunk in the call's audio timeline (caller audio: time since
            the first inbound sample; agent audio: time the chunk is due to be played).
    """

    samples: np.ndarray
    sample_rate: int
    timestamp_ms: float = 0.0

    @classmethod
    def from_pcm16(cls, data: bytes, sample_rate: int, timestamp_ms: float = 0.0) -> AudioFrame:
        """Builds a frame from little-endian PCM16 bytes (length must be even)."""
        if len(data) % 2:
            raise ValueError(f"PCM16 data must have an even number of bytes, got {len(data)}")
        return cls(np.frombuffer(data, dtype="<i2").astype(np.int16), sample_rate, timestamp_ms)

    def to_pcm16(self) -> bytes:
        """Little-endian PCM16 bytes."""
        return self.samples.astype("<i2", copy=False).tobytes()

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_ms(self) -> float:
        return 1000.0 * self.num_samples / self.sample_rate

    @property
    def end_ms(self) -> float:
        return self.timestamp_ms + self.duration_ms

    def as_float32(self) -> np.ndarray:
        """Samples scaled to [-1, 1), as the models want them."""
        return self.samples.astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Converts float audio in [-1, 1] to int16, clipping instead of wrapping."""
    return np.clip(np.rint(samples * 32767.0), -32768, 32767).astype(np.int16)
