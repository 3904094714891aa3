"""The simulated speakerphone leaks the agent's audio into the microphone at a fixed delay on
the device's clock, however late the simulator's sender builds each frame."""

from __future__ import annotations

import numpy as np

from callwright.sim.speakerphone import SpeakerphoneEcho

RATE = 16000
FRAME = 320  # 20 ms


def tone(n: int) -> np.ndarray:
    return (8000 * np.sin(np.arange(n) * 0.05)).astype(np.int16)


def captured(echo: SpeakerphoneEcho, frames: int, start_s: float) -> np.ndarray:
    silence = np.zeros(FRAME, np.int16)
    return np.concatenate([echo.mix(silence, start_s + i * 0.02) for i in range(frames)])


def test_the_leak_is_the_played_audio_at_the_path_delay_on_the_device_clock() -> None:
    agent = tone(RATE)  # one second
    steady = SpeakerphoneEcho(gain=0.5, delay_ms=150.0, sample_rate=RATE)
    bursty = SpeakerphoneEcho(gain=0.5, delay_ms=150.0, sample_rate=RATE)
    for i in range(0, agent.size, FRAME):
        steady.received(agent[i : i + FRAME], 10.0 + i / RATE)  # 20 ms apart, as it plays
    bursty.received(agent[: RATE // 2], 10.0)  # the same audio in two bursts: it queues
    bursty.received(agent[RATE // 2 :], 10.1)
    # The microphone's frames are asked for by the instant each one stands for, whenever the
    # simulator gets round to building it.
    mic = captured(steady, 55, 10.0)
    assert np.array_equal(mic, captured(bursty, 55, 10.0))
    delay = int(0.150 * RATE)  # silence for the path's 150 ms, then the agent at half level
    assert not mic[:delay].any()
    expected = np.round(0.5 * agent[: mic.size - delay].astype(np.float32)).astype(np.int16)
    assert np.array_equal(mic[delay:], expected)


def test_audio_that_arrives_while_the_device_plays_queues_behind_it() -> None:
    echo = SpeakerphoneEcho(gain=1.0, delay_ms=0.0, sample_rate=RATE)
    first, second = tone(FRAME * 5), tone(FRAME * 5) // 2
    echo.received(first, 1.0)
    echo.received(second, 1.02)  # arrives while `first` still plays (a burst)
    mic = captured(echo, 10, 1.0)
    assert np.array_equal(mic, np.concatenate([first, second]))


def test_a_clear_drops_what_was_not_played() -> None:
    echo = SpeakerphoneEcho(gain=1.0, delay_ms=0.0, sample_rate=RATE)
    echo.received(tone(FRAME * 10), 1.0)
    echo.clear(1.06)
    mic = captured(echo, 10, 1.0)
    assert mic[: FRAME * 3].any() and not mic[FRAME * 3 :].any()
