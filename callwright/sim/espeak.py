"""Synchronous espeak-ng speech for tests and benchmarks that need a clip, not a stream."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from callwright.audio.resample import resample
from callwright.audio.wav import read_wav


def espeak_clip(
    text: str, sample_rate: int = 16000, voice: str = "en-us+f2", words_per_minute: int = 150
) -> np.ndarray:
    """Synthesizes `text` with espeak-ng as int16 mono samples at `sample_rate`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), "--", text],
            check=True,
            capture_output=True,
        )
        audio, rate = read_wav(path)
    return resample(audio, rate, sample_rate)
