"""Time-to-first-audio benchmark against a real server on loopback.

Starts `callwright serve` in its own process (embedded models, demo agent), places simulated
calls that speak in real time, and prints p50/p95 time-to-first-audio with its per-stage
breakdown. TTFA runs from the caller's end of speech (audio timeline) to the first agent audio
frame on the wire.

    python bench/ttfa.py --turns 20
    python bench/ttfa.py --turns 20 --concurrency 4
    python bench/ttfa.py --turns 20 --transport twilio   # phone calls: Twilio protocol, µ-law 8 kHz
    python bench/ttfa.py --turns 12 --transport webrtc   # an aiortc peer: Opus 48 kHz over RTP
    python bench/ttfa.py --turns 20 --transport sip      # phone calls: SIP and RTP, µ-law 8 kHz

Over WebRTC the server sends silence between replies, so the caller's TTFA runs to the first
received frame holding an audible sample (`callwright.sim.webrtc_caller`).
    python bench/ttfa.py --turns 20 --transport twilio --fake-llm   # the LLM path

`--fake-llm` starts the scripted OpenAI-compatible server (`tests/fakes/openai_server.py`) with
`--ttft-ms` (300) and `--tokens-per-s` (50) and calls an LLM-first agent (`examples/shop`);
`--llm URL` points the same agent at a real server instead. Every reply is different text, so
nothing is cached. Turns that got no reply are counted, never dropped: a p95 that would land
on one is printed as "none".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
AGENT = "examples/clinic/agent.py"  # the agent the benchmark calls
sys.path.insert(0, str(ROOT))

from bench.operator_key import create_bench_key  # noqa: E402
from callwright.observe.kpis import percentile as nearest_rank  # noqa: E402
from callwright.sim.caller import CallerSimulator, CallReport, ScriptLine  # noqa: E402
from callwright.sim.sip_caller import SipCallerSimulator  # noqa: E402
from callwright.sim.twilio_caller import TwilioCallerSimulator  # noqa: E402
from callwright.sim.webrtc_caller import WebRtcCallerSimulator  # noqa: E402
from callwright.tts.espeak import EspeakTts  # noqa: E402

QUESTIONS = (
    "What are your opening hours?",
    "What is your address?",
    "Is there parking?",
    "Can I book an appointment?",
)
LLM_AGENT = "examples/shop/agent.py"  # LLM-first: every turn goes to the model
LLM_QUESTIONS = (
    "Where is my order?",
    "When will my parcel arrive?",
    "Can I change my delivery address?",
    "Do you deliver on Saturdays?",
)
STAGES = (
    ("end_of_turn", "endpointing: end of speech → end of turn"),
    ("transcript_ready", "STT: → transcript ready"),
    ("first_token", "LLM: → first token"),
    ("first_sentence", "→ first clause ready"),
    ("tts_first_audio", "TTS: → first audio"),
    ("first_audio_sent", "transport: → first audio frame sent"),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout_s: float = 600) -> None:
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
    """The nearest-rank percentile (`q` in 0-1), as the KPIs and the eval judge compute it:
    the p95 of 15 turns is their slowest, not a value between the two slowest."""
    found = nearest_rank(values, 100.0 * q)
    return float("nan") if found is None else found


def scripts(
    turns: int, per_call: int, questions: Sequence[str] = QUESTIONS, goodbye: bool = True
) -> list[list[ScriptLine]]:
    """Calls of `per_call` questions each (then goodbye) until `turns` questions are asked."""
    calls: list[list[ScriptLine]] = []
    asked = 0
    while asked < turns:
        n = min(per_call, turns - asked)
        lines = [ScriptLine(questions[(asked + i) % len(questions)]) for i in range(n)]
        calls.append([*lines, ScriptLine("Thank you, goodbye.")] if goodbye else lines)
        asked += n
    return calls


async def run_calls(url: str, calls: list[list[ScriptLine]], concurrency: int) -> list[CallReport]:
    voice = EspeakTts(voice="en-us", words_per_minute=160)
    gate = asyncio.Semaphore(concurrency)

    async def one(script: list[ScriptLine]) -> CallReport:
        async with gate:
            return await CallerSimulator(url, voice).run(script)

    return list(await asyncio.gather(*(one(s) for s in calls)))


async def run_webrtc_calls(
    base: str, calls: list[list[ScriptLine]], concurrency: int
) -> list[CallReport]:
    """The same calls from an aiortc peer (Opus); timelines arrive on the data channel."""
    voice = EspeakTts(voice="en-us", words_per_minute=160)
    gate = asyncio.Semaphore(concurrency)

    async def one(script: list[ScriptLine]) -> CallReport:
        async with gate:
            return await WebRtcCallerSimulator(base, voice).run(script)

    return list(await asyncio.gather(*(one(s) for s in calls)))


async def run_phone_calls(
    base: str, calls: list[list[ScriptLine]], concurrency: int, sip_port: int | None = None
) -> list[CallReport]:
    """The same calls over Twilio Media Streams (or SIP and RTP to `sip_port`); server
    timelines come from the call API."""
    voice = EspeakTts(voice="en-us", words_per_minute=140)
    gate = asyncio.Semaphore(concurrency)

    async def one(script: list[ScriptLine]) -> CallReport:
        async with gate:
            if sip_port is not None:
                return await SipCallerSimulator("127.0.0.1", sip_port, voice).run(script)
            return await TwilioCallerSimulator(base, voice, BENCH_AUTH_TOKEN).run(script)

    reports = list(await asyncio.gather(*(one(s) for s in calls)))
    key_of = "sip_call_id" if sip_port is not None else "call_sid"
    sids = {getattr(r, key_of, ""): r for r in reports}
    await asyncio.sleep(1.0)  # let the last records land
    key = os.environ.get("CALLWRIGHT_API_KEY", "")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        async with http.get(f"{base}/v1/calls?limit=1000") as response:
            listed = (await response.json())["calls"]
        for call in listed:
            if call["channel"] not in ("twilio", "sip"):
                continue
            async with http.get(f"{base}/v1/calls/{call['call_id']}") as response:
                detail = await response.json()
            report = sids.get(detail["call"]["parameters"].get(key_of))
            if report is not None:
                report.call_id = call["call_id"]
                report.events += [{"type": "turn_timeline", **t} for t in detail["timelines"]]
                report.events += [
                    {"type": e["kind"], "at_ms": e["at_ms"], **e["data"]}
                    for e in detail["events"]
                    if e["kind"] in ("llm", "llm_prepared", "head_start", "reply_failed")
                ]
    return reports


def with_missing(values: Sequence[float], missing: int, q: float) -> float:
    """The q-th percentile when `missing` turns got no reply (counted as endless waits)."""
    return percentile([*values, *([float("inf")] * missing)], q)


def summarize(reports: list[CallReport], label: str, planned: int | None = None) -> str:
    """The table; `planned`: the caller turns the scripts held (a call the server ended
    early never reached the rest: they count as turns with no reply)."""
    client: list[float] = []
    unanswered = 0
    timelines: list[dict[str, object]] = []
    unaligned = 0
    for report in reports:
        caller_timelines = [t for t in report.of_type("turn_timeline") if t["turn_index"] != 0]
        # A reply that was the apology of a failed responder is no answer (the native protocol's
        # timeline says so; on the phone transports the record's `reply_failed` event does).
        failed_turns = {int(e["turn"]) for e in report.of_type("reply_failed")}
        failed_turns |= {int(t["turn_index"]) for t in caller_timelines if t.get("failed")}
        timelines += [
            {**t, "failed": True} if t["turn_index"] in failed_turns else t
            for t in caller_timelines
        ]
        aligned = len(caller_timelines) == len(report.turns)  # caller turn k is server turn k
        unaligned += 0 if aligned else len(failed_turns)
        for k, turn in enumerate(report.turns, start=1):
            if turn.ttfa_ms is None or (aligned and k in failed_turns):
                unanswered += 1
            else:
                client.append(turn.ttfa_ms)
        # Where turns cannot be paired, a failed one keeps its time and also counts as
        # unanswered: the figure can only come out worse, never better, than the truth.
        unanswered += 0 if aligned else len(failed_turns)
    failed = sum(bool(t.get("failed")) for t in timelines)  # the apology of a failed responder
    answered = [
        t
        for t in timelines
        if t.get("ttfa_ms") is not None and not t.get("interrupted") and not t.get("failed")
    ]
    asked = sum(len(report.turns) for report in reports)
    if planned is not None and planned > asked:
        unanswered += planned - asked  # lines a call ended before
        asked = planned
    rows = [
        f"time-to-first-audio, {label}: {asked} caller turns in {len(reports)} calls, "
        f"{unanswered} with no reply"
    ]
    if failed:
        rows.append(f"{failed} replies were the apology of a failed responder: counted as no "
                    "reply in both rows")  # fmt: skip
    if unaligned:
        rows.append(f"{unaligned} of those in calls whose turns the server counted otherwise: "
                    "counted as no reply beside their time at the caller")  # fmt: skip
    rows.append(f"{'measure':44} {'p50 ms':>8} {'p95 ms':>8}")

    def row(name: str, values: Sequence[float], missing: int = 0) -> None:
        if values or missing:
            p50, p95 = (with_missing(values, missing, q) for q in (0.5, 0.95))
            cells = [f"{v:8.0f}" if v != float("inf") else f"{'none':>8}" for v in (p50, p95)]
            rows.append(f"{name:44} {cells[0]} {cells[1]}")

    row("TTFA at the caller (end of speech → audio in)", client, unanswered)
    server = [float(t["ttfa_ms"]) for t in answered]  # type: ignore[arg-type]
    row("TTFA at the server (timeline)", server, max(0, asked - len(server)))
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
    llm = [e for report in reports for e in report.of_type("llm")]
    if llm:
        used = sum(e.get("preemptive") == "used" for e in llm)
        dropped = sum(e.get("preemptive") == "discarded" for e in llm)
        hedged = sum(bool(e.get("hedged")) for e in llm)
        rows.append(
            f"LLM requests started early: {used} used, {dropped} discarded; hedged: {hedged}"
        )
    head_start_rows(reports, rows, row)
    return "\n".join(rows)


HEAD_START_MARKS = (
    ("words_ms", "speculative words known (LLM asked)"),
    ("request_ms", "LLM request sent"),
    ("first_token_ms", "first token"),
    ("first_words_ms", "first words written (synthesized on their own)"),
    ("first_clause_ms", "first clause written"),
    ("audio_ready_ms", "first audio synthesized"),
    ("end_of_turn_ms", "turn ended"),
    ("taken_ms", "reply takes the head start's audio"),
)


def head_start_rows(reports: list[CallReport], rows: list[str], row: Any) -> None:
    """The speculative reply (`head_start` events) against the caller's last speech sample;
    `row(name, values)` adds a p50/p95 line to `rows`."""
    heads: list[dict[str, Any]] = []
    outcomes: dict[str, int] = {}
    for report in reports:
        prepared = sorted(float(e["at_ms"]) for e in report.of_type("llm_prepared"))
        for head in report.of_type("head_start"):
            outcome = str(head.get("outcome"))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if outcome != "used" or head.get("speech_end_ms") is None:
                continue
            words = float(head["words_ms"])
            sent = [at for at in prepared if at >= words - 0.5]
            heads.append({**head, "request_ms": sent[0] if sent else None})
    if not outcomes:
        return
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    rows.append(f"head starts (first clause synthesized before the turn ended): {summary}")
    if not heads:
        return
    rows.append("used head starts, from the caller's last speech sample:")
    for key, name in HEAD_START_MARKS:
        values = [
            float(h[key]) - float(h["speech_end_ms"])
            for h in heads
            if isinstance(h.get(key), int | float)
        ]
        row(f"  {name}", values)
    before = [
        float(h["end_of_turn_ms"]) - float(h["first_token_ms"])
        for h in heads
        if isinstance(h.get("first_token_ms"), int | float)
    ]
    row("first token this long before the turn ended", before)


@contextlib.asynccontextmanager
async def llm_server(args: argparse.Namespace) -> AsyncIterator[str | None]:
    """The LLM the agent uses: `--llm`, the scripted server (`--fake-llm`), or none."""
    if args.llm:
        yield args.llm
        return
    if not args.fake_llm:
        yield None
        return
    from tests.fakes.openai_server import spoken_reply, start_fake_openai

    async with start_fake_openai(
        [], ttft_ms=args.ttft_ms, tokens_per_s=args.tokens_per_s, default=spoken_reply
    ) as fake:
        yield fake.base_url


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20, help="caller questions in all")
    parser.add_argument("--per-call", type=int, default=4, help="questions per call")
    parser.add_argument("--concurrency", type=int, default=1, help="calls at once")
    parser.add_argument("--url", help="use a running server instead of starting one")
    parser.add_argument("--server-arg", action="append", default=[], help="extra serve flag")
    parser.add_argument(
        "--transport", choices=["native", "twilio", "webrtc", "sip"], default="native",
        help="native WebSocket at 16 kHz, phone calls (8 kHz µ-law) over Twilio Media Streams "
        "or SIP and RTP, or WebRTC from an aiortc peer (Opus 48 kHz)",
    )  # fmt: skip
    parser.add_argument("--llm", help="an OpenAI-compatible API root (…/v1) for an LLM agent")
    parser.add_argument("--fake-llm", action="store_true", help="start the scripted LLM server")
    parser.add_argument("--ttft-ms", type=float, default=300.0, help="scripted time to first token")
    parser.add_argument("--tokens-per-s", type=float, default=50.0, help="scripted token rate")
    parser.add_argument("--agent", help="the agent to call (default: clinic, or shop with an LLM)")
    args = parser.parse_args()
    phone = args.transport in ("twilio", "sip")
    http = phone or args.transport == "webrtc"
    sip_port = free_port() if args.transport == "sip" else None
    with_llm = bool(args.llm or args.fake_llm)
    agent = args.agent or (LLM_AGENT if with_llm else AGENT)

    server: subprocess.Popen[bytes] | None = None
    url = args.url
    with tempfile.TemporaryDirectory() as data_dir:
        async with llm_server(args) as llm_url:
            if url is None:
                create_bench_key(data_dir)
                port = free_port()
                env = {**os.environ, "CALLWRIGHT_LOG_LEVEL": "WARNING"}
                if llm_url:
                    env |= {"CALLWRIGHT_LLM_BASE_URL": llm_url, "CALLWRIGHT_LLM_MODEL": "bench"}
                if phone:
                    env["CALLWRIGHT_TWILIO_AUTH_TOKEN"] = BENCH_AUTH_TOKEN
                if sip_port is not None:
                    env["CALLWRIGHT_SIP_PORT"] = str(sip_port)
                    env["CALLWRIGHT_SIP_ALLOW_FROM"] = "127.0.0.1/32"
                server = subprocess.Popen(
                    [sys.executable, "-m", "callwright", "serve", "--agent", agent,
                     "--port", str(port), "--data-dir", data_dir, *args.server_arg],
                    cwd=ROOT, env=env,
                )  # fmt: skip
                url = f"http://127.0.0.1:{port}" if http else f"ws://127.0.0.1:{port}/v1/ws"
            try:
                if server is not None:  # inside the try: a server that never got healthy is stopped
                    await wait_healthy(f"http://127.0.0.1:{port}", server, timeout_s=600)
                if with_llm:
                    calls = scripts(args.turns, args.per_call, LLM_QUESTIONS, goodbye=False)
                elif phone:
                    calls = scripts(args.turns, args.per_call, PHONE_QUESTIONS)
                else:
                    calls = scripts(args.turns, args.per_call)
                planned = sum(len(c) for c in calls)  # every line of every script expects a reply
                if phone:
                    reports = await run_phone_calls(url, calls, args.concurrency, sip_port)
                elif args.transport == "webrtc":
                    reports = await run_webrtc_calls(url, calls, args.concurrency)
                else:
                    reports = await run_calls(url, calls, args.concurrency)
            finally:
                if server is not None:
                    server.terminate()  # it drains first; a loaded machine may take a while
                    try:
                        server.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        server.kill()
                        server.wait()
    label = f"native WebSocket 16 kHz, {args.concurrency} call(s) at once"
    if phone:
        label = f"phone calls over Twilio Media Streams (µ-law 8 kHz), {args.concurrency} at once"
    elif args.transport == "webrtc":
        label = f"WebRTC from an aiortc peer (Opus 48 kHz), {args.concurrency} call(s) at once"
    if sip_port is not None:
        label = f"phone calls over SIP and RTP (µ-law 8 kHz), {args.concurrency} at once"
    if with_llm:
        label += f", LLM {'scripted ' if args.fake_llm else ''}agent {agent}"
        if args.fake_llm:
            label += f" ({args.ttft_ms:g} ms to first token, {args.tokens_per_s:g} tokens/s)"
    print(summarize(reports, label, planned))
    client = [t.ttfa_ms for r in reports for t in r.turns if t.ttfa_ms is not None]
    if client:
        print(f"mean at the caller over the {len(client)} answered turns: "
              f"{statistics.fmean(client):.0f} ms")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
