"""The `callwright load` command: options, the run (in one or several processes), the outputs.

    callwright load --url http://127.0.0.1:8765 --calls 40 --step-calls 5 --step-seconds 30

The callers always run in processes of their own, apart from the server's; `--processes N`
spreads them over N processes when one event loop cannot drive them all (the report says so).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from callwright.sim.load import LoadBins, LoadOptions, StepBin, run_load
from callwright.sim.load_caller import Target
from callwright.sim.load_clips import DEFAULT_LINES, DEFAULT_VOICES, Clip, prepare_clips
from callwright.sim.load_report import build_report, print_table, write_outputs


def add_parser(sub: Any) -> None:
    load = sub.add_parser("load", help="ramp simulated phone calls against a running server")
    load.add_argument("--url", default="http://127.0.0.1:8765", help="the server (http://)")
    load.add_argument("--transport", choices=["twilio", "native"], default="twilio")
    load.add_argument("--calls", type=int, default=10, help="live calls at the top of the ramp")
    load.add_argument("--step-calls", type=int, default=2, help="calls added per step")
    load.add_argument("--step-seconds", type=float, default=30.0)
    load.add_argument("--duration", type=float, help="seconds (default: the whole ramp)")
    load.add_argument("--max-placed", type=int, help="calls placed at most over the run")
    load.add_argument("--processes", type=int, default=1, help="caller processes")
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--line", action="append", help="a caller line (repeatable); the last "
                      "one is only said to close a call")  # fmt: skip
    load.add_argument("--voice", action="append", help="a caller voice, engine:voice[@wpm]")
    load.add_argument("--ttfa-p95-ms", type=float, default=1000.0, help="capacity objective")
    load.add_argument("--lag-p95-ms", type=float, help="capacity objective: frame lag p95")
    load.add_argument("--out", type=Path, default=Path("load.json"))
    load.add_argument("--plot", type=Path, default=Path("load.png"))
    load.add_argument("--api-key", help="for the native WebSocket (env CALLWRIGHT_API_KEY)")
    load.add_argument("--metrics-token", help="for /v1/load (env CALLWRIGHT_METRICS_TOKEN)")
    load.add_argument("--twilio-auth-token", help="env CALLWRIGHT_TWILIO_AUTH_TOKEN")
    load.add_argument("--public-url", help="the server's public address, if it signs for one "
                      "(env CALLWRIGHT_PUBLIC_BASE_URL)")  # fmt: skip


def _target(args: argparse.Namespace) -> Target:
    env = os.environ
    return Target(
        base_url=args.url,
        transport=args.transport,
        api_key=args.api_key or env.get("CALLWRIGHT_API_KEY"),
        twilio_auth_token=args.twilio_auth_token or env.get("CALLWRIGHT_TWILIO_AUTH_TOKEN"),
        public_url=args.public_url or env.get("CALLWRIGHT_PUBLIC_BASE_URL"),
    )


def _child(job: tuple[Target, list[Clip], LoadOptions, float, bool]) -> dict[str, Any]:
    target, clips, options, started, poll = job
    return asyncio.run(run_load(target, clips, options, started=started, poll_server=poll))


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One run's raw figures from several processes' (steps are aligned on one start)."""
    first = parts[0]
    bins: LoadBins = first["bins"]
    for part in parts[1:]:
        for mine, theirs in zip(bins.bins, part["bins"].bins, strict=True):
            _merge_bin(mine, theirs)
        first["outcomes"].extend(part["outcomes"])
    return first


def _merge_bin(mine: StepBin, theirs: StepBin) -> None:
    for name in ("ttfa_ms", "late_ms", "jitter_ms", "server_lag_ms", "generator_lag_ms"):
        getattr(mine, name).extend(getattr(theirs, name))
    width = min(len(mine.live), len(theirs.live))
    mine.live = [a + b for a, b in zip(mine.live[:width], theirs.live[:width], strict=True)]
    mine.unanswered += theirs.unanswered
    mine.placed += theirs.placed
    mine.ended.update(theirs.ended)
    mine.reasons.update(theirs.reasons)
    mine.server_polls.extend(theirs.server_polls)
    mine.machine_load.extend(theirs.machine_load)
    mine.generator_cpu_max = max(mine.generator_cpu_max, theirs.generator_cpu_max)


def run(args: argparse.Namespace) -> int:
    target = _target(args)
    if target.transport == "twilio" and not target.twilio_auth_token:
        print("callwright load: twilio calls need --twilio-auth-token", file=sys.stderr)
        return 2
    processes = max(1, args.processes)
    options = LoadOptions(
        calls=args.calls,
        step_calls=max(1, args.step_calls),
        step_s=args.step_seconds,
        duration_s=args.duration,
        max_placed=args.max_placed,
        seed=args.seed,
        metrics_token=args.metrics_token
        or os.environ.get("CALLWRIGHT_METRICS_TOKEN")
        or target.api_key,
    )
    print("synthesizing caller clips...", file=sys.stderr, flush=True)
    clips = asyncio.run(prepare_clips(args.line or DEFAULT_LINES, args.voice or DEFAULT_VOICES))
    started = time.time() + 1.0
    jobs = []
    for index in range(processes):
        share = replace(
            options,
            calls=_share(options.calls, processes, index),
            step_calls=max(1, _share(options.step_calls, processes, index)),
            max_placed=None
            if options.max_placed is None
            else _share(options.max_placed, processes, index),
            seed=options.seed + index,
        )
        jobs.append((target, clips, share, started, index == 0))
    if processes == 1:
        raw = _child(jobs[0])
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            raw = _merge(pool.map(_child, jobs))
    described = {**asdict(options), "transport": target.transport, "url": target.base_url,
                 "processes": processes, "metrics_token": None}  # fmt: skip
    objective = {"ttfa_p95_ms": args.ttfa_p95_ms, "lag_p95_ms": args.lag_p95_ms}
    report = build_report(raw, described, objective)
    write_outputs(report, args.out, args.plot)
    print_table(report, sys.stdout)
    print(f"wrote {args.out} and {args.plot}")
    return 0


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)
