"""Orphaned calls are recognised per worker: a restarted worker never cuts off a live one's calls.

Every worker has an id and a heartbeat row in the store, and every call carries the id of the
worker that runs it. At start-up a worker marks cut off its own previous run's calls and the
calls of workers whose heartbeat is stale, never those of a worker that is alive; a live
worker's heartbeat also sweeps the calls of a worker that stopped beating. Checked on the store
contract (SQLite and a real PostgreSQL) and with real workers sharing PostgreSQL.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from callwright.store.base import CallRecord
from callwright.store.postgres import PostgresCallStore
from callwright.store.sql_common import ORPHAN_END_REASON
from callwright.store.sqlite import SqliteCallStore
from tests.pg_cluster import postgres_cluster, reset_database
from tests.security.worker_process import SilentCaller, free_port, serve_worker

AnyStore = SqliteCallStore | PostgresCallStore
StoreFactory = Callable[[], Awaitable[AnyStore]]


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    with postgres_cluster() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgres"])
async def open_worker_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreFactory]:
    """A factory of stores on one database, one per simulated worker; closes them after."""
    opened: list[AnyStore] = []
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        await asyncio.to_thread(reset_database, dsn)

    async def open_store() -> AnyStore:
        store: AnyStore
        if request.param == "sqlite":
            store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
        else:
            store = await PostgresCallStore.open(dsn)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


def _call(call_id: str, started_at: float) -> CallRecord:
    return CallRecord(call_id, "websocket", None, started_at)


async def test_restart_marks_only_own_and_dead_workers_calls(
    open_worker_store: StoreFactory,
) -> None:
    open_store = open_worker_store
    alive, restarted, dead, legacy = [await open_store() for _ in range(4)]
    assert await alive.register_worker("alive") == 0
    assert await restarted.register_worker("restarted") == 0
    assert await dead.register_worker("dead") == 0
    await alive.start_call(_call("alive-call", 1000.0))
    await restarted.start_call(_call("restarted-call", 1000.0))
    await dead.start_call(_call("dead-call", 1000.0))
    await legacy.start_call(_call("legacy-call", 1000.0))  # a worker that never registered
    await dead.add_event("dead-call", "tick", 1500.0, {})
    assert await alive.call_worker("alive-call") == "alive"
    assert await alive.call_worker("legacy-call") is None

    await asyncio.sleep(1.2)  # "dead" stops beating; the others go on
    await alive.heartbeat()
    await restarted.heartbeat()
    again = await open_store()
    # The restarted worker finds its own previous run's call at once...
    assert await again.register_worker("restarted") == 1
    # ...and the dead worker's and the unowned one once "dead" is stale; never the live one's.
    assert await again.mark_orphans_cut_off(stale_after_s=1.0) == 2
    assert await again.mark_orphans_cut_off(stale_after_s=1.0) == 0

    status = {}
    for call_id in ("alive-call", "restarted-call", "dead-call", "legacy-call"):
        detail = await again.get_call(call_id)
        assert detail is not None
        status[call_id] = (detail.record.status, detail.record.end_reason)
    assert status == {
        "alive-call": ("active", None),
        "restarted-call": ("cut_off", ORPHAN_END_REASON),
        "dead-call": ("cut_off", ORPHAN_END_REASON),
        "legacy-call": ("cut_off", ORPHAN_END_REASON),
    }
    dead_detail = await again.get_call("dead-call")
    assert dead_detail is not None and dead_detail.record.ended_at == pytest.approx(1001.5)
    # The live worker ends its call normally afterwards.
    await alive.end_call("alive-call", "completed", "bye")


async def recorded(dsn: str, call_ids: list[str | None]) -> None:
    """Waits until the calls are in the store (their records are written as they start)."""
    store = await PostgresCallStore.open(dsn)
    try:
        for _ in range(100):
            found = [await store.get_call(c) for c in call_ids if c is not None]
            if len(found) == len(call_ids) and all(found):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the calls were never recorded")
    finally:
        await store.close()


async def cut_off_within(dsn: str, call_id: str, timeout_s: float) -> bool:
    """Whether the call is marked cut off within `timeout_s`."""
    store = await PostgresCallStore.open(dsn)
    try:
        for _ in range(int(timeout_s * 10)):
            detail = await store.get_call(call_id)
            if detail is not None and detail.record.status == "cut_off":
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await store.close()


async def test_real_worker_restarted_on_postgres_leaves_the_other_workers_call(
    postgres_dsn: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(reset_database, postgres_dsn)
    ports = {"a": free_port(), "b": free_port()}

    def env(worker: str) -> dict[str, str]:
        return {
            "CALLWRIGHT_DATABASE_URL": postgres_dsn,
            "CALLWRIGHT_WORKER_ID": f"worker-{worker}",
            "CALLWRIGHT_HEARTBEAT_SECONDS": "1",
            "CALLWRIGHT_WORKER_STALE_SECONDS": "4",
            # The callers stay silent through a worker's restart, which a loaded machine can
            # stretch past the default dead-air policy (three 8 s silences, then goodbye).
            "CALLWRIGHT_SILENCE_REPROMPT_SECONDS": "300",
        }

    def url(worker: str) -> str:
        return f"ws://127.0.0.1:{ports[worker]}/v1/ws"

    log = tmp_path / "workers.log"
    async with serve_worker(tmp_path / "a", ports["a"], log, env("a")):
        on_a = SilentCaller(url("a"))
        call_a = asyncio.create_task(on_a.run())
        async with serve_worker(tmp_path / "b", ports["b"], log, env("b")) as worker_b:
            on_b = SilentCaller(url("b"))
            call_b = asyncio.create_task(on_b.run())
            await asyncio.wait_for(asyncio.gather(on_a.started.wait(), on_b.started.wait()), 30)
            await recorded(postgres_dsn, [on_a.call_id, on_b.call_id])
            worker_b.send_signal(signal.SIGKILL)
            await worker_b.wait()
            await call_b
        # Worker a's heartbeat notices that b stopped beating and sweeps b's call.
        assert on_b.call_id is not None
        swept_by_a = await cut_off_within(postgres_dsn, on_b.call_id, 30.0)
        # Worker b comes back under its id while a's call goes on.
        async with serve_worker(tmp_path / "b", ports["b"], log, env("b")):
            store = await PostgresCallStore.open(postgres_dsn)
            try:
                assert on_a.call_id is not None and on_b.call_id is not None
                a_during = await store.get_call(on_a.call_id)
                b_after = await store.get_call(on_b.call_id)
                a_worker = await store.call_worker(on_a.call_id)
            finally:
                await store.close()
            assert not call_a.done(), "worker a's caller was cut off"
            on_a.hang_up.set()
            await asyncio.wait_for(call_a, 30)
        store = await PostgresCallStore.open(postgres_dsn)
        try:
            a_end = await store.get_call(on_a.call_id)
        finally:
            await store.close()
    assert swept_by_a
    assert a_worker == "worker-a"
    assert a_during is not None and a_during.record.status == "active"
    assert b_after is not None
    assert (b_after.record.status, b_after.record.end_reason) == ("cut_off", ORPHAN_END_REASON)
    assert a_end is not None and (a_end.record.status, a_end.record.outcome) == (
        "ended",
        "caller_ended",
    )
