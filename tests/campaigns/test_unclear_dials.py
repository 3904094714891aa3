"""A dial that fails without a clear answer (a timeout after the platform may have created the
call) is never retried: the contact, or the held-back call, becomes `unknown`. Only a dial the
platform clearly refused is tried again. On SQLite and PostgreSQL."""

from __future__ import annotations

from callwright.campaigns.contacts import Contact
from callwright.campaigns.dialing import DialRefused, GateRefusal
from callwright.campaigns.records import CampaignPlan
from callwright.campaigns.runner import CampaignRunner
from callwright.campaigns.scheduled import ScheduledCalls
from callwright.campaigns.store import CampaignStore
from tests.campaigns.dialers import FailingDialer
from tests.pg_cluster import AnyStore

NOW = 1e10  # the runner's clock: everything is due


async def _open(_: str, __: str | None) -> GateRefusal | None:
    return None


async def _run(store: AnyStore, failure: Exception) -> tuple[list[str], CampaignStore, str]:
    campaigns = CampaignStore(store)
    plan = CampaignPlan("unclear", "+12125550100", "reminders", concurrency=1, pace_s=0,
                        max_attempts=3, retry_backoff_s=0)  # fmt: skip
    cid = await campaigns.create(plan, [Contact("+12125550421")])
    platform = FailingDialer(failure)
    runner = CampaignRunner(campaigns, platform, _open, lambda: NOW, "worker-a")
    for _ in range(5):  # more ticks than attempts
        await runner.tick()
    return platform.calls, campaigns, cid


async def test_a_timed_out_dial_is_not_retried(store: AnyStore) -> None:
    calls, campaigns, cid = await _run(store, TimeoutError("read timed out"))
    contact = (await campaigns.contacts(cid))[0]
    assert calls == ["+12125550421"]  # once: it may have rung
    assert (contact.status, contact.outcome, contact.attempts) == ("unknown", "dial_error", 1)
    assert "may have gone out" in (contact.detail or "")
    campaign = await campaigns.get(cid)
    assert campaign is not None and campaign.status == "finished"  # it holds no line


async def test_a_refused_dial_is_retried_up_to_the_attempts(store: AnyStore) -> None:
    calls, campaigns, cid = await _run(store, DialRefused("HTTP 401: Authenticate"))
    contact = (await campaigns.contacts(cid))[0]
    assert calls == ["+12125550421"] * 3  # max_attempts
    assert (contact.status, contact.outcome, contact.attempts) == ("failed", "dial_error", 3)


async def test_a_held_back_call_with_an_unclear_dial_becomes_unknown(store: AnyStore) -> None:
    scheduled = ScheduledCalls(store)
    cases = ((TimeoutError(), "unknown"), (DialRefused("HTTP 400"), "failed"))
    for index, (failure, expected) in enumerate(cases):
        call = await scheduled.add(f"+1212555043{index}", "+12125550100", None, {}, 100.0)
        platform = FailingDialer(failure)
        runner = CampaignRunner(CampaignStore(store), platform, _open, lambda: NOW, "worker-a",
                                scheduled=scheduled, scheduled_pace_s=0.0)  # fmt: skip
        await runner.tick()
        await runner.tick()
        stored = await scheduled.get(call.scheduled_id)
        assert stored is not None and (stored.status, stored.outcome) == (expected, "dial_error")
        assert platform.calls == [call.to_number]  # a held-back call is dialled once at most
