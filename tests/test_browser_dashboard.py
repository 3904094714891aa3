"""The dashboard in headless Chromium after a handful of simulated calls.

The numbers on the page are checked against the call store itself (KPIs recomputed here from
the stored calls by their documented definitions), and the filters against the store's own
filtering. The module has its own call store and metrics (the models are the session's), so
every number is over its own calls.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import statistics
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Page

from callwright.agent.stack import AgentStack
from callwright.observe.observer import Observability
from callwright.sim.caller import CallerSimulator, ScriptLine
from callwright.store.base import CallFilter, CallSummary
from callwright.store.open import open_store
from callwright.tts.espeak import EspeakTts
from examples.clinic.front_desk import CLINIC_FACTS
from tests.browser import chromium, console_errors, fmt_ms, placeholder_words, screenshot
from tests.conftest import brief_clinic, http_base, serve

CALLER_VOICE = EspeakTts(voice="en-us", words_per_minute=160)
ALL = 10_000


def _finished(summaries: list[CallSummary]) -> list[CallSummary]:
    """The calls the KPIs count: over, and not refused before becoming calls."""
    return [
        s
        for s in summaries
        if s.record.status in ("ended", "cut_off") and s.record.outcome != "rejected"
    ]


def _escalated(s: CallSummary) -> bool:
    return s.escalated or s.record.outcome in ("transferred", "escalated")


def _nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _money(value: float) -> str:
    """The dashboard's money format (common.js fmtMoney)."""
    if value == 0:
        return "$0"
    return f"${value:.4f}" if value < 0.01 else f"${value:.3f}" if value < 1 else f"${value:.2f}"


async def _apply(page: Page, **fields: str) -> None:
    """Sets filter fields, applies them, and waits for the page to redraw with them."""
    before = int(await page.evaluate("document.body.dataset.refreshes || '0'"))
    for name, value in fields.items():
        if name in ("outcome", "status", "escalated"):
            await page.select_option(f"#filters [name={name}]", value)
        else:
            await page.fill(f"#filters [name={name}]", value)
    await page.click("#filters button[type=submit]")
    assert await page.evaluate("document.getElementById('filters').checkValidity()")
    # Drawn from these filters (a periodic refresh of the old ones may land meanwhile).
    await page.wait_for_function(
        f"Number(document.body.dataset.refreshes) > {before}"
        " && document.body.dataset.query === location.search"
    )


async def _listed_ids(page: Page) -> set[str]:
    ids = await page.eval_on_selector_all(
        "#calls tbody tr[data-call-id]", "rows => rows.map(r => r.dataset.callId)"
    )
    return set(ids)


async def _store_ids(stack: AgentStack, query: CallFilter) -> set[str]:
    return {s.record.call_id for s in await stack.store.list_summaries(query)}


@pytest.fixture(scope="module")
async def stack(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The session's models with this module's own call store, metrics and clinic (a one-word
    greeting)."""
    folder = tmp_path_factory.mktemp("dashboard")
    store = await open_store(folder / "calls.sqlite3", env={})
    observability = Observability(stack.observability.options)
    async with brief_clinic(stack, folder) as clinic:
        yield dataclasses.replace(clinic, store=store, observability=observability)
    await store.close()


@pytest.fixture(scope="module")
async def server_url(stack: AgentStack) -> AsyncIterator[str]:
    async with serve(stack) as url:
        yield url


@pytest.fixture(scope="module")
async def simulated_calls(stack: AgentStack, server_url: str) -> dict[str, str]:
    """Three calls: one completed, one the caller hung up on, one dropped after the greeting."""
    scripts = {
        "completed": ["What are your opening hours?", "Thank you, goodbye."],
        "hung_up": ["What is your address?"],
        "dropped": [],
    }
    ids = {}
    for name, lines in scripts.items():
        report = await CallerSimulator(server_url, CALLER_VOICE).run([ScriptLine(t) for t in lines])
        ids[name] = report.call_id
    return ids


async def test_overview_kpis_match_the_store(
    stack: AgentStack, server_url: str, simulated_calls: dict[str, str]
) -> None:
    summaries = await stack.store.list_summaries(CallFilter(limit=ALL))
    calls = _finished(summaries)
    ours = {s.record.call_id: s for s in calls if s.record.call_id in simulated_calls.values()}
    assert ours[simulated_calls["completed"]].record.outcome == "completed"
    assert ours[simulated_calls["dropped"]].caller_utterances == 0

    n = len(calls)
    dropped = [s for s in calls if not _escalated(s) and s.caller_utterances == 0]
    lost = {s.record.call_id for s in dropped} | {
        s.record.call_id
        for s in calls
        if s.record.status == "cut_off" or s.record.outcome == "error"
    }
    expected = {
        "calls": n,
        "containment_rate": sum(not _escalated(s) and s.record.call_id not in lost for s in calls)
        / n,
        "task_completion_rate": sum(s.record.outcome == "completed" for s in calls) / n,
        "escalation_rate": sum(_escalated(s) for s in calls) / n,
        "drop_off_after_greeting_rate": len(dropped) / n,
        "avg_call_length_s": statistics.fmean(
            s.duration_s for s in calls if s.duration_s is not None
        ),
    }
    ttfas = [t.ttfa_ms for t in await stack.store.list_timelines() if t.turn_index > 0]
    ttfa_values = [v for v in ttfas if v is not None]

    base = http_base(server_url)
    async with chromium() as browser:
        page = await browser.new_page()
        errors = console_errors(page)
        await page.goto(f"{base}/dashboard")
        await page.wait_for_selector("body[data-loaded=true]")
        shown = {
            key: await page.get_attribute(f'.kpi[data-kpi="{key}"]', "data-value")
            for key in expected
        }
        for key, want in expected.items():
            assert shown[key] not in (None, ""), key
            # The API rounds rates and means to 4 decimals.
            assert float(shown[key] or "nan") == pytest.approx(want, abs=1e-4), key
        assert await page.locator('.kpi[data-kpi="calls"] .value').inner_text() == str(n)
        completion = round(100 * expected["task_completion_rate"])
        assert (
            await page.locator('.kpi[data-kpi="task_completion_rate"] .value').inner_text()
            == f"{completion}%"
        )
        # Cost per call is shown and is what the API computes from the price table.
        kpis = await (await page.request.get(f"{base}/v1/kpis")).json()
        cost = await page.get_attribute('.kpi[data-kpi="avg_cost_per_call"]', "data-value")
        assert float(cost or "nan") == pytest.approx(kpis["avg_cost_per_call"])

        # Time to first audio: p50 and p95 over every caller turn in the store, by stage.
        chart = page.locator('svg[data-chart="percentiles"]')
        text = await chart.text_content() or ""
        assert fmt_ms(_nearest_rank(ttfa_values, 50)) in text
        assert f"p95 {fmt_ms(_nearest_rank(ttfa_values, 95))}" in text
        for stage in ("end of turn", "transcript", "first token", "first audio sent"):
            assert stage in text

        # Every stored call is listed; the outcomes chart counts them.
        assert await _listed_ids(page) == await _store_ids(stack, CallFilter(limit=500))
        outcomes = await page.locator('svg[data-chart="outcomes"]').text_content() or ""
        assert "completed" in outcomes
        assert await placeholder_words(page) == []
        await screenshot(page, "dashboard-kpis")
        assert errors == []


async def test_filters_match_the_store(
    stack: AgentStack, server_url: str, simulated_calls: dict[str, str]
) -> None:
    base = http_base(server_url)
    completed = simulated_calls["completed"]
    detail = await stack.store.get_call(completed)
    assert detail is not None
    async with chromium() as browser:
        page = await browser.new_page()
        errors = console_errors(page)
        await page.goto(f"{base}/dashboard")
        await page.wait_for_selector("body[data-loaded=true]")

        await _apply(page, outcome="completed")
        listed = await _listed_ids(page)
        assert completed in listed and simulated_calls["hung_up"] not in listed
        assert listed == await _store_ids(stack, CallFilter(limit=500, outcome="completed"))
        assert "outcome=completed" in page.url  # a filtered view can be shared as a link

        await _apply(page, outcome="", escalated="false")
        assert await _listed_ids(page) == await _store_ids(
            stack, CallFilter(limit=500, escalated=False)
        )

        slowest = max(t.ttfa_ms for t in detail.timelines if t.ttfa_ms is not None)
        await _apply(page, escalated="", slow_ms=str(math.floor(slowest)))
        listed = await _listed_ids(page)
        assert completed in listed
        assert simulated_calls["dropped"] not in listed
        assert listed == await _store_ids(stack, CallFilter(limit=500, slow_ms=math.floor(slowest)))

        day = dt.datetime.fromtimestamp(detail.record.started_at).date()
        midnight = dt.datetime.combine(day, dt.time()).timestamp()
        await _apply(page, slow_ms="", **{"from": day.isoformat(), "to": day.isoformat()})
        listed = await _listed_ids(page)
        assert set(simulated_calls.values()) <= listed
        assert listed == await _store_ids(
            stack, CallFilter(limit=500, since=midnight, until=midnight + 86400)
        )
        await screenshot(page, "dashboard-filtered")

        await _apply(page, **{"from": "", "to": (day - dt.timedelta(days=1)).isoformat()})
        assert await _listed_ids(page) == set()
        assert "No calls match" in await page.locator("#calls tbody").inner_text()
        assert errors == []


async def test_call_detail_of_a_two_turn_call(
    stack: AgentStack, server_url: str, simulated_calls: dict[str, str]
) -> None:
    call_id = simulated_calls["completed"]
    detail = await stack.store.get_call(call_id)
    assert detail is not None
    base = http_base(server_url)
    async with chromium() as browser:
        page = await browser.new_page()
        errors = console_errors(page)
        await page.goto(f"{base}/dashboard")
        await page.wait_for_selector("body[data-loaded=true]")
        await page.click(f'#calls tr[data-call-id="{call_id}"] a')
        await page.wait_for_url(f"**/dashboard/calls/{call_id}")
        await page.wait_for_selector("body[data-loaded=true]")

        texts = await page.locator(".utt .text").all_inner_texts()
        assert texts == [u.text for u in detail.utterances]
        assert CLINIC_FACTS["hours"] in texts
        roles = await page.eval_on_selector_all(".utt", "us => us.map(u => u.dataset.role)")
        assert roles == [u.role for u in detail.utterances]

        # One waterfall row per caller turn, with its stored time to first audio.
        turns = sorted(
            (t for t in detail.timelines if t.turn_index > 0), key=lambda t: t.turn_index
        )
        rows = page.locator("svg[data-chart=waterfall] g.wf-row")
        assert await rows.count() == len(turns) == 2
        for t in turns:
            row = page.locator(f'svg[data-chart=waterfall] g.wf-row[data-turn="{t.turn_index}"]')
            assert await row.locator(".wf-ttfa").text_content() == fmt_ms(t.ttfa_ms or 0)
        assert await page.locator("#turns tbody tr").count() == 2

        # Cost by layer, as the API prices it.
        api = await (await page.request.get(f"{base}/v1/calls/{call_id}")).json()
        total = await page.locator("#cost-table tr[data-layer=total] td.r").inner_text()
        assert total == _money(api["cost"]["total"])
        assert api["cost"]["total"] > 0
        layers = await page.eval_on_selector_all(
            "#cost-table tr[data-layer]", "rows => rows.map(r => r.dataset.layer)"
        )
        assert layers == ["stt", "tts", "llm", "telephony", "total"]

        # The stereo recording is there and as long as the call.
        await page.wait_for_selector("#wave[data-channels='2']", timeout=10_000)
        recording_ms = int(await page.get_attribute("#wave", "data-duration-ms") or 0)
        call_s = (detail.record.ended_at or 0) - detail.record.started_at
        assert recording_ms / 1000 >= 0.8 * call_s > 0
        assert await placeholder_words(page) == []
        await screenshot(page, "dashboard-call-detail")
        assert errors == []
