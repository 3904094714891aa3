"""The campaign tables in both stores (SQLite and PostgreSQL): one claim per contact, within
the campaign's concurrency and pace, progress, and orphaned dials never dialled again."""

from __future__ import annotations

from callwright.campaigns.contacts import Contact
from callwright.campaigns.records import CampaignPlan
from callwright.campaigns.scheduled import ScheduledCalls
from callwright.campaigns.store import CampaignStore
from tests.pg_cluster import AnyStore


async def test_claims_progress_and_orphans(store: AnyStore) -> None:
    campaigns = CampaignStore(store)
    plan = CampaignPlan("both", "+12125550100", "reminders", parameters={"clinic": "x"})
    contacts = [Contact(f"+1212555{n:04d}", {"n": str(n)}) for n in range(60)]  # two batches
    cid = await campaigns.create(plan, contacts)
    campaign = await campaigns.get(cid)
    assert campaign is not None and campaign.plan == plan and campaign.status == "running"
    due = await campaigns.due(cid, 1e10, 3)
    assert [c.contact_id for c in due] == ["c000000", "c000001", "c000002"]
    assert due[0].parameters == {"n": "0"}
    assert await campaigns.claim(due[0], "w1", 1000.0)
    assert not await campaigns.claim(due[0], "w2", 1002.0)
    assert not await campaigns.claim(due[1], "w2", 1001.0)  # one dial per pace (2 s)
    assert await campaigns.claim(due[1], "w2", 1002.0)
    assert not await campaigns.claim(due[2], "w1", 1010.0)  # both lines are busy
    await campaigns.update(cid, due[1].contact_id, "in_call", call_sid="CA1", call_id="call-1")
    assert (await campaigns.by_call_sid("CA1") or due[0]).contact_id == "c000001"
    assert await campaigns.active(cid) == 2
    assert await campaigns.orphaned_dials(stale_s=0.0) == 1  # the claimed, never-placed one
    assert await campaigns.progress(cid) == {"pending": 58, "in_call": 1, "unknown": 1}
    assert await campaigns.set_status(cid, "paused", ("running",))
    assert not await campaigns.claim(due[2], "w1", 2000.0)  # a line is free, but it is paused
    assert not await campaigns.set_status(cid, "paused", ("running",))
    assert await campaigns.set_status(cid, "cancelled", ("paused",))
    assert await campaigns.cancel_pending(cid) == 58
    assert [c.campaign_id for c in await campaigns.all("cancelled")] == [cid]


async def test_a_campaigns_agent_and_scheduled_calls(store: AnyStore) -> None:
    campaigns = CampaignStore(store)
    plan = CampaignPlan("agent", "+12125550100", "surveys", agent="survey")
    cid = await campaigns.create(plan, [Contact("+12125550201")])
    assert (await campaigns.get(cid)) == (await campaigns.all())[0]
    assert (await campaigns.get(cid)).plan.agent == "survey"  # type: ignore[union-attr]
    scheduled = ScheduledCalls(store)
    early = await scheduled.add("+12125550202", "+12125550100", None, {"a": "1"}, 100.0, "me")
    late = await scheduled.add("+12125550203", "+12125550100", "p", {}, 200.0)
    gone = await scheduled.add("+12125550204", "+12125550100", "p", {}, 50.0)
    assert await scheduled.cancel(gone.scheduled_id)
    assert not await scheduled.cancel(gone.scheduled_id)
    due = await scheduled.due(150.0, 10)
    assert [c.scheduled_id for c in due] == [early.scheduled_id]
    assert due[0].parameters == {"a": "1"} and due[0].purpose is None
    assert await scheduled.claim(early.scheduled_id, "w1")
    assert not await scheduled.claim(early.scheduled_id, "w2")
    assert not await scheduled.cancel(early.scheduled_id)  # already dialling
    assert await scheduled.orphaned_dials(stale_s=0.0) == 1
    assert (await scheduled.get(early.scheduled_id)).status == "unknown"  # type: ignore[union-attr]
    assert [c.status for c in await scheduled.all()] == ["cancelled", "scheduled", "unknown"]
    assert [c.scheduled_id for c in await scheduled.all("scheduled")] == [late.scheduled_id]


async def test_a_stale_due_list_cannot_redial_a_contact_put_back_for_later(store: AnyStore) -> None:
    campaigns = CampaignStore(store)
    cid = await campaigns.create(
        CampaignPlan("retry", "+12125550100", "reminders"), [Contact("+12125550301")]
    )
    seen_by_w1 = await campaigns.due(cid, 1e10, 1)
    seen_by_w2 = await campaigns.due(cid, 1e10, 1)  # both workers listed it
    assert await campaigns.claim(seen_by_w1[0], "w1", 1000.0)
    # The line was busy: w1 puts it back with a retry wait.
    await campaigns.update(cid, seen_by_w1[0].contact_id, "pending", next_at=5000.0)
    assert not await campaigns.claim(seen_by_w2[0], "w2", 1010.0)  # its list is out of date
    again = await campaigns.due(cid, 6000.0, 1)
    assert again and await campaigns.claim(again[0], "w2", 6000.0)  # once the wait is over
    scheduled = ScheduledCalls(store)
    call = await scheduled.add("+12125550302", "+12125550100", None, {}, 100.0)
    listed = (await scheduled.due(150.0, 10))[0]
    await scheduled.update(call.scheduled_id, "scheduled", due_at=900.0)  # moved later
    assert not await scheduled.claim(listed.scheduled_id, "w2", listed.due_at)
    assert await scheduled.claim(listed.scheduled_id, "w2", 900.0)


async def test_a_campaigns_contacts_are_counted_by_index(store: AnyStore) -> None:
    campaigns = CampaignStore(store)
    plan = CampaignPlan("indexed", "+12125550100", "reminders")
    cid = await campaigns.create(plan, [Contact(f"+1212555{n:04d}") for n in range(5)])
    assert await campaigns.open_left(cid) == 5 and await campaigns.active(cid) == 0
    if store.dialect == "postgresql":
        rows = await store.sql_fetch(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'campaign_contacts_open_idx'"
        )
        assert [r["indexdef"].split(" USING ")[1] for r in rows] == [
            "btree (campaign_id, status, next_at)"
        ]
        return
    # SQLite says how it runs each query a tick makes: through the index, not every contact.
    for sql in (
        "SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = ?"
        " AND status IN ('pending', 'dialing', 'in_call')",
        "SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = ?"
        " AND status IN ('dialing', 'in_call')",
        "SELECT contact_id FROM campaign_contacts WHERE campaign_id = ?"
        " AND status = 'pending' AND next_at <= ? ORDER BY next_at, contact_id LIMIT 1",
    ):
        params = (cid, 1e10) if sql.count("?") == 2 else (cid,)
        plan_rows = await store.sql_fetch(f"EXPLAIN QUERY PLAN {sql}", params)
        details = " ".join(str(r["detail"]) for r in plan_rows)
        assert "campaign_contacts_open_idx" in details, details
