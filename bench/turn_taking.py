"""Turn-taking benchmark: barge-in stop latency, false interruptions, premature cut-offs, and
what semantic endpointing costs (or saves) in time-to-first-audio.

Runs `callwright serve` in its own process, twice: with semantic endpointing (the default) and
with VAD silence only (CALLWRIGHT_SEMANTIC_ENDPOINTING=0, the 480 ms baseline), and speaks
synthesized caller sets at it in real time.

    python bench/turn_taking.py            # about 6 minutes
    python bench/turn_taking.py --quick    # fewer trials
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGENT = "examples/clinic/agent.py"  # the agent the benchmark calls
sys.path.insert(0, str(ROOT))

from bench.operator_key import create_bench_key  # noqa: E402
from bench.ttfa import free_port, percentile, wait_healthy  # noqa: E402
from callwright.sim.caller import CallerSimulator, CallReport, ScriptLine  # noqa: E402
from callwright.tts.espeak import EspeakTts  # noqa: E402

VOICE = EspeakTts(voice="en-us", words_per_minute=160)
BACKCHANNELS = ("Uh-huh.", "Mm-hmm.", "Yeah.", "Okay.", "Right.")
INTERRUPTIONS = ("Wait, stop.", "Sorry, one question.", "Hold on, what is your address?")
PAUSERS = (  # (first part, second part): the caller pauses between them
    ("I'd like to book an appointment on", "Tuesday morning."),
    ("Can I see the doctor", "next week?"),
    ("My date of birth is", "March third, nineteen eighty."),
    ("I need to cancel", "my appointment for Friday."),
    ("I was wondering if", "you are open on Saturday."),
    ("The best number to reach me is", "five five five, one two three four."),
)
QUESTIONS = ("What are your opening hours?", "What is your address?", "Is there parking?")


@dataclass
class Results:
    stop_latency_ms: list[float] = field(default_factory=list)
    backchannel_trials: int = 0
    false_interruptions: int = 0
    pause_trials: int = 0
    cut_offs: int = 0
    complete_ttfa_ms: list[float] = field(default_factory=list)
    paused_ttfa_ms: list[float] = field(default_factory=list)


@asynccontextmanager
async def server(semantic: bool) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "CALLWRIGHT_LOG_LEVEL": "WARNING",
        "CALLWRIGHT_SEMANTIC_ENDPOINTING": "1" if semantic else "0",
    }
    with tempfile.TemporaryDirectory() as data_dir:
        create_bench_key(data_dir)
        process = subprocess.Popen(
            [sys.executable, "-m", "callwright", "serve", "--agent", AGENT, "--port", str(port),
             "--data-dir", data_dir],
            cwd=ROOT, env=env,
        )  # fmt: skip
        try:
            await wait_healthy(f"http://127.0.0.1:{port}", process)
            yield f"ws://127.0.0.1:{port}/v1/ws"
        finally:
            process.terminate()
            process.wait(timeout=10)


def stop_latency(report: CallReport) -> float | None:
    """Caller's speech onset → the `clear` that silences the agent, at the caller."""
    if len(report.turns) < 2:
        return None
    onset = report.turns[1].speech_start_s
    clears = [e["_received_s"] for e in report.of_type("clear") if e["_received_s"] >= onset]
    return round((clears[0] - onset) * 1000.0, 1) if clears else None


async def measure(url: str, trials: int, results: Results) -> None:
    for i in range(trials):
        # A real interruption 1.5 s into the agent's answer.
        report = await CallerSimulator(url, VOICE).run(
            [
                ScriptLine(QUESTIONS[i % len(QUESTIONS)]),
                ScriptLine(INTERRUPTIONS[i % len(INTERRUPTIONS)], barge_in_after_ms=1500),
            ]
        )
        latency = stop_latency(report)
        if latency is not None:
            results.stop_latency_ms.append(latency)
        # A backchannel 1.2 s into the agent's answer.
        report = await CallerSimulator(url, VOICE).run(
            [
                ScriptLine("What are your opening hours?"),
                ScriptLine(
                    BACKCHANNELS[i % len(BACKCHANNELS)], barge_in_after_ms=1200, expect_reply=False
                ),
            ]
        )
        results.backchannel_trials += 1
        results.false_interruptions += bool(report.of_type("interruption"))
        results.complete_ttfa_ms += [t.ttfa_ms for t in report.turns[:1] if t.ttfa_ms]
        # A caller who pauses 0.5-1.5 s mid-sentence.
        first, second = PAUSERS[i % len(PAUSERS)]
        pause_ms = 500.0 + 1000.0 * (i % 5) / 4
        report = await CallerSimulator(url, VOICE).run(
            [ScriptLine(f"{first} | {second}", pause_ms=pause_ms)]
        )
        results.pause_trials += 1
        transcripts = report.of_type("transcript")
        results.cut_offs += len(transcripts) > 1
        if len(transcripts) == 1:
            results.paused_ttfa_ms += [t.ttfa_ms for t in report.turns if t.ttfa_ms]


def table(rows: Sequence[tuple[str, Results]]) -> str:
    def p(values: list[float], q: float) -> str:
        return f"{percentile(values, q):.0f}" if values else "-"

    lines = [
        f"{'endpointing':14} {'stop p50':>9} {'stop p95':>9} {'false int.':>11} "
        f"{'cut-offs':>9} {'TTFA done p50':>14} {'TTFA paused p50':>16}"
    ]
    for name, r in rows:
        false_rate = f"{r.false_interruptions}/{r.backchannel_trials}"
        cut_rate = f"{r.cut_offs}/{r.pause_trials}"
        lines.append(
            f"{name:14} {p(r.stop_latency_ms, 0.5):>9} {p(r.stop_latency_ms, 0.95):>9} "
            f"{false_rate:>11} {cut_rate:>9} {p(r.complete_ttfa_ms, 0.5):>14} "
            f"{p(r.paused_ttfa_ms, 0.5):>16}"
        )
    lines.append(
        "stop: caller speech onset → agent silenced (clear) at the caller, ms; false int.: "
        "backchannels that interrupted; cut-offs: mid-sentence pausers answered before they "
        "finished; TTFA done: complete question; TTFA paused: after the paused caller finished."
    )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 trials per set")
    args = parser.parse_args()
    trials = 3 if args.quick else args.trials
    rows = []
    for name, semantic in (("semantic", True), ("VAD only", False)):
        results = Results()
        async with server(semantic) as url:
            await measure(url, trials, results)
        rows.append((name, results))
    print(table(rows))


if __name__ == "__main__":
    asyncio.run(main())
