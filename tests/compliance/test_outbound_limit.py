"""The hourly outbound limit of a credential holds for every worker on the store together:
slots taken at the same moment through two connections to the database (as two worker
processes have) never outnumber the limit; a slot given back, or out of the hour, frees its
place; each credential has its own. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from callwright.compliance.outbound_limit import WINDOW_S, OutboundSlots
from tests.pg_cluster import AnyStore

LIMIT = 3
KEY = "api_key:00000000feedc0de"


async def test_slots_taken_at_the_same_moment_never_exceed_the_limit(
    worker_stores: tuple[AnyStore, AnyStore],
) -> None:
    first, second = worker_stores
    workers = (OutboundSlots(first), OutboundSlots(second))
    taken = await asyncio.gather(*(workers[i % 2].take(KEY, LIMIT) for i in range(12)))
    slots = [slot for slot in taken if slot is not None]
    assert len(slots) == LIMIT
    assert await workers[0].held(KEY) == await workers[1].held(KEY) == LIMIT
    assert await workers[1].take("user:dana", LIMIT) is not None  # another credential's own

    await workers[1].release(slots[0])  # that request placed no call after all
    again = await asyncio.gather(*(workers[i % 2].take(KEY, LIMIT) for i in range(4)))
    assert sum(slot is not None for slot in again) == 1

    # An hour on, the oldest slots count no more.
    await first.sql_execute(
        "UPDATE outbound_slots SET taken_at = ? WHERE slot_id IN (?, ?)",
        (time.time() - WINDOW_S - 1.0, slots[1], slots[2]),
    )
    later = await asyncio.gather(*(workers[i % 2].take(KEY, LIMIT) for i in range(4)))
    assert sum(slot is not None for slot in later) == 2
    assert await workers[1].held(KEY) == LIMIT


async def test_a_named_slot_is_taken_once(store: AnyStore) -> None:
    slots = OutboundSlots(store)
    assert await slots.take(KEY, LIMIT, "held-back:abc") == "held-back:abc"
    assert await slots.take(KEY, LIMIT, "held-back:abc") is None
    assert await slots.held(KEY) == 1
    assert await slots.take(KEY, 0) is None  # a limit of none: no outbound calls
