"""Time-to-first-audio benchmark against a real server on loopback.

Starts `callwright serve` in its own process (embedded models, demo agent), places simulated
calls that speak in real time, and prints p50/p95 time-to-first-audio with its per-stage
breakdown. TTFA runs from the caller's end of speech (audio timeline) to the first agent audio
frame on the wire.

    python bench/ttfa.py --turns 20
    python bench/ttfa.py --turns 20 --concurrency 4
    python bench/ttfa.py --turns 20 --transport twilio   # phone calls: Twilio protocol, µ-law 8 kHz
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
AGENT = "examples/clinic/agent.py"  # the agent the benchmark calls
sys.path.insert(0, str(ROOT))

from bench.operator_key import create_bench_key  # noqa: E402
from callwright.sim.caller import CallerSimulator, CallReport, ScriptLine  # noqa: E402
from callwright.sim.twilio_caller import TwilioCallerSimulator  # noqa: E402
from callwright.tts.espeak import EspeakTts  # noqa: E402

QUESTIONS = (
    "What are your opening hours?",
    "What is your address?",
    "Is there parking?",
    "Can I book an appointment?",
)
STAGES = (
    ("end_of_turn", "end of speech → end-of-turn decision"),
    ("transcript_ready", "→ transcript ready"),
    ("first_token", "→ responder first token"),
    ("first_sentence", "→ first sentence ready"),
    ("tts_first_audio", "→ TTS first audio"),
    ("first_audio_sent", "→ first audio frame sent"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("server exited during start-up")
            try:
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    raise TimeoutError("server did not become healthy")


# Phone-band lines tiny.en transcribes reliably at 8 kHz (see tests/test_twilio_calls.py).
PHONE_QUESTIONS = ("What are your opening hours?", "Where are you located?")
BENCH_AUTH_TOKEN = "bench-auth-token"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def scripts(
    turns: int, per_call: int, questions: Sequence[str] = QUESTIONS
) -> list[list[ScriptLine]]:
    """Calls of `per_call` questions each (then goodbye) until `turns` questions are asked."""
    calls: list[list[ScriptLine]] = []
    asked = 0
    while asked < turns:
        n = min(per_call, turns - asked)
        lines = [ScriptLine(questions[(asked + i) % len(questions)]) for i in range(n)]
        calls.append([*lines, ScriptLine("Thank you, goodbye.")])
        asked += n
    return calls


async def run_calls(url: str, calls: list[list[ScriptLine]], concurrency: int) -> list[CallReport]:
    voice = EspeakTts(voice="en-us", words_per_minute=160)
    gate = asyncio.Semaphore(concurrency)

    async def one(script: list[ScriptLine]) -> CallReport:
        async with gate:
            return await CallerSimulator(url, voice).run(script)

    return list(await asyncio.gather(*(one(s) for s in calls)))


async def run_phone_calls(
    base: str, calls: list[list[ScriptLine]], concurrency: int
) -> list[CallReport]:
    """The same calls over Twilio Media Streams; server timelines come from the call API."""
    voice = EspeakTts(voice="en-us", words_per_minute=140)
    gate = asyncio.Semaphore(concurrency)

    async def one(script: list[ScriptLine]) -> CallReport:
        async with gate:
            return await TwilioCallerSimulator(base, voice, BENCH_AUTH_TOKEN).run(script)

    reports = list(await asyncio.gather(*(one(s) for s in calls)))
    sids = {getattr(r, "call_sid", ""): r for r in reports}
    await asyncio.sleep(1.0)  # let the last records land
    key = os.environ.get("CALLWRIGHT_API_KEY", "")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        async with http.get(f"{base}/v1/calls?limit=1000") as response:
            listed = (await response.json())["calls"]
        for call in listed:
            if call["channel"] != "twilio":
                continue
            async with http.get(f"{base}/v1/calls/{call['call_id']}") as response:
                detail = await response.json()
            report = sids.get(detail["call"]["parameters"].get("call_sid"))
            if report is not None:
                report.call_id = call["call_id"]
                report.events += [{"type": "turn_timeline", **t} for t in detail["timelines"]]
    return reports


def summarize(reports: list[CallReport], label: str) -> str:
    client: list[float] = []
    timelines: list[dict[str, object]] = []
    for report in reports:
        client += [t.ttfa_ms for t in report.turns if t.ttfa_ms is not None]
        timelines += [t for t in report.of_type("turn_timeline") if t["turn_index"] != 0]
    answered = [t for t in timelines if t.get("ttfa_ms") is not None and not t.get("interrupted")]
    rows = [f"time-to-first-audio, {label}: {len(answered)} turns in {len(reports)} calls"]
    rows.append(f"{'measure':44} {'p50 ms':>8} {'p95 ms':>8}")

    def row(name: str, values: Sequence[float]) -> None:
        if values:
            rows.append(f"{name:44} {percentile(values, 0.5):8.0f} {percentile(values, 0.95):8.0f}")

    row("TTFA at the caller (end of speech → audio in)", client)
    row("TTFA at the server (timeline)", [float(t["ttfa_ms"]) for t in answered])  # type: ignore[arg-type]
    rows.append("per stage, each from the previous mark:")
    for key, name in STAGES:
        base = {"end_of_turn": "speech_end_ms"}.get(key)
        values = []
        for t in answered:
            marks = [m for m, _ in STAGES]
            here = t.get(f"{key}_ms")
            prev_key = base or f"{marks[marks.index(key) - 1]}_ms"
            prev = t.get(prev_key)
            if isinstance(here, int | float) and isinstance(prev, int | float):
                values.append(float(here) - float(prev))
        row(f"  {name}", values)
    stt = [float(t["stt_compute_ms"]) for t in answered if t.get("stt_compute_ms") is not None]  # type: ignore[arg-type]
    row("STT compute (not all on the critical path)", stt)
    hits = [t.get("speculative_hit") for t in answered]
    if hits:
        rows.append(f"speculative transcripts kept: {sum(bool(h) for h in hits)}/{len(hits)}")
    return "\n".join(rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20, help="caller questions in all")
    parser.add_argument("--per-call", type=int, default=4, help="questions per call")
    parser.add_argument("--concurrency", type=int, default=1, help="calls at once")
    parser.add_argument("--url", help="use a running server instead of starting one")
    parser.add_argument("--server-arg", action="append", default=[], help="extra serve flag")
    parser.add_argument(
        "--transport", choices=["native", "twilio"], default="native",
        help="native WebSocket at 16 kHz, or phone calls over Twilio Media Streams (8 kHz µ-law)",
    )  # fmt: skip
    args = parser.parse_args()
    phone = args.transport == "twilio"

    server: subprocess.Popen[bytes] | None = None
    url = args.url
    with tempfile.TemporaryDirectory() as data_dir:
        if url is None:
            create_bench_key(data_dir)
            port = free_port()
            env = {**os.environ, "CALLWRIGHT_LOG_LEVEL": "WARNING"}
            if phone:
                env["CALLWRIGHT_TWILIO_AUTH_TOKEN"] = BENCH_AUTH_TOKEN
            server = subprocess.Popen(
                [sys.executable, "-m", "callwright", "serve", "--agent", AGENT, "--port", str(port),
                 "--data-dir", data_dir, *args.server_arg],
                cwd=ROOT, env=env,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}" if phone else f"ws://127.0.0.1:{port}/v1/ws"
            await wait_healthy(f"http://127.0.0.1:{port}", server)
        try:
            if phone:
                calls = scripts(args.turns, args.per_call, PHONE_QUESTIONS)
                reports = await run_phone_calls(url, calls, args.concurrency)
            else:
                calls = scripts(args.turns, args.per_call)
                reports = await run_calls(url, calls, args.concurrency)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)
    label = f"native WebSocket 16 kHz, {args.concurrency} call(s) at once"
    if phone:
        label = f"phone calls over Twilio Media Streams (µ-law 8 kHz), {args.concurrency} at once"
    print(summarize(reports, label))
    client = [t.ttfa_ms for r in reports for t in r.turns if t.ttfa_ms is not None]
    if client:
        print(f"mean at the caller: {statistics.fmean(client):.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
