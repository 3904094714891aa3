"""`callwright load`: a ramp of simulated phone calls against a running server.

The ramp raises the number of live calls by `step_calls` every `step_s` seconds up to
`calls`; a call that ends is replaced by a new one while the run lasts, so each step holds its
level. The run is bounded in time (`duration_s`, default: the ramp's length) and in the number
of calls placed (`max_placed`). Every measurement is binned by the step it happened in
(`LoadBins`), together with what the server reports of itself every second (`GET /v1/load`:
loop-lag samples, CPU seconds, memory) and what the generator measures of itself (its own loop
lag and CPU), so a step the generator could not drive is flagged instead of being blamed on
the server. Failed, refused and dropped calls are counted, never left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from callwright.observe.loop_lag import LoopLagProbe, ProcessUsage, cpu_percent, process_usage
from callwright.sim.load_caller import CallOutcome, CallPlan, LoadCaller, Target
from callwright.sim.load_clips import Clip

POLL_S = 1.0
MAX_NEW_CALLS_PER_S = 20.0  # a real switch does not ring 300 lines in the same millisecond


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """The shape of a run.

    Attributes:
        calls: live calls at the top of the ramp.
        step_calls: calls added at each step.
        step_s: length of one step.
        duration_s: the whole run (None: until the top step has lasted `step_s`).
        max_placed: calls placed at most, over the run (None: no bound).
        lines_per_call: (fewest, most) lines a caller says.
        think_s: (shortest, longest) pause before each line, after the agent's reply.
        seed: for the callers' choices (the same seed, the same calls).
        metrics_token: bearer credential for `/v1/load` (scrape token or a viewer key).
    """

    calls: int = 10
    step_calls: int = 2
    step_s: float = 30.0
    duration_s: float | None = None
    max_placed: int | None = None
    lines_per_call: tuple[int, int] = (2, 4)
    think_s: tuple[float, float] = (0.3, 2.0)
    seed: int = 1
    metrics_token: str | None = None
    turn_timeout_s: float = 15.0

    @property
    def steps(self) -> int:
        return -(-self.calls // max(1, self.step_calls))

    def target_at(self, step: int) -> int:
        return min(self.calls, (step + 1) * self.step_calls)

    @property
    def total_s(self) -> float:
        return self.duration_s if self.duration_s is not None else self.steps * self.step_s


@dataclass(slots=True)
class StepBin:
    """Everything measured during one step."""

    ttfa_ms: list[float] = field(default_factory=list)
    unanswered: int = 0
    late_ms: list[float] = field(default_factory=list)
    jitter_ms: list[float] = field(default_factory=list)
    live: list[int] = field(default_factory=list)  # sampled every second
    server_lag_ms: list[float] = field(default_factory=list)
    server_polls: list[dict[str, Any]] = field(default_factory=list)
    generator_lag_ms: list[float] = field(default_factory=list)
    generator_usage: list[ProcessUsage] = field(default_factory=list)
    generator_cpu_max: float = 0.0  # percent of a core, the busiest caller process
    machine_load: list[float] = field(default_factory=list)  # 1-minute load average
    ended: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    placed: int = 0


class LoadBins:
    """Measurements by step, from the run's start time."""

    def __init__(self, started: float, step_s: float, steps: int) -> None:
        self.started = started
        self.step_s = step_s
        self.bins = [StepBin() for _ in range(max(1, steps))]

    def at(self, unix_s: float) -> StepBin:
        index = int((unix_s - self.started) // self.step_s)
        return self.bins[min(max(index, 0), len(self.bins) - 1)]

    def ttfa(self, at_s: float, ms: float | None) -> None:
        if ms is None:
            self.at(at_s).unanswered += 1
        else:
            self.at(at_s).ttfa_ms.append(ms)

    def frame(self, at_s: float, late_ms: float, jitter_ms: float | None) -> None:
        step = self.at(at_s)
        step.late_ms.append(late_ms)
        if jitter_ms is not None:
            step.jitter_ms.append(jitter_ms)


def plan_call(clips: list[Clip], rng: random.Random, options: LoadOptions) -> CallPlan:
    """A caller's lines and pauses. A closing line ("thank you") only ever comes last."""
    closing = [c for c in clips if c.text == clips[-1].text]
    middle = [c for c in clips if c.text != clips[-1].text] or clips
    fewest, most = options.lines_per_call
    count = rng.randint(fewest, most)
    chosen = [rng.choice(middle) for _ in range(count)]
    if count > 1 and rng.random() < 0.5:
        chosen[-1] = rng.choice(closing)
    pauses = [rng.uniform(*options.think_s) for _ in chosen]
    return CallPlan(tuple(zip(chosen, pauses, strict=True)), options.turn_timeout_s)


async def run_load(
    target: Target,
    clips: list[Clip],
    options: LoadOptions,
    started: float | None = None,
    poll_server: bool = True,
) -> dict[str, Any]:
    """Runs the ramp; returns the raw bins and every call's outcome (see `load_report`).

    Args:
        started: the run's start (unix time), shared by the processes of one run.
        poll_server: ask the server for its load (one process of a run does).
    """
    rng = random.Random(options.seed)
    started = time.time() if started is None else started
    await asyncio.sleep(max(0.0, started - time.time()))
    bins = LoadBins(started, options.step_s, math.ceil(options.total_s / options.step_s))
    callers: set[LoadCaller] = set()
    outcomes: list[CallOutcome] = []
    tasks: set[asyncio.Task[CallOutcome]] = set()
    probe = LoopLagProbe(interval_s=0.02, keep=100_000)
    probe.start()
    end_at = time.monotonic() + options.total_s - (time.time() - started)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    server_info: dict[str, Any] = {}
    async with aiohttp.ClientSession(connector=connector) as http:
        sampler = asyncio.create_task(
            _sample(http, target, options, bins, callers, probe, server_info, poll_server)
        )

        def finished(caller: LoadCaller, task: asyncio.Task[CallOutcome]) -> None:
            callers.discard(caller)
            tasks.discard(task)
            outcome = caller.outcome
            outcomes.append(outcome)
            bins.at(outcome.ended_s).ended[outcome.status] += 1
            if outcome.reason:
                bins.at(outcome.ended_s).reasons[f"{outcome.status}: {outcome.reason}"] += 1

        placed = 0
        while time.monotonic() < end_at:
            step = int((time.time() - started) // options.step_s)
            want = options.target_at(step) - len(callers)
            bound = options.max_placed is None or placed < options.max_placed
            if want > 0 and bound:
                caller = LoadCaller(placed, target, plan_call(clips, rng, options), bins)
                placed += 1
                bins.at(time.time()).placed += 1
                callers.add(caller)
                task = asyncio.create_task(caller.run(http))
                tasks.add(task)
                task.add_done_callback(functools.partial(finished, caller))
                await asyncio.sleep(1.0 / MAX_NEW_CALLS_PER_S)
                continue
            await asyncio.sleep(0.05)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    await probe.stop()
    for measured in bins.bins:
        usage = measured.generator_usage
        if len(usage) >= 2:
            measured.generator_cpu_max = cpu_percent(usage[0], usage[-1])
    return {"started": started, "bins": bins, "outcomes": outcomes, "server": server_info}


async def _sample(
    http: aiohttp.ClientSession,
    target: Target,
    options: LoadOptions,
    bins: LoadBins,
    callers: set[LoadCaller],
    probe: LoopLagProbe,
    server_info: dict[str, Any],
    poll_server: bool,
) -> None:
    """Every second: live calls, the server's `/v1/load`, the generator's own lag and CPU."""
    url = target.base_url.rstrip("/") + "/v1/load"
    token = options.metrics_token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # A server of several processes on one port (`serve --processes N`) answers each poll from
    # one of them (a new connection each time): loop-lag sequence numbers are per process.
    since: dict[int, int] = {}
    own_seq = 0
    while True:
        now = time.time()
        step = bins.at(now)
        step.live.append(sum(1 for c in callers if c.live))
        step.generator_usage.append(process_usage())
        step.machine_load.append(os.getloadavg()[0])
        for _, t, lag in probe.since(own_seq):
            bins.at(t).generator_lag_ms.append(lag * 1000.0)
        own_seq = probe.last_seq
        if not poll_server:
            await asyncio.sleep(POLL_S)
            continue
        try:
            after = min(since.values(), default=0)
            async with http.get(url, params={"since": str(after)}, headers=headers) as r:
                if r.status == 200:
                    body = await r.json()
                    pid = int(body.get("pid", 0))
                    seen = since.get(pid, 0)
                    since[pid] = int(body.get("last_seq", seen))
                    for seq, t, lag_ms in body.pop("lag_samples", []):
                        if seq > seen:
                            bins.at(t).server_lag_ms.append(float(lag_ms))
                    body["_at"] = now
                    step.server_polls.append(body)
                    server_info.setdefault("first", body)
                else:
                    server_info["load_status"] = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            server_info["load_error"] = repr(exc)
        await asyncio.sleep(POLL_S)
