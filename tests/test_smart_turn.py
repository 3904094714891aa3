"""Smart Turn v3.2 loads from Pipecat's wheel without Pipecat, on features computed here."""

from __future__ import annotations

import sys

import numpy as np

from callwright.turns.smart_turn import HOP, N_FFT, SAMPLE_RATE, SmartTurn, log_mel, model_path


def test_the_features_are_whisper_shaped_and_put_a_tone_in_its_band() -> None:
    seconds = 2.0
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    features = log_mel(0.5 * np.sin(2 * np.pi * 1000.0 * t))
    assert features.shape == (80, 800) and features.dtype == np.float32
    # The tone fills the last two seconds (shorter audio is padded in front); the frames
    # before it hold the floor, 8 (log10 units) below the peak, scaled as (x + 4) / 4.
    tone = features[:, -150:].mean(axis=1)
    assert features[:, :500].max() == features.min()
    # 1 kHz is mel 15 on Slaney's scale, which spans 0-45.25 up to 8 kHz over 80 filters:
    # filter i peaks at edge i + 1 of 82 evenly spaced, so the loudest is near 15 / 45.25 * 81 - 1.
    assert abs(int(np.argmax(tone)) - (15 / 45.245 * 81 - 1)) <= 1.0
    assert N_FFT == 400 and HOP == 160  # 25 ms windows every 10 ms


def test_the_model_loads_from_the_wheel_and_scores_audio_without_importing_pipecat() -> None:
    assert model_path() is not None, "pipecat-ai is installed by ./run.sh setup (--no-deps)"
    model = SmartTurn.load()
    assert model is not None
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(SAMPLE_RATE * 3) * 1000).astype(np.int16)
    score = model.probability(noise)
    assert 0.0 <= score <= 1.0
    assert not any(name == "pipecat" or name.startswith("pipecat.") for name in sys.modules)
