"""A worker that dies mid-dial while others run: its contact (or held-back call) left `dialing`
is found by the running workers' periodic sweep, not only by a worker starting, so its line is
freed and its campaign finishes; a live worker's dial in progress is never taken, and no dial
stays in progress past the dial deadline. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import math

from callwright.campaigns.contacts import Contact
from callwright.campaigns.dialing import Dialled, GateRefusal
from callwright.campaigns.records import CampaignPlan
from callwright.campaigns.runner import CampaignRunner
from callwright.campaigns.scheduled import ScheduledCalls
from callwright.campaigns.store import CampaignStore
from tests.campaigns.dialers import CountingDialer
from tests.pg_cluster import AnyStore

NOW = 1e10  # the runners' clock: every contact is due
THREE_HOURS = 3 * 3600.0  # how long ago the dead worker claimed its contact


class _SilentPlatform:
    """A platform that never answers the request to place a call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def dial(
        self, to: str, from_: str, parameters: dict[str, str], purpose: str | None
    ) -> Dialled:
        self.calls.append(to)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def _open(_: str, __: str | None) -> GateRefusal | None:
    return None


async def test_a_dead_workers_dial_is_swept_while_the_others_run(store: AnyStore) -> None:
    campaigns = CampaignStore(store)
    first, second = "+12125550401", "+12125550402"
    plan = CampaignPlan("sweep", "+12125550100", "reminders", concurrency=1, pace_s=0)
    cid = await campaigns.create(plan, [Contact(first), Contact(second)])
    # Another campaign whose contact a live worker claimed a moment ago (its dial is going on).
    busy = await campaigns.create(plan, [Contact("+12125550403")])
    assert await campaigns.claim((await campaigns.due(busy, NOW, 1))[0], "worker-c", NOW)
    # Worker A claims the first contact and dies before it knows whether the dial went out.
    assert await campaigns.claim((await campaigns.due(cid, NOW, 1))[0], "worker-a", NOW)
    scheduled = ScheduledCalls(store)
    left = await scheduled.add("+12125550404", "+12125550100", None, {}, 100.0)
    live = await scheduled.add("+12125550405", "+12125550100", None, {}, 100.0)
    assert await scheduled.claim(left.scheduled_id, "worker-a")
    assert await scheduled.claim(live.scheduled_id, "worker-c")

    dialer = CountingDialer()
    runner = CampaignRunner(campaigns, dialer, _open, lambda: NOW, "worker-b", scheduled=scheduled)
    await runner.tick()  # worker B is running; A's claim is recent, so it is left alone
    assert dialer.calls == [] and await campaigns.active(cid) == 1

    await store.sql_execute(
        "UPDATE campaign_contacts SET updated_at = updated_at - ? WHERE claimed_by = 'worker-a'",
        (THREE_HOURS,),
    )
    await store.sql_execute(
        "UPDATE scheduled_calls SET updated_at = updated_at - ? WHERE claimed_by = 'worker-a'",
        (THREE_HOURS,),
    )
    runner._swept_at = -math.inf  # a minute on: the next sweep is due
    await runner.tick()
    state = {c.number: c for c in await campaigns.contacts(cid)}
    assert state[first].status == "unknown"  # never dialled again: the call may have gone out
    assert dialer.calls == [second]  # its line went to the next contact
    assert [c.status for c in await campaigns.contacts(busy)] == ["dialing"]  # a live dial
    assert (await scheduled.get(left.scheduled_id)).status == "unknown"  # type: ignore[union-attr]
    assert (await scheduled.get(live.scheduled_id)).status == "dialing"  # type: ignore[union-attr]

    await runner.on_call_status(state[second].call_sid or "", "completed")
    await runner.tick()
    finished = await campaigns.get(cid)
    assert finished is not None and finished.status == "finished"
    assert await campaigns.progress(cid) == {"unknown": 1, "done": 1}


async def test_no_dial_stays_in_progress_past_the_deadline(store: AnyStore) -> None:
    campaigns = CampaignStore(store)
    plan = CampaignPlan("silent", "+12125550100", "reminders", concurrency=1, pace_s=0)
    cid = await campaigns.create(plan, [Contact("+12125550411")])
    platform = _SilentPlatform()
    runner = CampaignRunner(campaigns, platform, _open, lambda: NOW, "worker-b",
                            dial_deadline_s=0.2)  # fmt: skip
    async with asyncio.timeout(10.0):  # the dial is given up on, and the tick returns
        await runner.tick()
    assert platform.calls == ["+12125550411"]
    assert [c.status for c in await campaigns.contacts(cid)] != ["dialing"]
