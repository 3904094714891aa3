"""The KPIs say what their figures leave out: caller turns never answered, refused calls."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from callwright.core.timeline import TurnTimeline
from callwright.observe.kpis import compute_kpis
from callwright.observe.observer import Observability
from callwright.observe.usage import PriceTable
from callwright.store.base import CallRecord, CallSummary
from callwright.store.sqlite import SqliteCallStore
from tests.conftest import api_only


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


async def test_without_a_range_the_kpis_are_of_the_last_thirty_days(tmp_path: Path) -> None:
    """A store that keeps every call grows without end, and the dashboard asks every 15 s:
    with no range given, the KPIs cover the last 30 days, and say so."""
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    now = time.time()
    for call_id, age_days in (("old", 45), ("recent", 2)):
        await store.start_call(CallRecord(call_id, "twilio", None, now - age_days * 86400))
        await store.end_call(call_id, "completed", "ok")
    try:
        async with api_only(store, Observability()) as base, aiohttp.ClientSession() as http:
            async with http.get(f"{base}/v1/kpis") as response:
                recent = await response.json()
            since = now - 60 * 86400
            async with http.get(f"{base}/v1/kpis?since={since}") as response:
                both = await response.json()
    finally:
        await store.close()
    assert recent["calls"] == 1 and both["calls"] == 2
    assert abs(recent["window"]["since"] - (now - 30 * 86400)) < 60
    assert both["window"] == {"since": since, "until": None}
