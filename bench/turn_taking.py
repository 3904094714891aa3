"""Turn-taking benchmark over the Twilio protocol: the tail of time-to-first-audio, mid-sentence
pausers cut off, backchannels (false interruptions and the gap they leave in the agent's voice)
and how fast a real interruption stops the agent.

Starts `callwright serve` (the clinic receptionist, embedded models) in its own process and
places phone calls over Twilio Media Streams (µ-law 8 kHz) with caller voices the agent was
never tuned on: flite kal/awb/rms/slt, Festival HTS and espeak-ng.

    python bench/turn_taking.py               # every voice, about 15 minutes
    python bench/turn_taking.py --voices 2    # the first two voices
    python bench/turn_taking.py --baseline    # also VAD silence only (480 ms), for comparison
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
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
AGENT = "examples/clinic/agent.py"  # the agent the benchmark calls
sys.path.insert(0, str(ROOT))

from bench.caller_voices import caller_voices, voice_name  # noqa: E402
from bench.operator_key import create_bench_key  # noqa: E402
from bench.ttfa import BENCH_AUTH_TOKEN, free_port, wait_healthy, with_missing  # noqa: E402
from callwright.sim.caller import ScriptLine  # noqa: E402
from callwright.sim.twilio_caller import PhoneCallReport, TwilioCallerSimulator  # noqa: E402
from callwright.tts.base import TextToSpeech  # noqa: E402

# Answers that end in names, dates, numbers, lists and self-corrections, in calls that ask for
# them: booking (identity, doctor, day) and statements at the menu.
ANSWER_CALLS: tuple[tuple[str, ...], ...] = (
    (
        "I'd like to book an appointment.",
        "Maria Garcia, March twelfth, nineteen eighty four.",
        "Doctor Patel, please.",
        "Next Tuesday, no, sorry, Wednesday.",
        "Thank you, goodbye.",
    ),
    (
        "Can I make an appointment?",
        "My name is John Smith, and I was born on July fourth, nineteen ninety.",
        "I'd like to see Doctor Nguyen.",
        "Thursday, please.",
        "Thank you, goodbye.",
    ),
    (
        "What are your opening hours?",
        "I need a checkup, a flu shot and a blood test.",
        "My number is five five five, zero one zero, one two three four.",
        "Thank you, goodbye.",
    ),
)
# Mid-sentence pausers: each line is synthesized whole and the caller falls silent at the "|",
# a word boundary inside the sentence where the thought is open (after a word that opens a
# phrase, inside a title and name, inside a number), so the voice before the pause keeps its
# continuing intonation (callwright/sim/pausing.py).
PAUSERS = (
    "I'd like to book an appointment on | Tuesday morning.",
    "Can I see Doctor | Patel sometime next week?",
    "My date of birth is | March third, nineteen eighty.",
    "I need to cancel my | appointment for Friday.",
    "I was wondering if | you are open on Saturday.",
    "The best number to reach me is five five five | one two three four.",
    "Do you have anything on | Monday afternoon?",
    "I'm calling about my | appointment next week.",
    "I'd like to schedule a | follow-up visit with Doctor Nguyen.",
    "Could you tell me whether the clinic | takes walk-in patients?",
    "My son has had a fever and | a sore throat since yesterday.",
    "I'm free any day except | Thursday and Friday.",
    "The appointment is for my daughter | Emily Brown.",
    "Is it possible to move my appointment to | later in the afternoon?",
    "My insurance provider is | Blue Cross Blue Shield.",
    "I think I left my | glasses at your office yesterday.",
)
# Four a voice: 24 over the six voices, enough to tell "at most 1 in 20" from 2 in 20.
PAUSERS_PER_VOICE = 4
BACKCHANNELS = ("Uh-huh.", "Mm-hmm.", "Yeah.", "Okay.", "Right.")
VERBOSE = "--verbose" in sys.argv
INTERRUPTIONS = ("Wait, stop.", "Sorry, one question.", "Hold on, where are you located?")


@dataclass
class Results:
    ttfa_ms: list[float] = field(default_factory=list)
    unanswered: int = 0  # caller turns the agent never answered: endless waits in the TTFA
    pause_trials: int = 0
    cut_offs: int = 0
    unheard_pausers: int = 0  # pausers of whom no transcript came at all
    stop_missed: int = 0  # interruptions the agent never stopped for
    duck_missed: int = 0  # interruptions the phone never saw ducked
    backchannel_trials: int = 0
    false_interruptions: int = 0
    backchannel_gap_ms: list[float] = field(default_factory=list)
    stop_ms: list[float] = field(default_factory=list)
    duck_ms: list[float] = field(default_factory=list)
    duck_server_ms: list[float] = field(default_factory=list)  # onset → ducked, on the server
    long_waits: int = 0  # end-of-turn waits over 1.2 s (from the `pause` events)
    waits: int = 0
    eot_wait_ms: list[float] = field(default_factory=list)  # speech end → end of turn, server
    server_ttfa_ms: list[float] = field(default_factory=list)
    # The same phone's longest agent silence in the second before the backchannel: what the
    # loaded machine causes anyway (playout underruns), for comparison with the gap after it.
    control_gap_ms: list[float] = field(default_factory=list)
    # Per caller turn, ms: where TTFA went (see STAGES).
    stages: dict[str, list[float]] = field(default_factory=dict)

    def add_stage(self, name: str, value: float | None) -> None:
        if value is not None:
            self.stages.setdefault(name, []).append(value)

    def add_timelines(self, detail: dict[str, Any]) -> None:
        """The server's view of each caller turn: the silence waited, and its TTFA."""
        for t in detail["timelines"]:
            if t.get("turn_index", 0) < 1 or t.get("interrupted"):
                continue
            if t.get("end_of_turn_ms") is not None and t.get("speech_end_ms") is not None:
                self.eot_wait_ms.append(t["end_of_turn_ms"] - t["speech_end_ms"])
            if t.get("ttfa_ms") is not None:
                self.server_ttfa_ms.append(t["ttfa_ms"])
            for name, (first, then) in STAGES.items():
                if t.get(first) is not None and t.get(then) is not None:
                    self.add_stage(name, t[then] - t[first])
            self.add_stage("Whisper compute of the turn's transcript", t.get("stt_compute_ms"))
            if VERBOSE:
                print(f"    turn {t['turn_index']}: {stages_of(t)}", file=sys.stderr)


STAGES = {  # name: (from mark, to mark) on the server's turn timeline
    "the caller's silence waited (end of turn)": ("speech_end_ms", "end_of_turn_ms"),
    "the responder's first sentence": ("end_of_turn_ms", "first_sentence_ms"),
    "TTS of the first piece": ("first_sentence_ms", "tts_first_audio_ms"),
    "first frame on the wire": ("tts_first_audio_ms", "first_audio_sent_ms"),
}


def stages_of(t: dict[str, Any]) -> str:
    """One turn's stages on the server, ms from the previous mark (speech end first)."""
    marks = ("end_of_turn", "transcript_ready", "first_token", "first_sentence", "tts_first_audio",
             "first_audio_sent")  # fmt: skip
    previous, parts = t.get("speech_end_ms"), []
    for name in marks:
        value = t.get(f"{name}_ms")
        if value is not None and previous is not None:
            parts.append(f"{name}+{value - previous:.0f}")
            previous = value
    hit = t.get("speculative_hit")
    return f"ttfa={t.get('ttfa_ms')} {' '.join(parts)} stt={t.get('stt_compute_ms')} spec={hit}"


@asynccontextmanager
async def server(semantic: bool) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "CALLWRIGHT_LOG_LEVEL": "WARNING",
        "CALLWRIGHT_TWILIO_AUTH_TOKEN": BENCH_AUTH_TOKEN,
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
            await wait_healthy(f"http://127.0.0.1:{port}", process, timeout_s=900)  # loaded
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)  # the server drains its calls first (up to 30 s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def call(base: str, voice: TextToSpeech, script: list[ScriptLine]) -> PhoneCallReport:
    simulator = TwilioCallerSimulator(base, voice, BENCH_AUTH_TOKEN, turn_timeout_s=15.0)
    return await simulator.run(script)


async def detail_of(base: str, report: PhoneCallReport) -> dict[str, Any]:
    """The server's record of a call (events, timelines), found by its call SID."""
    key = os.environ.get("CALLWRIGHT_API_KEY", "")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
        for _ in range(20):
            async with http.get(f"{base}/v1/calls?limit=1000") as response:
                listed = (await response.json())["calls"]
            for entry in listed:
                async with http.get(f"{base}/v1/calls/{entry['call_id']}") as response:
                    found: dict[str, Any] = await response.json()
                if found["call"]["parameters"].get("call_sid") == report.call_sid:
                    return found
            await asyncio.sleep(0.25)
    raise RuntimeError(f"no record of call {report.call_sid}")


def longest_gap_ms(report: PhoneCallReport, since_s: float, until_s: float | None = None) -> float:
    """The longest run of 20 ms ticks the phone had no agent audio to play, from `since_s`
    until the last agent audio played, or `until_s` (ducked audio is audio: not counted)."""
    end = until_s if until_s is not None else float("inf")
    ticks = [(t, n) for t, n in report.playback if since_s <= t < end]
    last = max((i for i, (_, n) in enumerate(ticks) if n > 0), default=-1)
    longest = run = 0
    for _, played in ticks[: last + 1]:
        run = run + 1 if played == 0 else 0
        longest = max(longest, run)
    return 20.0 * longest


async def measure(base: str, voice: TextToSpeech, results: Results, index: int) -> None:
    # Answers: TTFA on every turn, and how long each pause was given.
    script = ANSWER_CALLS[index % len(ANSWER_CALLS)]
    report = await call(base, voice, [ScriptLine(line) for line in script])
    results.ttfa_ms += [t.ttfa_ms for t in report.turns if t.ttfa_ms is not None]
    results.unanswered += sum(t.ttfa_ms is None for t in report.turns)
    results.unanswered += max(0, len(script) - len(report.turns))  # lines never reached
    detail = await detail_of(base, report)
    results.add_timelines(detail)
    for event in detail["events"]:
        if event["kind"] == "pause":
            results.waits += 1
            results.long_waits += event["data"]["wait_ms"] > 1200
            late = event["data"].get("judged_after_ms")
            if late is not None:  # speech end → the pause's words judged (STT latency)
                results.add_stage("words of a pause known", late)
        if VERBOSE and event["kind"] in ("pause", "transcript"):
            print(f"  {event['kind']:10} {event['data']}", file=sys.stderr)
    if VERBOSE:
        for utterance in detail.get("utterances", []):
            print(f"  {utterance['role']:6} {utterance['text'][:90]}", file=sys.stderr)
    if VERBOSE:
        print(f"  TTFA {[t.ttfa_ms for t in report.turns]}", file=sys.stderr)
    # Mid-sentence pausers: 0.5 to 1.5 s of silence in the middle.
    for k in range(PAUSERS_PER_VOICE):
        n = PAUSERS_PER_VOICE * index + k
        pauser = PAUSERS[n % len(PAUSERS)]
        pause_ms = 500.0 + 1000.0 * (n % 5) / 4
        report = await call(base, voice, [ScriptLine(pauser, pause_ms=pause_ms)])
        detail = await detail_of(base, report)
        transcripts = [e for e in detail["events"] if e["kind"] == "transcript"]
        if VERBOSE:
            print(f"  pauser {pause_ms:.0f} ms: {pauser}", file=sys.stderr)
            for event in detail["events"]:
                if event["kind"] in ("pause", "transcript"):
                    print(f"    {event['kind']:10} {event['data']}", file=sys.stderr)
        results.pause_trials += 1
        results.cut_offs += len(transcripts) > 1
        results.unheard_pausers += not transcripts
        if len(transcripts) > 1:  # what the first half was heard as, and how it was judged
            pauses = [e["data"] for e in detail["events"] if e["kind"] == "pause"]
            heard = [e["data"].get("text") for e in transcripts]
            print(f"  cut off ({pause_ms:.0f} ms): {pauser!r} heard {heard} {pauses[:2]}",
                  file=sys.stderr)  # fmt: skip
        if len(transcripts) == 1:
            results.ttfa_ms += [t.ttfa_ms for t in report.turns if t.ttfa_ms is not None]
            results.unanswered += sum(t.ttfa_ms is None for t in report.turns)
            results.add_timelines(detail)
    # A backchannel 1.2 s into the agent's answer: no interruption, no gap in its voice.
    line = ScriptLine(
        BACKCHANNELS[index % len(BACKCHANNELS)], barge_in_after_ms=1200, expect_reply=False
    )
    report = await call(base, voice, [ScriptLine("What are your opening hours?"), line])
    detail = await detail_of(base, report)
    results.backchannel_trials += 1
    results.false_interruptions += any(e["kind"] == "barge_in" for e in detail["events"])
    if VERBOSE:
        overlap = ("agent_paused", "interruption_heard", "backchannel", "barge_in", "transcript")
        print(f"  backchannel {line.text!r}", file=sys.stderr)
        for event in detail["events"]:
            if event["kind"] in overlap:
                print(f"    {event['kind']:18} {event['data']}", file=sys.stderr)
    onset = report.lines[1].speech_start_s if len(report.lines) > 1 else 0.0
    if onset:
        results.backchannel_gap_ms.append(longest_gap_ms(report, onset))
        results.control_gap_ms.append(longest_gap_ms(report, onset - 1.0, onset))
    # A real interruption 1.5 s into the answer: caller onset → `clear` at the phone.
    line = ScriptLine(INTERRUPTIONS[index % len(INTERRUPTIONS)], barge_in_after_ms=1500)
    report = await call(base, voice, [ScriptLine("What are your opening hours?"), line])
    onset = report.lines[1].speech_start_s if len(report.lines) > 1 else 0.0
    clears = [e["_received_s"] for e in report.of_type("clear") if e["_received_s"] >= onset]
    if onset and clears:  # the first `clear` takes back the lead, resent ducked
        results.duck_ms.append(round((clears[0] - onset) * 1000.0, 1))
    else:
        results.duck_missed += 1
    detail = await detail_of(base, report)
    paused = [e for e in detail["events"] if e["kind"] == "agent_paused"]
    if paused and "decided_at_ms" in paused[0]["data"]:
        results.duck_server_ms.append(paused[0]["data"]["decided_at_ms"] - paused[0]["at_ms"])
    barge = [e for e in detail["events"] if e["kind"] == "barge_in"]
    if barge and "decided_at_ms" in barge[0]["data"]:
        results.stop_ms.append(barge[0]["data"]["decided_at_ms"] - barge[0]["at_ms"])
    else:
        results.stop_missed += 1


def table(rows: Sequence[tuple[str, Results]]) -> str:
    def p(values: list[float], q: float, missing: int = 0) -> str:
        """Nearest rank; what never came (`missing`) counts as an endless wait ("none")."""
        if not values and not missing:
            return "-"
        found = with_missing(values, missing, q)
        return "none" if found == float("inf") else f"{found:.0f}"

    head = (
        f"{'endpointing':12} {'answered':>9} {'TTFA p50':>9} {'TTFA p95':>9} {'cut off':>8} "
        f"{'unheard':>7} "
        f"{'waits>1.2s':>10} {'bc. int.':>8} {'bc. gap max':>11} {'ctl. gap':>8} {'duck p50':>9} "
        f"{'duck p95':>9} {'duck srv':>9} {'stop p50':>9} "
        f"{'stop p95':>9}"
        f" {'wait p50':>9} {'wait p95':>9} {'srv p95':>8}"
    )
    lines = [head]
    for name, r in rows:
        gap = f"{max(r.backchannel_gap_ms):.0f}" if r.backchannel_gap_ms else "-"
        control = f"{max(r.control_gap_ms):.0f}" if r.control_gap_ms else "-"
        lines.append(
            f"{name:12} {f'{len(r.ttfa_ms)}/{len(r.ttfa_ms) + r.unanswered}':>9} "
            f"{p(r.ttfa_ms, 0.5, r.unanswered):>9} {p(r.ttfa_ms, 0.95, r.unanswered):>9} "
            f"{f'{r.cut_offs}/{r.pause_trials}':>8} {r.unheard_pausers:>7} "
            f"{f'{r.long_waits}/{r.waits}':>10} "
            f"{f'{r.false_interruptions}/{r.backchannel_trials}':>8} {gap:>11} {control:>8} "
            f"{p(r.duck_ms, 0.5, r.duck_missed):>9} {p(r.duck_ms, 0.95, r.duck_missed):>9} "
            f"{p(r.duck_server_ms, 0.95):>9} "
            f"{p(r.stop_ms, 0.5, r.stop_missed):>9} "
            f"{p(r.stop_ms, 0.95, r.stop_missed):>9} "
            f"{p(r.eot_wait_ms, 0.5):>9} "
            f"{p(r.eot_wait_ms, 0.95):>9} {p(r.server_ttfa_ms, 0.95):>8}"
        )
    lines.append(
        "TTFA: caller's end of speech → first agent audio at the phone, ms, over answers and "
        "finished pausers, nearest rank, a turn never answered counted as an endless wait "
        "(answered: turns answered / asked); cut off: pausers answered before they finished; "
        "unheard: pausers of whom no transcript came; waits>1.2s: pauses "
        "given more than 1.2 s; bc. int.: backchannels that interrupted the agent; bc. gap max: "
        "longest agent silence at the phone after a backchannel, ms; ctl. gap: the same in the "
        "second before it (underruns of a loaded machine); duck: caller onset → the "
        "agent ducked (`clear` of its lead) at the phone, ms; duck srv: the same on the server's "
        "audio timeline (the ducked lead sent), p95, ms; stop: caller onset → the reply "
        "stopped for good (server audio timeline), ms, an interruption never stopped for (or "
        "never ducked) counted as endless; wait: the caller's silence the server "
        "waited before deciding the turn was over, ms; srv: TTFA on the server's turn timeline, ms."
    )
    for name, r in rows:
        lines.append(f"\n{name}: where the time goes, per caller turn (server), ms")
        lines.append(f"{'stage':44} {'p50':>8} {'p95':>8} {'n':>4}")
        for stage, values in r.stages.items():
            lines.append(f"{stage:44} {p(values, 0.5):>8} {p(values, 0.95):>8} {len(values):>4}")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voices", type=int, default=6, help="how many caller voices")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per voice")
    parser.add_argument("--baseline", action="store_true", help="also VAD silence only")
    parser.add_argument("--verbose", action="store_true", help="print each answer call's turns")
    args = parser.parse_args()
    voices = caller_voices()[: args.voices]
    configs = [("semantic", True)] + ([("VAD only", False)] if args.baseline else [])
    rows: list[tuple[str, Results]] = []
    for name, semantic in configs:
        results = Results()
        async with server(semantic) as base:
            for round_index in range(args.rounds):
                for i, voice in enumerate(voices):
                    index = round_index * len(voices) + i
                    print(f"{name}: {voice_name(voice)} round {round_index + 1}", file=sys.stderr)
                    await measure(base, voice, results, index)  # type: ignore[arg-type]
                    # So far, in case a slow machine cuts the run short.
                    print(table([*rows, (name, results)]), file=sys.stderr)
        rows.append((name, results))
    print(table(rows))
    load = os.getloadavg()[0]
    print(f"load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    asyncio.run(main())
