"""The load callers' silence is a phone line's faint noise, not digital zero."""

from __future__ import annotations

import base64
import json
import math

import numpy as np

from callwright.audio.mulaw import mulaw_decode
from callwright.sim.load_caller import CallPlan, LoadCaller, Target
from callwright.sim.load_clips import line_noise


def _dbfs(samples: np.ndarray) -> float:
    rms = math.sqrt(float(np.mean(samples.astype(np.float64) ** 2)))
    return 20.0 * math.log10(rms / 32768.0)


def _phone_samples(payload: str) -> np.ndarray:
    return mulaw_decode(base64.b64decode(payload))


def test_line_noise_is_faint_noise_at_its_level_on_both_wires() -> None:
    phone, wide = line_noise(dbfs=-64.0, frames=20)
    assert len(phone) == len(wide) == 20
    decoded = [_phone_samples(p) for p in phone]
    assert all(d.size == 160 for d in decoded)  # 20 ms at 8 kHz
    assert all(len(w) == 640 for w in wide)  # 20 ms of 16 kHz PCM16
    everything = np.concatenate(decoded)
    # Near -64 dBFS after µ-law (its smallest steps are coarse, so a wider margin there).
    assert -66.0 < _dbfs(everything) < -61.0
    wide_samples = np.frombuffer(b"".join(wide), dtype="<i2")
    assert -64.5 < _dbfs(wide_samples) < -63.5
    # Never a frame of digital zero, and not one frame repeated.
    assert all(np.count_nonzero(d) > 80 for d in decoded)
    assert len(set(phone)) == len(phone) and len(set(wide)) == len(wide)
    # Well under anything speech-like: quieter than -54 dBFS in every single frame.
    assert max(_dbfs(d) for d in decoded) < -54.0


class CapturingSocket:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.binary: list[bytes] = []

    async def send_str(self, text: str) -> None:
        self.texts.append(text)

    async def send_bytes(self, data: bytes) -> None:
        self.binary.append(data)


async def test_a_caller_between_lines_sends_line_noise_out_of_step_with_other_calls() -> None:
    sockets = [CapturingSocket(), CapturingSocket()]
    callers = [LoadCaller(i, Target("http://x"), CallPlan(()), sink=None) for i in range(2)]  # type: ignore[arg-type]
    payloads: list[list[str]] = [[], []]
    for caller, ws, sent in zip(callers, sockets, payloads, strict=True):
        tick = position = 0
        for _ in range(60):
            tick, position = await caller._send_frame(ws, tick, position)  # type: ignore[arg-type]
        sent.extend(json.loads(t)["media"]["payload"] for t in ws.texts)
    for sent in payloads:
        assert len(sent) == 60
        samples = np.concatenate([_phone_samples(p) for p in sent])
        assert np.count_nonzero(samples) > samples.size // 2
        assert _dbfs(samples) < -54.0
        assert len(set(sent)) > 40  # a loop of many different frames, not one
    # Two calls at the same moment do not send the very same noise.
    assert sum(a == b for a, b in zip(payloads[0], payloads[1], strict=True)) < 10


async def test_a_native_caller_between_lines_sends_line_noise() -> None:
    ws = CapturingSocket()
    caller = LoadCaller(3, Target("http://x", transport="native"), CallPlan(()), sink=None)  # type: ignore[arg-type]
    tick = position = 0
    for _ in range(10):
        tick, position = await caller._send_frame(ws, tick, position)  # type: ignore[arg-type]
    samples = np.frombuffer(b"".join(ws.binary), dtype="<i2")
    assert samples.size == 10 * 320
    assert np.count_nonzero(samples) > samples.size // 2
    assert -66.0 < _dbfs(samples) < -62.0
