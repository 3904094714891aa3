"""The figures of a load run: one row per ramp step, a verdict, JSON and a PNG plot.

Per step: calls live (mean of the per-second samples), TTFA p50/p95/p99, the agent's frames
as the phone hears them (late p50/p95/p99, share late, jitter p95), the server's event-loop lag,
its CPU and memory (total and per live call: the growth since the first reading), calls that
ended and how, the generator's own loop lag and CPU, and the machine's load average. A step
where the generator's loop lag p95 passed `GENERATOR_LAG_MS` or its CPU passed
`GENERATOR_CPU_PERCENT` is marked: the caller side, not the server, may have been the
bottleneck there.

Capacity is the most live calls of a step that met the objective (TTFA p95 and/or frame lag
p95 under their limits) with no failed, refused or dropped call and no unanswered line, that
held at least 80 % of its target of live calls.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from callwright.observe.kpis import percentile as nearest_rank
from callwright.sim.load import LoadBins, StepBin

GENERATOR_LAG_MS = 20.0
GENERATOR_CPU_PERCENT = 85.0
BAD_ENDINGS = ("failed", "refused", "dropped")
HELD_SHARE = 0.8  # a step whose live calls stayed under this share of its target is not counted


def percentiles(values: list[float], missing: int = 0) -> dict[str, float | int | None]:
    """Nearest-rank percentiles (as the KPIs and the benchmarks compute them); `missing`
    values that never came (lines with no reply) count as endless waits: a percentile that
    lands on one is None, and fails any objective."""
    counted = [*values, *([math.inf] * missing)]
    out: dict[str, float | int | None] = {"n": len(values), "missing": missing}
    for name, p in (("p50", 50), ("p95", 95), ("p99", 99)):
        found = nearest_rank(counted, p)
        out[name] = None if found is None or math.isinf(found) else round(found, 1)
    return out


def _server(step: StepBin, baseline_rss: int | None) -> dict[str, Any]:
    """The server's CPU and memory over a step, summed over its processes (polls name a pid)."""
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for poll in sorted(step.server_polls, key=lambda p: float(p["_at"])):
        by_pid.setdefault(int(poll.get("pid", 0)), []).append(poll)
    if sum(len(p) for p in by_pid.values()) < 2:
        return {"cpu_percent": None, "rss_mb": None, "rss_growth_mb": None}
    cpu, rss = 0.0, 0.0
    for polls in by_pid.values():
        first, last = polls[0], polls[-1]
        wall = last["_at"] - first["_at"]
        if wall > 0:
            cpu += 100.0 * (last["cpu_seconds"] - first["cpu_seconds"]) / wall
        else:  # polled once in this step: its own figure over the load window
            cpu += float(first.get("cpu_percent", 0.0))
        rss += float(np.mean([p["rss_bytes"] for p in polls]))
    growth = None if baseline_rss is None else (rss - baseline_rss) / 2**20
    return {"cpu_percent": round(cpu, 1), "rss_mb": round(rss / 2**20, 1),
            "rss_growth_mb": None if growth is None else round(growth, 1)}  # fmt: skip


def baseline_rss(bins: list[StepBin]) -> int | None:
    """The server's memory before the calls: each process's first poll, summed."""
    first: dict[int, int] = {}
    for step in bins:
        for poll in sorted(step.server_polls, key=lambda p: float(p["_at"])):
            first.setdefault(int(poll.get("pid", 0)), int(poll["rss_bytes"]))
    return sum(first.values()) if first else None


def server_processes(bins: list[StepBin]) -> int:
    """How many server processes answered the polls."""
    return len({int(p.get("pid", 0)) for step in bins for p in step.server_polls})


def summarize_step(index: int, target: int, step: StepBin, baseline_rss: int | None) -> dict:
    live = float(np.mean(step.live)) if step.live else 0.0
    server = _server(step, baseline_rss)
    per_call = live if live >= 1 else None
    own_cpu = step.generator_cpu_max if len(step.generator_usage) >= 2 else None
    own_lag = percentiles(step.generator_lag_ms)
    bound = (own_lag["p95"] or 0.0) > GENERATOR_LAG_MS or (own_cpu or 0.0) > GENERATOR_CPU_PERCENT
    late = step.late_ms
    return {
        "step": index,
        "target_calls": target,
        "live_calls": round(live, 1),
        "live_calls_max": max(step.live, default=0),
        "placed": step.placed,
        "ended": dict(step.ended),
        "bad_calls": sum(step.ended[k] for k in BAD_ENDINGS),
        "unanswered_lines": step.unanswered,
        "reasons": dict(step.reasons),
        "ttfa_ms": percentiles(step.ttfa_ms, step.unanswered),
        "frame_lag_ms": percentiles(late),
        "frames_late_share": round(sum(1 for x in late if x > 0) / len(late), 4) if late else None,
        "jitter_ms": percentiles(step.jitter_ms),
        "server_loop_lag_ms": percentiles(step.server_lag_ms),
        # Each poll gives the p95 wait for the embedded recogniser over the server's window.
        "server_stt_wait_ms": percentiles(
            [float(p["stt_wait_ms"]) for p in step.server_polls if "stt_wait_ms" in p]
        ),
        "server_cpu_percent": server["cpu_percent"],
        "server_cpu_percent_per_call": None
        if server["cpu_percent"] is None or per_call is None
        else round(server["cpu_percent"] / per_call, 2),
        "server_rss_mb": server["rss_mb"],
        "server_rss_mb_per_call": None
        if server["rss_growth_mb"] is None or per_call is None
        else round(server["rss_growth_mb"] / per_call, 2),
        "generator_loop_lag_ms": own_lag,
        "generator_cpu_percent": None if own_cpu is None else round(own_cpu, 1),
        "generator_bound": bound,
        "machine_load_1m": round(float(np.mean(step.machine_load)), 2)
        if step.machine_load
        else None,
    }


def capacity(steps: list[dict], ttfa_p95_ms: float | None, lag_p95_ms: float | None) -> dict:
    """The most live calls of a step that met the objective cleanly (and whether the
    generator held up there)."""
    best: dict | None = None
    for step in steps:
        ttfa, lag = step["ttfa_ms"]["p95"], step["frame_lag_ms"]["p95"]
        # A step counts only if it held its level: calls that never got going are no capacity.
        held = step["live_calls"] >= HELD_SHARE * step["target_calls"] > 0
        ok = held and step["bad_calls"] == 0 and step["unanswered_lines"] == 0
        if ttfa_p95_ms is not None:
            ok = ok and ttfa is not None and ttfa < ttfa_p95_ms
        if lag_p95_ms is not None:
            ok = ok and lag is not None and lag < lag_p95_ms
        if ok and (best is None or step["live_calls"] > best["live_calls"]):
            best = step
    return {
        "ttfa_p95_under_ms": ttfa_p95_ms,
        "frame_lag_p95_under_ms": lag_p95_ms,
        "calls": best["live_calls"] if best else 0,
        "step": best["step"] if best else None,
        "generator_bound_there": bool(best and best["generator_bound"]),
        "reached_top_of_ramp": bool(best and best is steps[-1]),
    }


def build_report(raw: dict[str, Any], options: dict[str, Any], objective: dict) -> dict:
    bins: LoadBins = raw["bins"]
    first = raw["server"].get("first")
    baseline = baseline_rss(bins.bins)
    calls, step_calls = options["calls"], options["step_calls"]
    steps = [
        summarize_step(i, min(calls, (i + 1) * step_calls), b, baseline)
        for i, b in enumerate(bins.bins)
    ]
    outcomes = raw["outcomes"]
    totals: dict[str, int] = {}
    for outcome in outcomes:
        totals[outcome.status] = totals.get(outcome.status, 0) + 1
    return {
        "options": options,
        "server": {k: v for k, v in (first or {}).items() if not k.startswith("_")}
        | {"processes": server_processes(bins.bins)},
        "server_problem": {k: v for k, v in raw["server"].items() if k != "first"},
        "steps": steps,
        "calls": {"placed": len(outcomes), "by_outcome": totals},
        "capacity": capacity(steps, objective.get("ttfa_p95_ms"), objective.get("lag_p95_ms")),
        "generator_bound_steps": [s["step"] for s in steps if s["generator_bound"]],
    }


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def print_table(report: dict, out: TextIO) -> None:
    head = ("step live ttfa50 ttfa95 ttfa99 lag95 lag99 late% jit95 srvlag95 sttwait95 "
            "srvcpu% cpu%/call MB/call bad unans gen-lag95 gen-cpu% load1m")  # fmt: skip
    print(head, file=out)
    for s in report["steps"]:
        late = s["frames_late_share"]
        row = [s["step"], s["live_calls"], s["ttfa_ms"]["p50"], s["ttfa_ms"]["p95"],
               s["ttfa_ms"]["p99"], s["frame_lag_ms"]["p95"], s["frame_lag_ms"]["p99"],
               None if late is None else round(100 * late, 1), s["jitter_ms"]["p95"],
               s["server_loop_lag_ms"]["p95"], s["server_stt_wait_ms"]["p95"],
               s["server_cpu_percent"],
               s["server_cpu_percent_per_call"], s["server_rss_mb_per_call"], s["bad_calls"],
               s["unanswered_lines"], s["generator_loop_lag_ms"]["p95"],
               s["generator_cpu_percent"], s["machine_load_1m"]]  # fmt: skip
        mark = "  << generator-bound" if s["generator_bound"] else ""
        print(" ".join(_f(v) for v in row) + mark, file=out)
    cap = report["capacity"]
    print(f"calls placed: {report['calls']['placed']} {report['calls']['by_outcome']}", file=out)
    print(
        f"capacity: {cap['calls']} live calls (TTFA p95 < {_f(cap['ttfa_p95_under_ms'])} ms, "
        f"frame lag p95 < {_f(cap['frame_lag_p95_under_ms'])} ms, no bad call)"
        + (" at the top of the ramp: raise --calls" if cap["reached_top_of_ramp"] else ""),
        file=out,
    )
    if report["generator_bound_steps"]:
        print(
            f"the load generator's own loop ran late or its CPU was high in steps "
            f"{report['generator_bound_steps']}: there the callers, not only the server, may be "
            "the limit (use --processes, or a machine not shared with other work; load1m is the "
            "machine's load average)",
            file=out,
        )
    if report["server_problem"]:
        print(f"server load endpoint: {report['server_problem']}", file=out)


def write_outputs(report: dict, json_path: Path, png_path: Path | None) -> None:
    json_path.write_text(json.dumps(report, indent=2))
    if png_path is not None:
        plot(report, png_path)


def plot(report: dict, path: Path) -> None:
    """TTFA and frame lag (with the server's loop lag) against live calls."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [s for s in report["steps"] if s["live_calls"] > 0]
    live = [s["live_calls"] for s in steps]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for q, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
        top.plot(live, [s["ttfa_ms"][q] for s in steps], style, marker="o", label=f"TTFA {q}")
        bottom.plot(live, [s["frame_lag_ms"][q] for s in steps], style, marker="o",
                    label=f"frame lag {q}")  # fmt: skip
    bottom.plot(live, [s["server_loop_lag_ms"]["p95"] for s in steps], "-.", marker="s",
                label="server loop lag p95")  # fmt: skip
    for s in steps:
        if s["generator_bound"]:
            bottom.axvline(s["live_calls"], color="grey", alpha=0.3)
    top.set_ylabel("TTFA at the caller (ms)")
    bottom.set_ylabel("late agent frames (ms)")
    bottom.set_xlabel("live calls")
    top.legend()
    bottom.legend()
    top.grid(alpha=0.3)
    bottom.grid(alpha=0.3)
    options = report["options"]
    fig.suptitle(f"callwright load: {options.get('transport')} calls, {options.get('url')}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
