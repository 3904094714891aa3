"""CPU of the load generator's callers per 20 ms frame: scheduling the frames and reading the
agent's (µs of CPU time per caller and frame, so less sensitive to other load than wall time).

    python bench/load_caller_cost.py [--callers 100 300] [--seconds 3]

Scheduling: each caller sleeping until its own next frame (how the callers worked before) or
one frame clock per process (`sim/load_ticks.py`); the frame itself is a no-op here, so the
figure is the scheduling alone. Reading: `json.loads` of a server `media` message against
`media_payload_size`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callwright.sim.load_caller import media_payload_size
from callwright.sim.load_ticks import FRAME_S, FrameClock


async def _own_sleep(callers: int, seconds: float) -> int:
    frames = 0

    async def caller() -> None:
        nonlocal frames
        began, tick = time.monotonic(), 0
        while True:
            tick += 1
            await asyncio.sleep(max(0.0, began + tick * FRAME_S - time.monotonic()))
            frames += 1

    tasks = [asyncio.create_task(caller()) for _ in range(callers)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return frames


async def _frame_clock(callers: int, seconds: float) -> int:
    frames = 0
    clock = FrameClock()

    async def tick() -> bool:
        nonlocal frames
        frames += 1
        return True

    handles = [clock.join(tick) for _ in range(callers)]
    await asyncio.sleep(seconds)
    for handle in handles:
        clock.leave(handle)
    await asyncio.sleep(2 * FRAME_S)
    return frames


def _cpu_per_frame(
    run: Callable[[int, float], Coroutine[Any, Any, int]], callers: int, seconds: float
) -> float:
    start = time.process_time()
    frames = asyncio.run(run(callers, seconds))
    return (time.process_time() - start) / max(1, frames) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--callers", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"{'callers':>8} {'own sleep µs':>13} {'frame clock µs':>15}  (per caller and frame)")
    for n in args.callers:
        own = _cpu_per_frame(_own_sleep, n, args.seconds)
        shared = _cpu_per_frame(_frame_clock, n, args.seconds)
        print(f"{n:>8} {own:>13.1f} {shared:>15.1f}")
    media = {"event": "media", "streamSid": "MZ" + "0" * 32, "media": {"payload": "f" * 216}}
    text = json.dumps(media, separators=(",", ":"))
    rounds = 100_000
    start = time.process_time()
    for _ in range(rounds):
        len(json.loads(text)["media"]["payload"])
    parsed = (time.process_time() - start) / rounds * 1e6
    start = time.process_time()
    for _ in range(rounds):
        media_payload_size(text)
    scanned = (time.process_time() - start) / rounds * 1e6
    print(f"reading an agent frame: json.loads {parsed:.2f} µs,", end=" ")
    print(f"media_payload_size {scanned:.2f} µs")


if __name__ == "__main__":
    main()
