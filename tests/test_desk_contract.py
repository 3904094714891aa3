"""The handoff desk's contract, held by the in-memory desk and the PostgreSQL one (text only).

The PostgreSQL desk also lets a console on one worker pick up a call waiting on another:
two desks with their own worker ids on one throwaway cluster stand for two workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest

from callwright.core.responder import CallInfo
from callwright.handoff.desk import Desk, DeskOptions, HandoffDesk, HumanLine
from callwright.handoff.packet import ContextPacket, build_packet
from callwright.handoff.pg_desk import PostgresDesk
from callwright.handoff.triggers import Escalation
from callwright.store.postgres import PostgresCallStore
from tests.pg_cluster import reset_database

HANDLE_S = 60.0


class Line:
    """A console connection that keeps what reaches it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.audio: list[np.ndarray] = []
        self.changed = asyncio.Event()

    async def send_audio(self, samples: np.ndarray) -> None:
        self.audio.append(samples)
        self.changed.set()

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.changed.set()


class DroppedLine(Line):
    """A console connection that failed as its person clicked "Pick up"."""

    async def send_event(self, event: dict[str, Any]) -> None:
        raise ConnectionResetError("the console's connection dropped")


class Call:
    """A waiting call that keeps what the desk and the person did to it."""

    def __init__(self) -> None:
        self.lines: list[HumanLine] = []
        self.heard: list[np.ndarray] = []
        self.actions: list[str] = []
        self.changed = asyncio.Event()

    async def connect(self, line: HumanLine) -> None:
        self.lines.append(line)
        await line.send_event({"type": "picked_up"})
        self.changed.set()

    async def from_human(self, samples: np.ndarray) -> None:
        self.heard.append(samples)
        self.changed.set()

    async def hand_back(self) -> None:
        self.actions.append("hand_back")
        self.changed.set()

    async def end_by_human(self) -> None:
        self.actions.append("end")
        self.changed.set()


def packet(call_id: str) -> ContextPacket:
    return build_packet(CallInfo(call_id, "test"), Escalation("loop", "r", 0.0), [], [], None)


async def until(check: Callable[[], bool], event: asyncio.Event, timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            event.clear()
            await event.wait()


async def pg_desk(
    dsn: str, worker_id: str, **options: float
) -> tuple[PostgresCallStore, PostgresDesk]:
    store = await PostgresCallStore.open(dsn)
    await store.register_worker(worker_id)
    desk = await PostgresDesk.open(store, options=DeskOptions(handle_time_s=HANDLE_S), **options)
    return store, desk


@pytest.fixture(params=["memory", "postgres"])
async def desk(request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    if request.param == "memory":
        yield HandoffDesk(DeskOptions(handle_time_s=HANDLE_S))
        return
    dsn = request.getfixturevalue("postgres_dsn")
    await asyncio.to_thread(reset_database, dsn)
    store, shared = await pg_desk(dsn, "worker-a")
    yield shared
    await shared.close()
    await store.close()


async def test_positions_waits_pickup_and_leaving(desk: Desk) -> None:
    changes = asyncio.Event()
    unsubscribe = desk.subscribe(changes.set)
    first, second = Call(), Call()
    await desk.enqueue(packet("a"), first)
    await desk.enqueue(packet("b"), second)
    await desk.enqueue(packet("a"), first)  # announced twice: keeps its place, once
    positions = [await desk.position(c) for c in ("a", "b", "c")]
    assert positions == [1, 2, None]
    assert await desk.signed_in() == 0
    dana = Line("Dana")
    await desk.sign_in(dana)
    assert await desk.signed_in() == 1
    assert await desk.expected_wait_s("a") == 0.0  # a free person: next
    assert await desk.expected_wait_s("b") == HANDLE_S
    assert await desk.expected_wait_s("c") is None

    held = await desk.pick_up("a", dana)
    assert held is first and first.lines == [dana] and dana.events == [{"type": "picked_up"}]
    assert await desk.pick_up("a", Line("Sam")) is None  # taken once
    assert await desk.position("b") == 1
    assert await desk.expected_wait_s("b") == HANDLE_S  # Dana is busy with "a"
    snapshot = await desk.snapshot()
    assert snapshot["humans"] == ["Dana"]
    assert [(w["call_id"], w["position"]) for w in snapshot["waiting"]] == [("b", 1)]
    assert [(a["call_id"], a["human"]) for a in snapshot["active"]] == [("a", "Dana")]

    better = dataclasses.replace(packet("b"), summary="Wants to move an appointment.")
    await desk.update_packet(better)
    snapshot = await desk.snapshot()
    assert snapshot["waiting"][0]["packet"]["summary"] == "Wants to move an appointment."

    await desk.leave("a")
    assert await desk.expected_wait_s("b") == 0.0  # Dana is free again
    await desk.leave("b")
    assert (await desk.snapshot())["waiting"] == [] and await desk.position("b") is None
    await desk.sign_out(dana)
    assert await desk.signed_in() == 0
    # Listeners heard of the changes (on PostgreSQL through NOTIFY, so they may come later).
    await asyncio.wait_for(changes.wait(), 15.0)
    unsubscribe()


async def test_a_pickup_that_fails_halfway_gives_the_call_back_to_the_agent(desk: Desk) -> None:
    call = Call()
    await desk.enqueue(packet("a"), call)
    assert await desk.pick_up("a", DroppedLine("Dana")) is None
    assert call.actions == ["hand_back"]  # the caller is not left on a line nobody is on


async def test_a_short_call_lowers_the_expected_wait(desk: Desk) -> None:
    dana = Line("Dana")
    await desk.sign_in(dana)
    for call_id in ("a", "b", "c"):
        await desk.enqueue(packet(call_id), Call())
    assert await desk.pick_up("a", dana) is not None
    assert await desk.expected_wait_s("c") == 2 * HANDLE_S  # two ahead of it, Dana busy
    await desk.leave("a")  # a call far shorter than the first estimate
    assert await desk.pick_up("b", dana) is not None
    wait = await desk.expected_wait_s("c")
    assert wait is not None and wait < HANDLE_S


async def test_a_console_on_one_worker_takes_a_call_waiting_on_another(
    postgres_dsn: str,
) -> None:
    await asyncio.to_thread(reset_database, postgres_dsn)
    store_a, worker_a = await pg_desk(postgres_dsn, "worker-a")
    store_b, worker_b = await pg_desk(postgres_dsn, "worker-b")
    try:
        queue_changed = asyncio.Event()
        worker_b.subscribe(queue_changed.set)
        first, second = Call(), Call()
        await worker_a.enqueue(packet("first"), first)
        await worker_a.enqueue(packet("second"), second)
        await asyncio.wait_for(queue_changed.wait(), 15.0)  # B heard of A's queue
        dana = Line("Dana")
        await worker_b.sign_in(dana)
        assert await worker_a.signed_in() == 1  # A's calls see Dana, on B
        waiting = (await worker_b.snapshot())["waiting"]
        assert [(w["call_id"], w["position"]) for w in waiting] == [("first", 1), ("second", 2)]

        held = await worker_b.pick_up("first", dana)
        assert held is not None
        await until(lambda: bool(first.lines), first.changed)
        await until(lambda: {"type": "picked_up"} in dana.events, dana.changed)
        assert first.lines[0].name == "Dana" and second.lines == []
        assert await worker_a.position("second") == 1

        # Audio both ways between the workers, in order and whole (3 NOTIFY chunks each).
        voice = (np.arange(6000) % 2000 - 1000).astype(np.int16)
        await first.lines[0].send_audio(voice)
        await until(lambda: sum(a.size for a in dana.audio) >= voice.size, dana.changed)
        assert np.array_equal(np.concatenate(dana.audio), voice)
        await held.from_human(voice[::-1].copy())
        await until(lambda: sum(a.size for a in first.heard) >= voice.size, first.changed)
        assert np.array_equal(np.concatenate(first.heard), voice[::-1])
        await held.hand_back()
        await until(lambda: first.actions == ["hand_back"], first.changed)

        # A worker that stops takes its calls off the desk for everyone.
        await worker_a.close()
        assert (await worker_b.snapshot())["waiting"] == []
    finally:
        await worker_b.close()
        await worker_a.close()  # again: closing twice is harmless
        await store_b.close()
        await store_a.close()


async def test_the_calls_and_people_of_a_dead_worker_are_off_the_desk(postgres_dsn: str) -> None:
    await asyncio.to_thread(reset_database, postgres_dsn)
    store_a, dead = await pg_desk(postgres_dsn, "worker-a")
    store_b, alive = await pg_desk(postgres_dsn, "worker-b")
    try:
        await dead.enqueue(packet("x"), Call())
        await dead.sign_in(Line("Sam"))
        assert await alive.position("x") == 1 and await alive.signed_in() == 1
        # Worker A's heartbeat goes stale (it was killed): B no longer counts its rows.
        await store_b.sql_execute(
            "UPDATE workers SET heartbeat_at = 0 WHERE worker_id = ?", ("worker-a",)
        )
        assert await alive.position("x") is None and await alive.signed_in() == 0
        assert (await alive.snapshot())["waiting"] == []
        assert await alive.pick_up("x", Line("Dana")) is None
    finally:
        await alive.close()
        await dead.close()
        await store_b.close()
        await store_a.close()


async def die(worker: PostgresDesk) -> None:
    """What a killed worker does to the desk: it falls silent, and cleans nothing up."""
    assert worker._keeping is not None
    worker._keeping.cancel()
    await worker._channels.close()


# Each side of a call joined across workers says it is there 10 times a second here; one not
# heard from for 2 s has gone.
QUICK = {"alive_every_s": 0.1, "lost_after_s": 2.0}


@contextlib.asynccontextmanager
async def joined_across_workers(
    dsn: str,
) -> AsyncIterator[tuple[PostgresDesk, PostgresDesk, Call, Line]]:
    """A call waiting on worker A, picked up by Dana's console on worker B (both quick to
    say they are there); yields A's desk, B's desk, the call and Dana's line."""
    await asyncio.to_thread(reset_database, dsn)
    store_a, callers = await pg_desk(dsn, "worker-a", **QUICK)
    store_b, consoles = await pg_desk(dsn, "worker-b", **QUICK)
    try:
        call, dana = Call(), Line("Dana")
        await callers.enqueue(packet("joined"), call)
        await consoles.sign_in(dana)
        assert await consoles.pick_up("joined", dana) is not None
        await until(lambda: {"type": "picked_up"} in dana.events, dana.changed)
        yield callers, consoles, call, dana
    finally:
        await consoles.close()
        await callers.close()
        await store_b.close()
        await store_a.close()


@pytest.mark.parametrize("dead", ["the console's worker", "the caller's worker"])
async def test_a_conversation_across_workers_ends_cleanly_when_either_worker_dies(
    postgres_dsn: str, dead: str
) -> None:
    async with joined_across_workers(postgres_dsn) as (callers, consoles, call, dana):
        # Both alive for longer than a side may stay unheard: nothing is let go.
        await asyncio.sleep(3.0)
        assert call.actions == [] and not any(e["type"] == "call_ended" for e in dana.events)
        if dead == "the console's worker":
            await die(consoles)
            # The caller is not left with no one on the line: the agent takes the call back.
            await until(lambda: call.actions == ["hand_back"], call.changed)
        else:
            await die(callers)
            # The person is told the call is over, as when a caller hangs up.
            ended = {"type": "call_ended", "call_id": "joined"}
            await until(lambda: ended in dana.events, dana.changed)
            assert call.actions == []


async def test_a_side_let_go_of_makes_the_other_let_go_too(postgres_dsn: str) -> None:
    async with joined_across_workers(postgres_dsn) as (callers, _, _, dana):
        # The caller's worker forgot the call (it thought the console gone): when the
        # console's worker next says it is there, it hears the call is gone, and says so.
        callers._joined.consoles.drop("joined")
        ended = {"type": "call_ended", "call_id": "joined"}
        await until(lambda: ended in dana.events, dana.changed)
