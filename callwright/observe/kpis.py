"""The operator KPIs, computed from stored calls.

Definitions (over the calls started in [since, until) that have finished, i.e. status "ended" or
"cut_off", excluding connections refused before becoming calls, outcome "rejected"):

- **calls**: how many such calls.
- **escalated**: a call with an escalation or transfer event (`store.base.ESCALATION_KINDS`), or
  whose outcome is "transferred" or "escalated".
- **dropped after greeting**: not escalated, and the caller never completed a turn (no caller
  line in the transcript): they hung up, went silent or were cut off after the greeting.
- **dropped**: dropped after greeting, or cut off (worker died), or outcome "error".
- **containment_rate**: calls neither escalated nor dropped / calls. The agent handled them.
- **task_completion_rate**: calls with outcome "completed" (the agent ended the call having
  finished, e.g. said goodbye after answering) / calls.
- **escalation_rate**: escalated / calls.
- **avg_time_to_escalation_s**: mean time from the call's start to its first escalation or
  transfer event, over escalated calls that have one (None if none).
- **drop_off_after_greeting_rate**: dropped after greeting / calls.
- **avg_call_length_s**: mean of (ended_at - started_at).
- **avg_cost_per_call**: mean cost total (`observe.usage.cost_of` with the price table).
- **rejected**: connections refused before becoming calls (busy line, draining), beside the
  calls rather than in them.
- **ttfa**: p50/p95 of time-to-first-audio over caller turns (turn index > 0) with one, and
  beside them `answered` (those turns) and `unanswered` (caller turns the agent never answered
  and the caller did not cut off): a percentile over the answered alone would flatter a
  worker that fails to answer.
- **stages**: p50/p95 of each stage's duration (`TurnTimeline.breakdown`) over the same turns.

Rates are None when there are no calls; percentiles None when there are no samples.
Percentiles are nearest-rank (the smallest value with at least p% of samples at or below it).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

from callwright.core.timeline import TurnTimeline
from callwright.observe.usage import PriceTable, cost_of
from callwright.store.base import CallFilter, CallStore, CallSummary

ESCALATED_OUTCOMES = ("transferred", "escalated")
MAX_CALLS = 100_000


def is_escalated(summary: CallSummary) -> bool:
    return summary.escalated or summary.record.outcome in ESCALATED_OUTCOMES


def dropped_after_greeting(summary: CallSummary) -> bool:
    return not is_escalated(summary) and summary.caller_utterances == 0


def is_contained(summary: CallSummary) -> bool:
    dropped = (
        dropped_after_greeting(summary)
        or summary.record.status == "cut_off"
        or summary.record.outcome == "error"
    )
    return not is_escalated(summary) and not dropped


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _rate(count: int, total: int) -> float | None:
    return None if total == 0 else round(count / total, 4)


def _mean(values: Sequence[float]) -> float | None:
    return None if not values else round(sum(values) / len(values), 4)


def _p50_p95(values: Sequence[float]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


def finished_calls(summaries: Sequence[CallSummary]) -> list[CallSummary]:
    return [
        s
        for s in summaries
        if s.record.status in ("ended", "cut_off") and s.record.outcome != "rejected"
    ]


def compute_kpis(
    summaries: Sequence[CallSummary],
    timelines: Sequence[TurnTimeline],
    prices: PriceTable,
) -> dict[str, Any]:
    """The KPIs of the given calls and turn timelines (see the module docstring)."""
    calls = finished_calls(summaries)
    n = len(calls)
    escalated = [s for s in calls if is_escalated(s)]
    to_escalation = [s.escalated_at_ms / 1000.0 for s in escalated if s.escalated_at_ms is not None]
    lengths = [s.duration_s for s in calls if s.duration_s is not None]
    costs = [cost_of(s.usage, s.duration_s, s.record.channel, prices).total for s in calls]
    turns = [t for t in timelines if t.turn_index > 0]
    ttfa = [t.ttfa_ms for t in turns if t.ttfa_ms is not None]
    # Caller turns the agent never answered (and the caller did not cut off): not in the
    # percentiles, which are over answered turns, but counted beside them.
    unanswered = sum(t.ttfa_ms is None and not t.interrupted for t in turns)
    stages: dict[str, list[float]] = {}
    for t in turns:
        for stage, ms in t.breakdown().items():
            if ms is not None:
                stages.setdefault(stage, []).append(ms)
    return {
        "calls": n,
        "rejected": sum(s.record.outcome == "rejected" for s in summaries),
        "containment_rate": _rate(sum(is_contained(s) for s in calls), n),
        "task_completion_rate": _rate(sum(s.record.outcome == "completed" for s in calls), n),
        "escalation_rate": _rate(len(escalated), n),
        "avg_time_to_escalation_s": _mean(to_escalation),
        "drop_off_after_greeting_rate": _rate(sum(dropped_after_greeting(s) for s in calls), n),
        "avg_call_length_s": _mean(lengths),
        "avg_cost_per_call": None if not costs else round(sum(costs) / len(costs), 6),
        "ttfa": _p50_p95(ttfa) | {"answered": len(ttfa), "unanswered": unanswered},
        "stages": {stage: _p50_p95(values) for stage, values in stages.items()},
    }


async def kpis_from_store(
    store: CallStore,
    prices: PriceTable,
    since: float | None = None,
    until: float | None = None,
) -> dict[str, Any]:
    """Reads the calls started in [since, until) and computes their KPIs (off the event loop:
    a month of calls is seconds of work, which live calls' audio must not wait for)."""
    summaries = await store.list_summaries(CallFilter(limit=MAX_CALLS, since=since, until=until))
    # Timelines of unfinished or rejected calls would skew nothing much, but keep them out so
    # every number describes the same set of calls (one query, not one per call).
    timelines = await store.list_timelines(since, until, finished=True)
    return await asyncio.to_thread(compute_kpis, summaries, timelines, prices)
