"""The load generator's arithmetic: how late agent frames are at the phone, TTFA, the steps,
capacity and the generator-bound verdict (text only: no server, no audio)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from callwright.observe.loop_lag import ProcessUsage
from callwright.sim.load import LoadBins, LoadOptions, StepBin, plan_call
from callwright.sim.load_caller import CallPlan, LoadCaller, Target, media_payload_size
from callwright.sim.load_clips import Clip
from callwright.sim.load_report import (
    baseline_rss,
    build_report,
    capacity,
    percentiles,
    server_processes,
    summarize_step,
)
from callwright.sim.load_ticks import FrameClock


class Recorded:
    """A sink that keeps what the caller measured."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self.jitter: list[float | None] = []
        self.ttfas: list[float | None] = []

    def ttfa(self, at_s: float, ms: float | None) -> None:
        self.ttfas.append(ms)

    def frame(self, at_s: float, late_ms: float, jitter_ms: float | None) -> None:
        self.late.append(late_ms)
        self.jitter.append(jitter_ms)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def caller_with_clock() -> tuple[LoadCaller, Recorded, Clock]:
    sink, clock = Recorded(), Clock()
    caller = LoadCaller(0, Target("http://x"), CallPlan(()), sink, clock=clock)
    return caller, sink, clock


def test_frames_on_time_are_not_late_and_a_stall_is_late_once_by_its_length() -> None:
    caller, sink, clock = caller_with_clock()
    # The 60 ms lead arrives at once, then one frame every 20 ms.
    arrivals = [0.0, 0.0, 0.0] + [0.02 * k for k in range(1, 8)]
    # A 100 ms stall: the next frame was due 20 ms after the last one, and comes 120 ms after.
    stall_at = arrivals[-1] + 0.12
    arrivals += [stall_at] + [stall_at + 0.02 * k for k in range(1, 5)]
    start = clock.now
    for t in arrivals:
        clock.now = start + t
        caller._agent_frame(160)
    late = sink.late
    assert late[:10] == [0.0] * 10
    # Due at frame index 10 * 20 ms = 200 ms from the anchor; it came at 260 ms.
    assert late[10] == pytest.approx(stall_at * 1000.0 - 200.0, abs=0.01)
    assert late[10] > 0
    assert late[11:] == [0.0] * 4  # the phone plays on from the late frame
    jitter = [j for j in sink.jitter if j is not None]
    assert max(jitter) == pytest.approx(100.0, abs=0.01)


def test_a_gap_inside_a_reply_is_late_by_its_length_and_a_new_reply_starts_afresh() -> None:
    caller, sink, clock = caller_with_clock()
    start = clock.now
    for k in range(5):
        clock.now = start + 0.02 * k
        caller._agent_frame(160)
    clock.now += 2.0  # the agent stalls for two seconds mid-reply: the phone hears it
    caller._agent_frame(160)
    assert sink.late[:5] == [0.0] * 5
    assert sink.late[5] == pytest.approx(2000.0 - 20.0, abs=0.01)  # due 20 ms after the last
    caller._speech_end = clock.now + 1.0  # the caller speaks; the agent's next reply
    clock.now += 3.0
    caller._agent_frame(160)
    assert sink.late[6] == 0.0


def test_ttfa_runs_from_the_end_of_speech_to_the_first_frame_after_it() -> None:
    caller, sink, clock = caller_with_clock()
    caller._speech_end = clock.now
    caller._waiting_first = True
    clock.now += 0.45
    caller._agent_frame(160)
    clock.now += 0.02
    caller._agent_frame(160)
    assert sink.ttfas == [pytest.approx(450.0)]


def _step(live: int, ttfa: list[float], late: list[float], bad: int = 0) -> StepBin:
    step = StepBin(ttfa_ms=ttfa, late_ms=late, live=[live, live])
    step.ended = Counter({"completed": 3, "failed": bad})
    return step


def test_capacity_is_the_busiest_clean_step_and_failures_disqualify_a_step() -> None:
    steps = [
        summarize_step(0, 10, _step(10, [400.0] * 20, [0.0] * 100), None),
        summarize_step(1, 20, _step(20, [600.0] * 20, [0.0] * 100), None),
        # Fast enough, but a call failed: not counted.
        summarize_step(2, 30, _step(30, [700.0] * 20, [0.0] * 100, bad=1), None),
        summarize_step(3, 40, _step(40, [1500.0] * 20, [30.0] * 100), None),
    ]
    cap = capacity(steps, ttfa_p95_ms=1000.0, lag_p95_ms=None)
    assert cap["calls"] == 20
    lag_cap = capacity(steps, ttfa_p95_ms=None, lag_p95_ms=20.0)
    assert lag_cap["calls"] == 20
    assert steps[2]["bad_calls"] == 1
    # A step that never held its level (calls failing to start) is no capacity either.
    short = summarize_step(4, 50, _step(20, [300.0] * 20, [0.0] * 100), None)
    assert capacity([*steps, short], ttfa_p95_ms=1000.0, lag_p95_ms=None)["calls"] == 20
    assert capacity([*steps, short], 1000.0, None)["step"] == 1


def test_a_step_whose_generator_ran_late_is_flagged() -> None:
    busy = StepBin(live=[5], generator_lag_ms=[40.0] * 50)
    busy.generator_usage = [ProcessUsage(0.0, 0.0, 0), ProcessUsage(0.5, 1.0, 0)]
    busy.generator_cpu_max = 50.0
    calm = StepBin(live=[5], generator_lag_ms=[1.0] * 50)
    calm.generator_usage = list(busy.generator_usage)
    calm.generator_cpu_max = 50.0
    hot = StepBin(live=[5], generator_lag_ms=[1.0] * 50)
    hot.generator_usage = list(busy.generator_usage)
    hot.generator_cpu_max = 97.0
    assert summarize_step(0, 5, busy, None)["generator_bound"]
    assert not summarize_step(0, 5, calm, None)["generator_bound"]
    assert summarize_step(0, 5, hot, None)["generator_bound"]


def test_server_cpu_and_memory_per_call_come_from_the_growth_over_the_step() -> None:
    step = StepBin(live=[10, 10])
    mb = 2**20
    step.server_polls = [
        {"_at": 0.0, "cpu_seconds": 5.0, "rss_bytes": 300 * mb},
        {"_at": 10.0, "cpu_seconds": 10.0, "rss_bytes": 300 * mb},
    ]
    row = summarize_step(0, 10, step, baseline_rss=250 * mb)
    assert row["server_cpu_percent"] == pytest.approx(50.0)
    assert row["server_cpu_percent_per_call"] == pytest.approx(5.0)
    assert row["server_rss_mb_per_call"] == pytest.approx(5.0)


def test_a_server_of_several_processes_is_summed_per_process() -> None:
    # Two processes on one port answer the polls in turn; each one's counters are its own.
    step = StepBin(live=[20, 20])
    mb = 2**20
    step.server_polls = [
        {"_at": 10.0, "pid": 2, "cpu_seconds": 100.0, "rss_bytes": 200 * mb},
        {"_at": 0.0, "pid": 1, "cpu_seconds": 5.0, "rss_bytes": 300 * mb},
        {"_at": 10.0, "pid": 1, "cpu_seconds": 10.0, "rss_bytes": 300 * mb},
        {"_at": 0.0, "pid": 2, "cpu_seconds": 92.0, "rss_bytes": 200 * mb},
    ]
    row = summarize_step(0, 20, step, baseline_rss=400 * mb)
    assert row["server_cpu_percent"] == pytest.approx(50.0 + 80.0)
    assert row["server_rss_mb"] == pytest.approx(500.0)
    assert row["server_rss_mb_per_call"] == pytest.approx(5.0)
    assert baseline_rss([step]) == 500 * mb  # each process's earliest poll
    assert server_processes([step]) == 2


def test_the_ramp_bins_by_step_and_no_outcome_is_left_out_of_the_report() -> None:
    bins = LoadBins(started=1000.0, step_s=10.0, steps=2)
    bins.ttfa(1005.0, 300.0)
    bins.ttfa(1015.0, None)
    bins.frame(1019.0, 5.0, 1.0)
    bins.bins[1].ended["dropped"] += 1
    raw = {"bins": bins, "outcomes": [], "server": {}}
    report = build_report(raw, {"calls": 4, "step_calls": 2}, {"ttfa_p95_ms": 1000.0})
    first, second = report["steps"]
    assert first["ttfa_ms"]["n"] == 1 and second["ttfa_ms"]["n"] == 0
    assert second["unanswered_lines"] == 1 and second["bad_calls"] == 1
    assert [s["target_calls"] for s in report["steps"]] == [2, 4]
    assert report["capacity"]["calls"] == 0  # no step had live calls sampled


def test_a_closing_line_is_only_ever_the_last_thing_a_caller_says() -> None:
    import random

    clips = [Clip(t, "v", ("x",), (b"x",)) for t in ("a?", "b?", "c?", "bye.")]
    rng = random.Random(3)
    options = LoadOptions(lines_per_call=(2, 4))
    for _ in range(50):
        plan = plan_call(clips, rng, options)
        texts = [clip.text for clip, _ in plan.lines]
        assert "bye." not in texts[:-1]
        assert 2 <= len(texts) <= 4


def test_media_payload_size_reads_only_media_messages() -> None:
    payload = "f" * 216
    media = {"event": "media", "streamSid": "MZ1", "media": {"payload": payload}}
    assert media_payload_size(json.dumps(media, separators=(",", ":"))) == 216
    mark = {"event": "mark", "streamSid": "MZ1", "mark": {"name": "cw-1"}}
    assert media_payload_size(json.dumps(mark, separators=(",", ":"))) is None
    spaced = json.dumps(media)  # not the compact form: left to the JSON parser
    assert media_payload_size(spaced) is None
    track_last = '{"event":"media","media":{"payload":"ab","track":"x"}}'
    assert media_payload_size(track_last) is None


async def test_frame_clock_runs_each_caller_until_it_stops_in_separate_slots() -> None:
    clock = FrameClock()
    seen: list[str] = []
    last_done = asyncio.Event()

    def ticker(name: str, frames: int) -> Callable[[], Awaitable[bool]]:
        async def tick() -> bool:
            seen.append(name)
            if seen.count(name) < frames:
                return True
            if name == "a":
                last_done.set()
            return False

        return tick

    clock.join(ticker("a", 6))
    clock.join(ticker("b", 3))
    assert clock.callers == 2
    await asyncio.wait_for(last_done.wait(), 5.0)
    assert clock.callers == 0
    assert seen.count("a") == 6 and seen.count("b") == 3
    # Different slots of the period: the two callers' frames alternate, never come in pairs.
    assert seen[:6] in (["a", "b"] * 3, ["b", "a"] * 3)


async def test_a_caller_that_leaves_mid_round_sends_no_more_frames() -> None:
    clock = FrameClock()
    seen: list[str] = []
    handles: dict[str, int] = {}
    done = asyncio.Event()

    def ticker(name: str) -> Callable[[], Awaitable[bool]]:
        async def tick() -> bool:
            seen.append(name)
            if name == "first" and seen.count("first") == 2:
                # "fifth" shares this slot and comes next in it; both hung up meanwhile.
                for other in ("fifth", "second"):
                    clock.leave(handles[other])
                done.set()
            return True

        return tick

    for name in ("first", "second", "third", "fourth", "fifth"):
        handles[name] = clock.join(ticker(name))
    await asyncio.wait_for(done.wait(), 5.0)
    await asyncio.sleep(0.1)  # a few more periods
    for name in ("first", "third", "fourth"):
        clock.leave(handles[name])
    after = seen[seen.index("first", seen.index("first") + 1) :]
    assert "fifth" not in after and "second" not in after
    assert after.count("fourth") >= 2


def test_a_line_with_no_reply_is_an_endless_wait_in_the_ttfa_figures() -> None:
    # Nearest rank: the p95 of 20 lines is the 19th slowest; with one never answered it is
    # still an answer, with two it is the missing reply, which fails any objective.
    assert percentiles([400.0] * 19, missing=1) == {
        "n": 19, "missing": 1, "p50": 400.0, "p95": 400.0, "p99": None
    }  # fmt: skip
    assert percentiles([400.0] * 18, missing=2)["p95"] is None
    assert percentiles([100.0 * i for i in range(1, 16)])["p95"] == 1500.0  # 15 lines: the slowest
