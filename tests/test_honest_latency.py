"""Honest time-to-first-audio: from the caller's last speech sample to the agent's first
audible sample, not from the VAD's decision to the first (possibly silent) frame."""

from __future__ import annotations

import asyncio

import numpy as np

from callwright.agent.caller_audio import CallerAudio
from callwright.agent.playout import Playout, PlayoutHooks
from callwright.sim.caller import first_audible_s

RATE = 16000


def tone(ms: float, amplitude: int, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(rate * ms / 1000)) / rate
    return (amplitude * np.cos(2 * np.pi * 220 * t)).astype(np.int16)  # loud from sample 0


def hiss(ms: float, amplitude: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-amplitude, amplitude + 1, int(RATE * ms / 1000)).astype(np.int16)


async def test_the_first_audio_mark_waits_for_an_audible_sample() -> None:
    sent: list[np.ndarray] = []
    marks: list[tuple[int, float, int]] = []

    async def send(frame: np.ndarray) -> None:
        sent.append(frame)

    def first(reply_id: int, offset_ms: float) -> None:
        marks.append((reply_id, offset_ms, len(sent)))

    playout = Playout(send, RATE, hooks=PlayoutHooks(on_first_frame=first))
    running = asyncio.create_task(playout.run())
    try:
        playout.begin_reply(7)
        # 110 ms of line noise under the floor, then speech: 5 whole frames of silence, and
        # the sixth frame's speech starts 10 ms in.
        playout.enqueue(np.concatenate([hiss(110, 40), tone(100, 6000)]), "Hello.")
        playout.close_reply()
        await asyncio.wait_for(playout.wait_drained(), 5.0)
    finally:
        running.cancel()
    assert marks == [(7, 10.0, 6)]
    assert all(np.abs(f.astype(np.int32)).max() <= 64 for f in sent[:5])


def held(*parts: np.ndarray) -> CallerAudio:
    audio = CallerAudio(RATE)
    audio.append(np.concatenate(parts), 0.0)
    return audio


def test_the_last_speech_sample_is_found_after_a_vad_that_stopped_early() -> None:
    # Speech 500-1300 ms, of which the last 60 ms is a quiet consonant the VAD missed.
    audio = held(hiss(500, 20), tone(740, 8000), tone(60, 500), hiss(700, 20))
    assert audio.last_speech_ms(500.0, vad_end_ms=1240.0) == 1300.0


def test_the_last_speech_sample_is_found_before_a_vad_that_hung_on() -> None:
    audio = held(hiss(500, 20), tone(800, 8000), hiss(700, 20))
    assert audio.last_speech_ms(500.0, vad_end_ms=1364.0) == 1300.0


def test_line_noise_is_not_speech() -> None:
    # A noisy line: its hiss is louder than 2 % of the speech, but it is the floor.
    audio = held(hiss(500, 300), tone(800, 8000) + hiss(800, 300, seed=2), hiss(700, 300, 3))
    assert abs(audio.last_speech_ms(500.0, vad_end_ms=1332.0) - 1300.0) <= 10.0


def test_without_held_audio_the_vad_end_stands() -> None:
    assert CallerAudio(RATE).last_speech_ms(0.0, vad_end_ms=900.0) == 900.0


def test_the_caller_hears_the_agent_from_its_first_audible_sample() -> None:
    frame = np.concatenate([hiss(12.5, 30, seed=4), tone(7.5, 5000)])
    assert first_audible_s(frame, RATE) == 0.0125
    assert first_audible_s(hiss(20, 30), RATE) is None
