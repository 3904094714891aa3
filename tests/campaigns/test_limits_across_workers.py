"""A campaign's concurrency and pace hold for all the workers on a store together: two runners,
each on its own connection to the database (as two worker processes are), never have more of a
campaign's calls going at once than its concurrency, nor dial it faster than its pace, however
their ticks interleave. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import cast

from callwright.campaigns.contacts import Contact
from callwright.campaigns.dialing import GateRefusal
from callwright.campaigns.records import CampaignPlan
from callwright.campaigns.runner import CampaignRunner
from callwright.campaigns.store import CampaignStore
from callwright.compliance.tables import SqlStore
from tests.campaigns.dialers import CountingDialer
from tests.pg_cluster import AnyStore

NOW = 1e10  # the runners' clock at the start: every contact is due
NUMBERS = [f"+1212555{n:04d}" for n in range(501, 509)]


class _OvertakenStore(CampaignStore):
    """A worker's campaign tables that, once armed, stop for a while right after counting a
    campaign's busy lines: what a slow moment (a loaded machine, a far database) between a
    worker's look at a campaign and its claim does, while another worker runs a whole tick."""

    def __init__(self, store: SqlStore) -> None:
        super().__init__(store)
        self.armed = False
        self.counted = asyncio.Event()
        self.resume = asyncio.Event()

    async def active(self, campaign_id: str) -> int:
        busy = await super().active(campaign_id)
        if self.armed:
            self.armed = False
            self.counted.set()
            await self.resume.wait()
        return busy


async def _open(_: str, __: str | None) -> GateRefusal | None:
    return None


def _runner(
    store: SqlStore, dialer: CountingDialer, clock: list[float], name: str
) -> CampaignRunner:
    return CampaignRunner(_OvertakenStore(store), dialer, _open, lambda: clock[0], name)


async def _overtaken_tick(overtaken: CampaignRunner, other: CampaignRunner) -> None:
    """One tick of each runner, the second run whole while the first has counted the busy
    lines and read the last dial, but not yet claimed anyone."""
    slow = cast(_OvertakenStore, overtaken.store)
    slow.counted.clear()
    slow.resume.clear()
    slow.armed = True
    async with asyncio.timeout(30.0):
        tick = asyncio.create_task(overtaken.tick())
        await slow.counted.wait()
        await other.tick()
        slow.resume.set()
        await tick


async def test_one_line_is_one_call_however_two_workers_interleave(
    worker_stores: tuple[AnyStore, AnyStore],
) -> None:
    first, second = worker_stores
    campaigns = CampaignStore(first)
    plan = CampaignPlan("one line", "+12125550100", "reminders", concurrency=1, pace_s=0)
    cid = await campaigns.create(plan, [Contact(n) for n in NUMBERS[:3]])
    dialer = CountingDialer()  # its calls stay in progress: no final status comes
    clock = [NOW]
    worker_a, worker_b = _runner(first, dialer, clock, "a"), _runner(second, dialer, clock, "b")
    # B finds the line free; before it claims a contact, A takes the line and dials.
    await _overtaken_tick(worker_b, worker_a)
    assert dialer.calls == [NUMBERS[0]]  # B took no second line
    assert await campaigns.progress(cid) == {"in_call": 1, "pending": 2}
    # The call ends: the line is free for either worker, and again for one call at a time.
    state = await campaigns.contacts(cid)
    await worker_a.on_call_status(state[0].call_sid or "", "completed")
    await _overtaken_tick(worker_a, worker_b)
    assert dialer.calls == NUMBERS[:2]
    assert await campaigns.progress(cid) == {"done": 1, "in_call": 1, "pending": 1}


async def test_the_pace_holds_across_two_workers(
    worker_stores: tuple[AnyStore, AnyStore],
) -> None:
    first, second = worker_stores
    campaigns = CampaignStore(first)
    plan = CampaignPlan("paced", "+12125550100", "reminders", concurrency=5, pace_s=60.0)
    await campaigns.create(plan, [Contact(n) for n in NUMBERS])
    dialer = CountingDialer()
    clock = [NOW]
    worker_a, worker_b = _runner(first, dialer, clock, "a"), _runner(second, dialer, clock, "b")
    dialled_each_minute: list[int] = []
    for step in range(9):  # three minutes, a tick of each every 20 s
        clock[0] = NOW + 20.0 * step
        before = len(dialer.calls)
        await _overtaken_tick(worker_b, worker_a)
        if step % 3 == 0:
            dialled_each_minute.append(len(dialer.calls) - before)
        else:
            assert len(dialer.calls) == before, f"a dial {20 * (step % 3)} s after the last"
    assert dialled_each_minute == [1, 1, 1]  # one a minute for the two workers together
    assert dialer.calls == NUMBERS[:3]


async def test_claims_at_the_same_moment_take_one_line(
    worker_stores: tuple[AnyStore, AnyStore],
) -> None:
    first, second = worker_stores
    campaigns = CampaignStore(first)
    plan = CampaignPlan("racing", "+12125550100", "reminders", concurrency=1, pace_s=0)
    cid = await campaigns.create(plan, [Contact(n) for n in NUMBERS])
    due = await campaigns.due(cid, NOW, len(NUMBERS))
    workers = (campaigns, CampaignStore(second))
    # Every contact claimed at once, half through each worker's connection.
    won = await asyncio.gather(
        *(workers[i % 2].claim(contact, f"worker-{i % 2}", NOW) for i, contact in enumerate(due))
    )
    assert sum(won) == 1
    assert await campaigns.progress(cid) == {"dialing": 1, "pending": len(NUMBERS) - 1}
