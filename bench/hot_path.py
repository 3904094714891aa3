"""CPU per 20 ms frame of one phone call's hot path, step by step (µs, median of rounds).

    python bench/hot_path.py [--frames 5000] [--rounds 5]

Each step runs on the event loop for every frame of every call (Twilio Media Streams, µ-law
8 kHz, the pipeline at 16 kHz): the transport's decode, resampling, the echo canceller while
the agent talks (over a speakerphone's echo, and over a handset line's own noise at -64 dBFS,
also in replies of 4 s with the caller's 2 s between, as in a call),
the call's stereo recording, and the outbound encode. Run it against another
checkout (`PYTHONPATH=that/checkout`) to compare: the figures are CPU time on this process, so
they depend less on what else the machine runs than wall-clock figures do.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# This checkout, unless PYTHONPATH names another one to compare with.
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callwright.agent.echo import open_echo_canceller
from callwright.audio.frame import AudioFrame
from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.audio.resample import StreamResampler
from callwright.observe.audio_recording import StereoRecording

PHONE, PIPELINE = 8000, 16000


def _speechlike(n: int, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    tone = 4000 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (tone + rng.normal(0, 300, n)).astype(np.int16)


def _per_frame_us(make: Callable[[], Callable[[int], object]], frames: int, rounds: int) -> float:
    """Each round runs a fresh step (`make()`) over the frames: a call from its start."""
    runs = []
    for _ in range(rounds):
        step = make()
        start = time.process_time()
        for i in range(frames):
            step(i)
        runs.append((time.process_time() - start) / frames * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    frames, rounds = args.frames, args.rounds
    phone = _speechlike(frames * 160, PHONE, 1)
    agent16 = _speechlike(frames * 320, PIPELINE, 2)

    def media(i: int) -> str:
        payload = base64.b64encode(mulaw_encode(phone[i * 160 : (i + 1) * 160])).decode()
        chunk = {"track": "inbound", "chunk": str(i), "timestamp": str(20 * i), "payload": payload}
        return json.dumps({"event": "media", "streamSid": "MZ" + "0" * 32, "media": chunk})

    payloads = [media(i) for i in range(frames)]
    decoded = [mulaw_decode(phone[i * 160 : (i + 1) * 160].tobytes()) for i in range(frames)]

    def decode(i: int) -> object:
        message = json.loads(payloads[i])
        return mulaw_decode(base64.b64decode(message["media"]["payload"], validate=True))

    up = StreamResampler(PHONE, PIPELINE)
    mic = [up.process(d) // 8 for d in decoded]  # the agent's echo and a little noise

    def upsample() -> Callable[[int], object]:
        resampler = StreamResampler(PHONE, PIPELINE)
        return lambda i: resampler.process(decoded[i])

    def downsample() -> Callable[[int], object]:
        resampler = StreamResampler(PIPELINE, PHONE)
        return lambda i: resampler.process(agent16[i * 320 : (i + 1) * 320])

    rng = np.random.default_rng(3)
    hiss = [rng.normal(0, 20, 320).astype(np.int16) for _ in range(frames)]  # -64 dBFS

    def cancel(heard: list[np.ndarray]) -> Callable[[], Callable[[int], object]]:
        def make() -> Callable[[int], object]:  # while the agent talks
            echo = open_echo_canceller("webrtc", PIPELINE)

            def step(i: int) -> object:
                echo.add_reference(agent16[i * 320 : (i + 1) * 320], 20.0 * i)
                return echo.process(heard[i], 20.0 * i)

            return step

        return make

    def cancel_replies(heard: list[np.ndarray]) -> Callable[[], Callable[[int], object]]:
        def make() -> Callable[[int], object]:  # replies of 4 s, the caller's 2 s between
            echo = open_echo_canceller("webrtc", PIPELINE)

            def step(i: int) -> object:
                if i % 300 < 200:
                    echo.add_reference(agent16[i * 320 : (i + 1) * 320], 20.0 * i)
                return echo.process(heard[i], 20.0 * i)

            return step

        return make

    def recording(rate: int) -> Callable[[], Callable[[int], object]]:
        def make() -> Callable[[int], object]:
            rec = StereoRecording(PHONE, PHONE, rate)

            def step(i: int) -> object:  # settled audio is stored about once a second
                rec.caller(AudioFrame(decoded[i], PHONE, 20.0 * i))
                rec.agent(decoded[i], 20.0 * i)
                return rec.take_settled(20.0 * i - 500.0) if i % 50 == 0 else None

            return step

        return make

    def encode(i: int) -> object:
        payload = base64.b64encode(mulaw_encode(decoded[i])).decode("ascii")
        return json.dumps({"event": "media", "streamSid": "MZ", "media": {"payload": payload}})

    steps: list[tuple[str, Callable[[], Callable[[int], object]]]] = [
        ("decode: JSON, base64, µ-law", lambda: decode),
        ("resample 8 -> 16 kHz (caller)", upsample),
        ("resample 16 -> 8 kHz (agent)", downsample),
        ("echo canceller, agent talks: speakerphone echo", cancel(mic)),
        ("echo canceller, agent talks: handset line noise", cancel(hiss)),
        ("echo canceller, 4 s replies: handset line noise", cancel_replies(hiss)),
        ("stereo recording at 16 kHz (resampled)", recording(PIPELINE)),
        ("stereo recording at 8 kHz (the line's rate)", recording(PHONE)),
        ("encode: µ-law, base64, JSON", lambda: encode),
    ]
    print(f"{'step':48} µs per 20 ms frame (median of {rounds} x {frames} frames)")
    for name, make in steps:
        print(f"{name:48} {_per_frame_us(make, frames, rounds):8.1f}")


if __name__ == "__main__":
    main()
