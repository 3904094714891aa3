"""The KPIs say what their figures leave out: caller turns never answered, refused calls."""

from __future__ import annotations

from callwright.core.timeline import TurnTimeline
from callwright.observe.kpis import compute_kpis
from callwright.observe.usage import PriceTable
from callwright.store.base import CallRecord, CallSummary


def turn(index: int, ttfa_ms: float | None, interrupted: bool = False) -> TurnTimeline:
    first = None if ttfa_ms is None else 1000.0 + ttfa_ms
    return TurnTimeline(turn_index=index, speech_end_ms=1000.0, first_audio_sent_ms=first,
                        interrupted=interrupted)  # fmt: skip


def test_unanswered_turns_and_refused_calls_are_counted_beside_the_figures() -> None:
    ended = CallSummary(CallRecord("c1", "twilio", None, 0.0, status="ended", outcome="completed"))
    refused = CallSummary(CallRecord("c2", "twilio", None, 0.0, status="ended", outcome="rejected"))
    timelines = [turn(0, None), *(turn(i, 400.0) for i in range(1, 11))]
    timelines += [turn(11, None), turn(12, None), turn(13, None, interrupted=True)]
    kpis = compute_kpis([ended, refused], timelines, PriceTable())
    assert (kpis["calls"], kpis["rejected"]) == (1, 1)
    # Ten answered at 400 ms; two never answered; one the caller cut off (not the agent's).
    assert kpis["ttfa"] == {"p50": 400.0, "p95": 400.0, "answered": 10, "unanswered": 2}
