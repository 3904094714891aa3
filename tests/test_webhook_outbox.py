"""The webhook outbox: one worker's SQLite dead letters, or every event in the shared
PostgreSQL store, where any worker delivers what another could not (no audio)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callwright.integrations.outbox import SqliteOutbox, SqlOutbox, WebhookOutbox
from callwright.integrations.webhooks import WebhookSender
from callwright.store.postgres import PostgresCallStore
from tests.pg_cluster import reset_database
from tests.test_webhooks import Receiver, free_port, options


@pytest.fixture
async def pg_store(postgres_dsn: str) -> AsyncIterator[PostgresCallStore]:
    await asyncio.to_thread(reset_database, postgres_dsn)
    store = await PostgresCallStore.open(postgres_dsn)
    yield store
    await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[WebhookOutbox]:
    box: WebhookOutbox
    store = None
    if request.param == "sqlite":
        box = SqliteOutbox(tmp_path / "hooks.sqlite3")
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        await asyncio.to_thread(reset_database, dsn)
        store = await PostgresCallStore.open(dsn)
        box = SqlOutbox(store, "worker-a")
    await box.open()
    yield box
    await box.close()
    if store is not None:
        await store.close()


async def test_dead_letters_are_kept_until_delivered(outbox: WebhookOutbox) -> None:
    await outbox.sending("evt_ok", "call_started", b'{"n": 1}')
    await outbox.delivered("evt_ok")  # delivered at once: no dead letter
    await outbox.sending("evt_late", "call_ended", b'{"n": 2}')
    await outbox.dead_letter("evt_late", "call_ended", b'{"n": 2}', "HTTP 503", 3)
    [letter] = await outbox.dead_letters()
    assert (letter.event_id, letter.attempts, letter.last_error) == ("evt_late", 3, "HTTP 503")
    assert letter.delivered_at is None
    assert await outbox.claim_undelivered() == [("evt_late", "call_ended", '{"n": 2}')]
    await outbox.dead_letter("evt_late", "call_ended", b'{"n": 2}', "HTTP 500", 1)
    assert [(d.attempts, d.last_error) for d in await outbox.dead_letters()] == [(4, "HTTP 500")]
    assert [e for e, _, _ in await outbox.claim_undelivered()] == ["evt_late"]
    await outbox.delivered("evt_late")
    assert await outbox.claim_undelivered() == []
    [letter] = await outbox.dead_letters()
    assert letter.delivered_at is not None
    assert await outbox.purge_before(letter.delivered_at + 60) == 1
    assert await outbox.dead_letters() == []


async def test_a_round_of_redelivery_goes_through_every_letter_a_batch_at_a_time(
    outbox: WebhookOutbox,
) -> None:
    for n in range(5):
        await outbox.sending(f"evt_{n}", "call_started", b"{}")
        await outbox.dead_letter(f"evt_{n}", "call_started", b"{}", "HTTP 503", 1)
        await asyncio.sleep(0.01)  # distinct failure and creation times: a stable order
    first = [e for e, _, _ in await outbox.claim_undelivered(2)]
    assert first == ["evt_0", "evt_1"]
    await outbox.delivered("evt_1")  # the batch's last row, delivered meanwhile
    second = [e for e, _, _ in await outbox.claim_undelivered(2, after=first[-1])]
    assert second == ["evt_2", "evt_3"]
    third = [e for e, _, _ in await outbox.claim_undelivered(2, after=second[-1])]
    assert third == ["evt_4"]


async def test_an_event_another_worker_could_not_deliver_is_delivered_by_this_one(
    pg_store: PostgresCallStore,
) -> None:
    port = free_port()  # the receiver is down while worker A tries
    box_a, box_b = SqlOutbox(pg_store, "worker-a"), SqlOutbox(pg_store, "worker-b")
    sender_a, sender_b = WebhookSender(options(port), box_a), WebhookSender(options(port), box_b)
    await sender_a.start()
    await sender_b.start()
    receiver = Receiver(port)
    try:
        await sender_a.emit("call_ended", {"call_id": "c1"})
        await sender_a.drain()
        [letter] = await sender_b.dead_letters()  # B sees A's dead letter
        await receiver.start()
        assert await sender_b.redeliver() == 1
        assert receiver.ids == [letter.event_id] and receiver.valid == [True]
        assert await sender_a.redeliver() == 0  # delivered once, by B
    finally:
        await sender_a.close()
        await sender_b.close()
        await receiver.stop()


async def test_an_event_in_flight_on_a_worker_that_stopped_is_claimed_after_its_lease(
    pg_store: PostgresCallStore,
) -> None:
    stopped = SqlOutbox(pg_store, "worker-a")
    await stopped.open()
    await stopped.sending("evt_1", "call_started", b"{}")  # then worker A died
    patient = SqlOutbox(pg_store, "worker-b", lease_s=3600.0)
    assert await patient.claim_undelivered() == []  # A may still be sending it
    survivor = SqlOutbox(pg_store, "worker-c", lease_s=0.0)
    assert await survivor.claim_undelivered() == [("evt_1", "call_started", "{}")]
    other = SqlOutbox(pg_store, "worker-d", lease_s=3600.0)
    assert await other.claim_undelivered() == []  # C's now: claimed once
