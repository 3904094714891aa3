"""Reports of an eval run: a table, JSON, JUnit XML, an HTML page, and a comparison."""

from __future__ import annotations

import html
import json
import math
import os
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any, TextIO

from callwright.evals.judge import percentile
from callwright.evals.runner import PairResult


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return "none" if value == float("inf") else f"{value:.0f}"  # "none": a turn never answered


def print_table(results: list[PairResult], out: TextIO) -> None:
    """Scenario x condition: pass/fail, why, TTFA p95 (server and caller), then the rates."""
    width = max([len(r.scenario) for r in results] + [8])
    out.write(f"{'scenario':<{width}}  {'condition':<12}  result  ttfa95  caller95  why\n")
    for r in results:
        verdict = "pass" if r.passed else "FAIL"
        why = "; ".join(r.reasons)[:160]
        caller = r.caller_p95_ms
        out.write(f"{r.scenario:<{width}}  {r.condition:<12}  {verdict:<6}  "
                  f"{_ms(r.state.ttfa_p95_ms):>6}  {_ms(caller):>8}  {why}\n")  # fmt: skip
    out.write("\n")
    for name, (passed, total) in pass_rates(results).items():
        out.write(f"{name:<14} {passed}/{total} ({100 * passed / max(total, 1):.0f} %)\n")


def pass_rates(results: list[PairResult]) -> dict[str, tuple[int, int]]:
    """Passed and total per condition, and "overall"."""
    rates: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        for key in (r.condition, "overall"):
            rates[key][0] += r.passed
            rates[key][1] += 1
    overall = rates.pop("overall", [0, 0])
    return {**{k: (v[0], v[1]) for k, v in sorted(rates.items())}, "overall": tuple(overall)}  # type: ignore[dict-item]


def to_json(results: list[PairResult]) -> dict[str, Any]:
    rates = pass_rates(results)
    return {
        "pass_rates": {k: {"passed": p, "total": t} for k, (p, t) in rates.items()},
        "results": [r.to_json() for r in results],
    }


def write_json(results: list[PairResult], path: Path) -> None:
    path.write_text(json.dumps(to_json(results), indent=1), encoding="utf-8")


def write_junit(results: list[PairResult], path: Path) -> None:
    """One <testcase> per pair (classname = scenario, name = condition)."""
    failures = sum(not r.passed for r in results)
    suite = ET.Element("testsuite", name="callwright-eval", tests=str(len(results)),
                       failures=str(failures), errors="0",
                       time=f"{sum(r.seconds for r in results):.1f}")  # fmt: skip
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=r.scenario, name=r.condition,
                             time=f"{r.seconds:.1f}")  # fmt: skip
        if not r.passed:
            failure = ET.SubElement(case, "failure", message="; ".join(r.reasons)[:500])
            failure.text = "\n".join(f"{role}: {text}" for role, text in r.state.transcript)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def write_html(results: list[PairResult], path: Path, audio_root: Path) -> None:
    """A page per run: rates, then each pair with its verdict, state, transcript and audio.

    Recordings are linked relative to the page (they stay beside it in the work folder).
    """
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(k)}</td><td>{p}/{t}</td><td>{100 * p / max(t, 1):.0f} %</td></tr>"
        for k, (p, t) in pass_rates(results).items()
    )
    parts = [
        "<!doctype html><meta charset=utf-8><title>callwright eval</title>",
        "<style>body{font:14px sans-serif;margin:2em}.pass{color:#070}.fail{color:#b00}"
        "details{margin:.5em 0;border-top:1px solid #ddd;padding-top:.5em}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}</style>",
        "<h1>callwright eval</h1><table border=1 cellpadding=4>"
        f"<tr><th>condition</th><th>passed</th><th>rate</th></tr>{rows}</table>",
    ]
    for r in results:
        css, verdict = ("pass", "pass") if r.passed else ("fail", "FAIL")
        transcript = "\n".join(f"{role}: {text}" for role, text in r.state.transcript)
        calls = json.dumps(r.state.tool_calls, indent=1, default=str)
        audio = ""
        if r.recording:
            rel = os.path.relpath(audio_root / r.recording, path.parent)
            audio = f'<audio controls preload=none src="{e(rel)}"></audio>'
        parts.append(
            f"<details><summary><b class={css}>{verdict}</b> {e(r.scenario)} @ "
            f"{e(r.condition)} ({e(r.voice)}, {e(r.transport)}) TTFA p95 "
            f"{_ms(r.state.ttfa_p95_ms)} ms</summary>"
            f"<p>{e('; '.join(r.reasons) or 'all expectations met')}</p>{audio}"
            f"<p>escalated: {r.state.escalated}, outcome: {e(str(r.state.outcome))}, "
            f"TTFA (ms): {e(str(r.state.ttfa_ms))}</p>"
            f"<pre>{e(transcript)}</pre><pre>{e(calls)}</pre></details>"
        )
    path.write_text("".join(parts), encoding="utf-8")


def compare(results: list[PairResult], previous: dict[str, Any], out: TextIO) -> dict[str, Any]:
    """Newly failing, newly passing, and TTFA p95 drift against a previous JSON run."""
    before = {f"{r['scenario']}@{r['condition']}": r for r in previous.get("results", [])}
    newly_failing = [r.key for r in results if r.key in before and before[r.key]["passed"]
                     and not r.passed]  # fmt: skip
    newly_passing = [r.key for r in results if r.key in before and not before[r.key]["passed"]
                     and r.passed]  # fmt: skip
    drift = []
    for r in results:
        old = before.get(r.key, {}).get("ttfa_p95_ms")
        now = r.state.ttfa_p95_ms
        if old is not None and now is not None and math.isfinite(now):
            drift.append(now - old)
    summary = {"newly_failing": newly_failing, "newly_passing": newly_passing,
               "ttfa_p95_drift_ms_median": percentile(drift, 50),
               "ttfa_p95_drift_ms_max": max(drift, default=None)}  # fmt: skip
    out.write(f"\nnewly failing ({len(newly_failing)}): {', '.join(newly_failing) or '-'}\n")
    out.write(f"newly passing ({len(newly_passing)}): {', '.join(newly_passing) or '-'}\n")
    if drift:
        out.write(f"TTFA p95 drift per pair: median {percentile(drift, 50):+.0f} ms, "
                  f"largest {max(drift):+.0f} ms\n")  # fmt: skip
    return summary
