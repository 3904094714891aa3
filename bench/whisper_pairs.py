"""How soon a transcript comes, and at what CPU, when utterances end together.

An embedded worker's calls share one Whisper pool. This bench transcribes phone-band clips
(two flite voices, eight clinic lines) one, two and three at a time, as turns of several calls
ending together would, through `WhisperStt` with the given pool: its workers, the threads of
an inference beside others, and the threads of one that starts alone (`solo_threads`, a
second instance of the weights). Prints latency p50/p90/max and CPU per utterance.

Run from the repository root:

    .venv/bin/python bench/whisper_pairs.py --pools 1x2,2x1,2x1+2
    # WORKERSxTHREADS[+SOLO_THREADS]: 1x2 is one inference at a time on two threads
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# Running as a script puts bench/ (not the repository root) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.whisper_batch import LINES as BATCH_LINES
from callwright.sim.conditions import phone_line
from callwright.sim.voices import parse_voice
from callwright.stt.whisper import WhisperOptions, WhisperStt

# whisper_batch's clinic lines but its last, and a short answer of the kind turns often are.
LINES = (*BATCH_LINES[:7], "Yes, that's right.")
VOICES = ("flite:slt", "flite:kal")


def parse_pool(spec: str) -> WhisperOptions:
    """ "2x1+2" → 2 workers, 1 thread each, 2 threads for an inference alone."""
    pool, _, solo = spec.partition("+")
    workers, _, threads = pool.partition("x")
    return WhisperOptions(
        workers=int(workers), cpu_threads=int(threads), solo_threads=int(solo or threads)
    )


async def measure(options: WhisperOptions, clips: list[np.ndarray], rounds: int) -> list[str]:
    stt = WhisperStt.load(options)
    await stt.warm_up()
    rows = []
    try:
        for together in (1, 2, 3):
            latencies: list[float] = []
            cpu_before = time.process_time()
            for _ in range(rounds):
                for i in range(0, len(clips), together):

                    async def one(audio: np.ndarray) -> float:
                        started = time.perf_counter()
                        await stt.transcribe(audio)
                        return 1000.0 * (time.perf_counter() - started)

                    group = clips[i : i + together]
                    latencies += await asyncio.gather(*(one(a) for a in group))
            cpu = 1000.0 * (time.process_time() - cpu_before) / len(latencies)
            latencies.sort()
            p90 = latencies[int(0.9 * (len(latencies) - 1))]
            rows.append(
                f"{together:>8} {statistics.median(latencies):>8.0f} {p90:>6.0f} "
                f"{latencies[-1]:>6.0f} {cpu:>8.0f}"
            )
    finally:
        stt.close()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", default="1x2,2x1,2x1+2")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    clips = [phone_line(await parse_voice(v).speak(line)) for v in VOICES for line in LINES]
    print(f"{len(clips)} utterances, {args.rounds} rounds; latency and CPU in ms per utterance")
    print(f"{'pool':8} {'together':>8} {'p50':>8} {'p90':>6} {'max':>6} {'CPU':>8}")
    for spec in args.pools.split(","):
        for row in await measure(parse_pool(spec), clips, args.rounds):
            print(f"{spec:8} {row}")


if __name__ == "__main__":
    asyncio.run(main())
