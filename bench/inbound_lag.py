"""How far behind real time calls run when each caller frame waits on the shared VAD round.

    python bench/inbound_lag.py --calls 25 --seconds 20 --work-us 600

N calls in one event loop, each sent a 20 ms frame of faint line noise on an absolute real-time
schedule; each call handles its frames in order through the worker's Silero VAD (one batch
across calls per executor round, as in a worker) plus `--work-us` of CPU on the loop per frame
(the rest of a worker's per-frame work: decoding, resampling, the echo check). Printed per mode:
how far behind the newest frame each call's handling was at the end (p50 / p95 / max, ms) and
the loop's CPU. `per-frame` takes one frame per round (the code before); `merged` takes the
frames that waited as one chunk (`agent/inbound.py`). Figures compare only within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np

from callwright.agent.inbound import InboundReader
from callwright.audio.frame import AudioFrame
from callwright.sim.load_clips import line_noise
from callwright.transports.base import AudioIn, InboundEvent
from callwright.vad.silero import SileroVadModel

FRAME_S = 0.02
RATE = 16000


def _noise_frames() -> list[np.ndarray]:
    _phone, wide = line_noise()
    return [np.frombuffer(w, dtype="<i2").astype(np.int16) for w in wide]


async def _frames(index: int, seconds: float, began: float) -> AsyncIterator[InboundEvent]:
    noise = _noise_frames()
    count = int(seconds / FRAME_S)
    for n in range(count):
        # An absolute schedule, spread over the period: a late frame goes out at once.
        due = began + n * FRAME_S + (index % 4) * FRAME_S / 4
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        yield AudioIn(AudioFrame(noise[(n + index) % len(noise)], RATE, n * 20.0))


def _busy(us: float) -> None:
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


async def _call(
    model: SileroVadModel, index: int, args: argparse.Namespace, merged: bool, began: float
) -> float:
    stream = model.open_stream(RATE)
    handled_ms = 0.0

    async def nothing(_event: InboundEvent) -> None:
        return None

    source = _frames(index, args.seconds, began)
    events: AsyncIterator[InboundEvent] = (
        InboundReader(source, nothing).events() if merged else source
    )
    async for event in events:
        if isinstance(event, AudioIn):
            frames = event.frame.num_samples / (RATE * FRAME_S)
            _busy(args.work_us * frames)
            await stream.process(event.frame.samples, event.frame.timestamp_ms)
            handled_ms = event.frame.end_ms
    # Behind: the audio sent by the end against the audio handled when the last frame was.
    finished = (time.monotonic() - began) * 1000.0
    return max(0.0, finished - handled_ms)


async def _run(args: argparse.Namespace, merged: bool) -> tuple[list[float], float]:
    model = SileroVadModel.load()
    try:
        cpu0 = time.process_time()
        began = time.monotonic() + 0.2
        behind = await asyncio.gather(
            *(_call(model, i, args, merged, began) for i in range(args.calls))
        )
        return list(behind), 100.0 * (time.process_time() - cpu0) / args.seconds
    finally:
        model.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--work-us", type=float, default=600.0)
    args = parser.parse_args()
    print(f"{args.calls} calls, {args.seconds:.0f} s, {args.work_us:.0f} us of loop work a frame")
    print("mode       behind p50 / p95 / max (ms)   process CPU %")
    for merged in (False, True):
        behind, cpu = asyncio.run(_run(args, merged))
        p50, p95 = np.percentile(behind, [50, 95])
        name = "merged" if merged else "per-frame"
        print(f"{name:10} {p50:8.0f} / {p95:6.0f} / {max(behind):6.0f}   {cpu:10.0f}")


if __name__ == "__main__":
    main()
