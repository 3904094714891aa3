"""The echo canceller removes the agent's own voice and keeps the caller's."""

from __future__ import annotations

import numpy as np
import pytest

from callwright.agent.echo import EchoCanceller
from callwright.audio.resample import resample
from callwright.tts.espeak import EspeakTts


async def speech(text: str, voice: str) -> np.ndarray:
    tts = EspeakTts(voice=voice)
    audio = np.concatenate([c async for c in tts.synthesize(text)])
    return resample(audio, tts.sample_rate, 16000)


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-9)


def run_canceller(
    agent: np.ndarray, caller: np.ndarray, delay_ms: float, gain: float
) -> tuple[np.ndarray, np.ndarray]:
    """Plays `agent` as reference while the mic hears its delayed echo plus `caller`."""
    canceller = EchoCanceller(16000)
    delay = int(delay_ms * 16)
    n = max(agent.size + delay, caller.size)
    echo = np.zeros(n)
    echo[delay : delay + agent.size] = gain * agent
    mic = echo.copy()
    mic[: caller.size] += caller
    mic16 = np.clip(mic, -32768, 32767).astype(np.int16)
    out = []
    for i in range(0, n - 320, 320):
        if i < agent.size:
            canceller.add_reference(agent[i : i + 320], i / 16)
        out.append(canceller.process(mic16[i : i + 320], i / 16))
    cleaned = np.concatenate(out)
    return mic16[: cleaned.size], cleaned


@pytest.mark.parametrize("delay_ms", [40.0, 180.0, 450.0])
async def test_echo_alone_is_removed(delay_ms: float) -> None:
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    mic, cleaned = run_canceller(agent, np.zeros(0), delay_ms, gain=0.5)
    settle = 16 * 600  # the first estimate needs some echo to lock on
    assert rms_db(mic[settle:]) - rms_db(cleaned[settle:]) > 20.0


async def test_caller_speech_survives_double_talk() -> None:
    agent = await speech("We are open from eight in the morning to six in the evening.", "en-us")
    caller = await speech("Wait, stop. What is your address?", "en-us+f2")
    lead = np.zeros(16000)  # the caller starts talking one second into the agent's reply
    caller_at = np.concatenate([lead, caller]).astype(np.float64)
    _mic, cleaned = run_canceller(agent, caller_at, 120.0, gain=0.5)
    region = slice(16000 + 1600, 16000 + caller.size - 1600)
    kept = cleaned[region].astype(np.float64)
    target = caller_at[region]
    # What is left in the double-talk region is mostly the caller, not the echo.
    residual_error = rms_db(kept - target)
    assert rms_db(target) - residual_error > 10.0
