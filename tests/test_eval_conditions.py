"""Audio conditions and caller voices of the eval suite, measured independently."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from callwright.sim.conditions import (
    CONDITIONS,
    EchoPath,
    FrameNetwork,
    NoiseSource,
    condition,
    insert_pause,
    phone_line,
)
from callwright.sim.voices import EVAL_VOICES, SPEECH_LEVEL_DBFS, active_rms, parse_voice


def _tone_speech(seconds: float = 2.0, rate: int = 16000) -> np.ndarray:
    """A speech-like test signal at the callers' speech level: 200 Hz harmonics, 4 Hz bursts."""
    t = np.arange(int(seconds * rate)) / rate
    voiced = sum(np.sin(2 * np.pi * 200 * k * t) / k for k in range(1, 12))
    bursts = (np.sin(2 * np.pi * 4 * t) > -0.3).astype(float)
    signal = voiced * bursts
    target = 32768 * 10 ** (SPEECH_LEVEL_DBFS / 20)
    active = signal[bursts > 0]
    return np.round(signal * target / np.sqrt(np.mean(active**2))).astype(np.int16)


@pytest.mark.parametrize("snr_db", [5.0, 15.0, 25.0])
def test_noise_is_at_the_requested_snr(snr_db: float) -> None:
    speech = _tone_speech()
    noise = NoiseSource(snr_db, seed=3)
    frames = [noise.mix(speech[i : i + 320]) for i in range(0, speech.size, 320)]
    mixed = np.concatenate(frames).astype(np.float64)
    added = mixed - speech.astype(np.float64)
    active = np.abs(speech) > 0
    # Speech power over its active part, as the level is defined; noise power over all of it.
    measured = 10 * np.log10(np.mean(speech[active].astype(np.float64) ** 2) / np.mean(added**2))
    assert abs(measured - snr_db) < 1.0


def test_noise_is_deterministic_for_a_seed_and_differs_between_seeds() -> None:
    a, b, c = NoiseSource(10, seed=1), NoiseSource(10, seed=1), NoiseSource(10, seed=2)
    assert np.array_equal(a.next(5000), b.next(5000))
    assert not np.array_equal(NoiseSource(10, seed=1).next(5000), c.next(5000))


def test_phone_line_removes_everything_above_4_khz_and_keeps_speech() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    low = 8000 * np.sin(2 * np.pi * 1000 * t)
    high = 8000 * np.sin(2 * np.pi * 6000 * t)
    out = phone_line(np.round(low + high).astype(np.int16)).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(out))
    freqs = np.fft.rfftfreq(out.size, 1 / rate)
    at = lambda f: spectrum[np.argmin(np.abs(freqs - f))]  # noqa: E731
    assert at(6000) < at(1000) / 100  # the 6 kHz tone is gone (> 40 dB down)
    assert at(1000) > 0.8 * np.abs(np.fft.rfft(low))[1000]  # the 1 kHz tone survives


def test_frame_network_loses_and_reorders_at_the_requested_rates() -> None:
    network: FrameNetwork[int] = FrameNetwork(loss=0.05, reorder=0.1, seed=7)
    delivered = [x for i in range(20000) for x in network.push(i)]
    lost = 20000 - len(set(delivered))
    assert abs(lost / 20000 - 0.05) < 0.01
    late = sum(1 for a, b in itertools.pairwise(delivered) if b < a)
    assert abs(late / 20000 - 0.1 * 0.95) < 0.02
    assert len(delivered) == len(set(delivered))  # nothing twice
    again: FrameNetwork[int] = FrameNetwork(loss=0.05, reorder=0.1, seed=7)
    assert [x for i in range(20000) for x in again.push(i)] == delivered


def test_echo_path_leaks_the_played_audio_with_its_delay_and_gain() -> None:
    echo = EchoPath(gain=0.5, delay_ms=60, sample_rate=8000)
    played = np.arange(1, 161, dtype=np.int16) * 10
    silence = np.zeros(160, np.int16)
    out = []
    for frame in [played, silence, silence, silence, silence]:
        out.append(echo.mix(silence))
        echo.played(frame)
    heard = np.concatenate(out)
    onset = int(np.nonzero(heard)[0][0])
    # Played over the first 20 ms of the timeline, heard 60 ms (480 samples at 8 kHz) later.
    assert onset == 480
    assert np.array_equal(heard[onset : onset + 160], np.round(played * 0.5).astype(np.int16))


def test_pause_goes_mid_phrase_never_after_a_comma_or_a_full_stop() -> None:
    # No phrase-opening word: the boundary nearest the middle that follows no punctuation
    # (after "July", not after "fourth," where a list item has ended).
    assert insert_pause("John Smith, July fourth, nineteen ninety.") == (
        "John Smith, July | fourth, nineteen ninety."
    )
    # After the phrase-opening word nearest the middle (ends at 15 or 23 of 39 characters;
    # at 13 or 21 of 33).
    assert insert_pause("I would like to see the doctor tomorrow") == (
        "I would like to see the | doctor tomorrow"
    )
    assert insert_pause("Thanks. I was born on the fourth.") == (
        "Thanks. I was | born on the fourth."
    )
    assert insert_pause("Yes please.") == "Yes please."


def test_conditions_are_known_by_name() -> None:
    assert {"clean", "phone", "lossy", "noisy", "speakerphone", "pauses", "talk_over"} <= set(
        CONDITIONS
    )
    with pytest.raises(KeyError, match="unknown condition 'windy'"):
        condition("windy")


def test_voice_names_parse_and_bad_ones_say_why() -> None:
    assert [parse_voice(v).name for v in EVAL_VOICES] == list(EVAL_VOICES)
    with pytest.raises(ValueError, match="flite voices are"):
        parse_voice("flite:bob")
    with pytest.raises(ValueError, match="expected espeak"):
        parse_voice("sapi:david")


@pytest.mark.parametrize("spec", ["festival:slt_hts", "flite:kal", "espeak:en-us+m3@165"])
async def test_each_engine_speaks_at_the_callers_level(spec: str) -> None:
    audio = await parse_voice(spec).speak("Hello, I would like to book an appointment.")
    assert audio.dtype == np.int16 and 1.0 < audio.size / 16000 < 6.0
    level = 20 * np.log10(active_rms(audio) / 32768)
    assert abs(level - SPEECH_LEVEL_DBFS) < 0.5
