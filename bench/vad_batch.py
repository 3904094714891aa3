"""Silero VAD for many calls at once: one executor hop and ONNX run per call and frame, against
the windows of all calls batched (what `vad/silero.py` does).

    python bench/vad_batch.py --calls 10 40 100 --seconds 5

Each call streams 20 ms chunks of speech in real time order (all calls interleaved, as the
event loop sees them). The table gives the process's CPU time (all threads) per second of call
audio, in milliseconds, and the wall time to get through the audio: CPU time is the figure
that holds on a shared machine, where wall time depends on the other work.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callwright.sim.espeak import espeak_clip
from callwright.vad.silero import SileroVadModel, SileroVadStream

CHUNK = 320  # 20 ms at 16 kHz


class OneByOne(SileroVadModel):
    """The previous behaviour: every stream's windows in an executor hop of their own."""

    async def _evaluate(
        self, windows: np.ndarray, context: np.ndarray, state: np.ndarray, sample_rate: int
    ) -> tuple[list[float], np.ndarray, np.ndarray]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._run_windows, windows, context, state, sample_rate
        )


async def feed_all(streams: list[SileroVadStream], audio: np.ndarray) -> None:
    """One 20 ms chunk per call per tick, all calls concurrently (as live calls would)."""
    for offset in range(0, audio.size - CHUNK, CHUNK):
        chunk = audio[offset : offset + CHUNK]
        await asyncio.gather(*(s.process(chunk, offset / 16.0) for s in streams))


def measure(model: SileroVadModel, calls: int, audio: np.ndarray) -> tuple[float, float]:
    streams = [model.open_stream(16000) for _ in range(calls)]
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(feed_all(streams, audio))
    seconds_of_audio = calls * audio.size / 16000
    cpu_ms = 1000.0 * (time.process_time() - cpu) / seconds_of_audio
    return cpu_ms, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 40, 100])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    speech = espeak_clip("I would like to book an appointment for next Tuesday, please.", 16000)
    audio = np.resize(speech, int(args.seconds * 16000))
    batched = SileroVadModel.load()
    alone = OneByOne(batched._session, batched._executor)
    print("calls | one by one: CPU ms per call-second, wall s | batched: CPU ms, wall s")
    for calls in args.calls:
        a_cpu, a_wall = measure(alone, calls, audio)
        b_cpu, b_wall = measure(batched, calls, audio)
        print(f"{calls:5d} | {a_cpu:8.2f} {a_wall:8.2f} | {b_cpu:8.2f} {b_wall:8.2f}")
    batched.close()


if __name__ == "__main__":
    main()
