"""The handoff at its edges: a pickup that fails halfway, a console whose session ends while
it is open, a caller who hangs up mid-pickup. The real `CallHandoff`, desk and console
server (no models: the call's voice and line are kept in memory, `tests/fakes/handoff_call`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
from aiohttp import web

from callwright.handoff.desk import Desk, HandoffDesk, QueuedCall
from callwright.handoff.packet import ContextPacket
from callwright.store.access import AccessStore
from callwright.store.sqlite import SqliteCallStore
from tests.conftest import wait_until
from tests.fakes.console import ConsoleClient, console
from tests.fakes.handoff_call import (
    ASKED_FOR_A_PERSON,
    QUIET,
    ConsoleDesk,
    console_server,
    handoff_call,
    until,
)
from tests.pg_cluster import reset_database
from tests.test_desk_contract import Line as DeskLine
from tests.test_desk_contract import pg_desk


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteCallStore]:
    opened = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    yield opened
    await opened.close()


async def until_unwritable(ws: web.WebSocketResponse) -> None:
    """Until the server's side of `ws` has seen its connection drop (a write fails)."""
    async with asyncio.timeout(10.0):
        while True:
            try:
                await ws.send_str('{"type": "probe"}')
            except ConnectionError:
                return
            await asyncio.sleep(0.01)


async def test_a_console_that_drops_while_picking_up_gives_the_call_back(
    sqlite_store: SqliteCallStore,
) -> None:
    desk = ConsoleDesk()
    hushing, go_on = asyncio.Event(), asyncio.Event()

    async def hush() -> None:  # the agent's voice stops for the person: it takes a moment
        hushing.set()
        await go_on.wait()

    handoff, call = handoff_call("call-1", desk, hush=hush)
    async with console_server(sqlite_store, desk) as url, console(url) as dana:
        await handoff.escalate(ASKED_FOR_A_PERSON)
        await dana.send({"type": "pickup", "call_id": "call-1"})
        await hushing.wait()
        # Dana's connection drops right after her click (a closed lid, a lost Wi-Fi).
        dana.ws._conn.transport.abort()  # type: ignore[union-attr]
        [line] = desk.lines
        await until_unwritable(line.ws)  # type: ignore[attr-defined]
        go_on.set()
        await until(lambda: handoff.mode == "agent")
    # The caller is back with the agent and told so, not left on a line nobody is on.
    assert call.recorder.kinds()[-2:] == ["human_joined", "handed_back"]
    await until(lambda: call.said[-1] == handoff.options.back_line)
    assert (await desk.snapshot())["active"] == []
    await handoff.close()


# What ends a person's right to the console while theirs is open, and the close code it gets.
EXPIRE = "UPDATE operator_sessions SET expires_at = 0 WHERE user_name = 'Dana'"
CREDENTIAL_ENDS: dict[str, tuple[Callable[[AccessStore], Awaitable[Any]], int]] = {
    "removed": (lambda access: access.remove_user("Dana"), 4401),
    "signed out elsewhere": (lambda access: access.revoke_sessions_of("Dana"), 4401),
    "session expired": (lambda access: access._store.sql_execute(EXPIRE), 4401),
    "made a viewer": (lambda access: access.add_user("Dana", "viewer", "-"), 4403),
}


# Each ending with the console idle (checked again with each queue pushed to it), and once
# with a command sent at once (checked again before it is carried out).
CASES = [(how, "stays idle") for how in CREDENTIAL_ENDS] + [("removed", "sends a command")]


@pytest.mark.parametrize(("how", "then"), CASES)
async def test_a_console_whose_credential_ends_is_closed_and_its_call_goes_back(
    sqlite_store: SqliteCallStore, how: str, then: str
) -> None:
    end, code = CREDENTIAL_ENDS[how]
    desk = ConsoleDesk()
    first, _ = handoff_call("call-1", desk)
    second, _ = handoff_call("call-2", desk)
    async with console_server(sqlite_store, desk) as url, console(url) as dana:
        await first.escalate(ASKED_FOR_A_PERSON)
        await dana.send({"type": "pickup", "call_id": "call-1"})
        await dana.wait_for("picked_up", call_id="call-1")
        await end(await AccessStore.open(sqlite_store))
        if then == "sends a command":
            await dana.send({"type": "end_call"})  # would hang up on the caller
        else:
            await second.escalate(ASKED_FOR_A_PERSON)  # a change, pushed to the console
        await until(lambda: dana.ws.closed)
        assert dana.ws.close_code == code
        # Their call goes back to the agent (not ended by them); they take nothing more.
        await until(lambda: first.mode == "agent")
        assert second.mode == ("waiting" if then == "stays idle" else "agent")
    for handoff in (first, second):
        await handoff.close()


async def nth_error(person: ConsoleClient, n: int) -> dict[str, Any]:
    """The `n`th error event the console was sent (from 0), once it has come."""

    def errors() -> list[dict[str, Any]]:
        return [e for e in person.events if e.get("type") == "error"]

    await until(lambda: len(errors()) > n)
    return errors()[n]


# Each is answered with an error, and the console goes on.
MALFORMED = {
    "[" * 100_000: "bad_message",  # nested deeper than Python recurses
    '{"type": ' + "[" * 100_000: "bad_message",
    '{"type": ' + "[" * 900 + "]" * 900 + "}": "bad_message",  # parsed; its repr would recurse
    '{"type": "pickup", "call_id": ' + "[" * 900 + "]" * 900 + "}": "gone",
    '{"type": "launch"}': "bad_command",
}


async def test_malformed_console_messages_are_answered_and_the_console_goes_on(
    sqlite_store: SqliteCallStore,
) -> None:
    desk = ConsoleDesk()
    handoff, _ = handoff_call("call-1", desk)
    async with console_server(sqlite_store, desk) as url, console(url) as dana:
        for seen, (message, code) in enumerate(MALFORMED.items()):
            await dana.ws.send_str(message)
            assert (await nth_error(dana, seen))["code"] == code, message[:40]
        await handoff.escalate(ASKED_FOR_A_PERSON)
        await dana.send({"type": "pickup", "call_id": "call-1"})
        await dana.wait_for("picked_up", call_id="call-1")
    await handoff.close()


async def test_a_caller_who_hangs_up_while_being_put_through_ends_the_pickup(
    sqlite_store: SqliteCallStore,
) -> None:
    desk = ConsoleDesk()

    async def hush() -> None:  # the hang-up is handled while the agent's voice stops
        await first.close()

    first, _ = handoff_call("call-1", desk, hush=hush)
    second, _ = handoff_call("call-2", desk)
    async with console_server(sqlite_store, desk) as url, console(url) as dana:
        await first.escalate(ASKED_FOR_A_PERSON)
        await second.escalate(ASKED_FOR_A_PERSON)
        await dana.send({"type": "pickup", "call_id": "call-1"})
        # Dana hears the call has ended, and holds nothing: the next caller is hers to take.
        await dana.wait_for("call_ended", call_id="call-1", timeout_s=10.0)
        await dana.send({"type": "pickup", "call_id": "call-2"})
        await dana.wait_for("picked_up", call_id="call-2", timeout_s=10.0)
        assert not [e for e in dana.events if e.get("type") == "error"]
        assert (first.mode, second.mode) == ("done", "human")
    await second.close()


class PausingDesk:
    """A desk that stops at one step (`at`) until the test lets it go on."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.at: str | None = None
        self.reached, self.go_on = asyncio.Event(), asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.desk, name)

    async def _pause(self, step: str) -> None:
        if step == self.at:
            self.at = None
            self.reached.set()
            await self.go_on.wait()

    async def signed_in(self) -> int:
        count = await self.desk.signed_in()
        await self._pause("signed_in")
        return count

    async def enqueue(self, packet: ContextPacket, call: QueuedCall) -> None:
        await self._pause("enqueue")
        await self.desk.enqueue(packet, call)


@pytest.fixture(params=["memory", "postgres"])
async def any_desk(request: pytest.FixtureRequest) -> AsyncIterator[Desk]:
    if request.param == "memory":
        yield HandoffDesk()
        return
    dsn = request.getfixturevalue("postgres_dsn")
    await asyncio.to_thread(reset_database, dsn)
    store, shared = await pg_desk(dsn, "worker-a")
    yield shared
    await shared.close()
    await store.close()


# Where the caller's call is when they hang up: the desk answers the step after the hang-up.
STEPS = {
    "asking who is signed in": ("escalate", "signed_in"),
    "being queued": ("escalate", "enqueue"),
    "declining the callback": ("decline", "signed_in"),
}


@pytest.mark.parametrize("step", list(STEPS))
async def test_a_caller_who_hangs_up_mid_step_is_never_left_in_the_queue(
    any_desk: Desk, step: str
) -> None:
    how, pause_at = STEPS[step]
    desk = PausingDesk(any_desk)
    handoff, call = handoff_call("call-1", cast(Desk, desk))
    if how == "decline":  # offered a callback, as nobody was there; now someone is
        await handoff.escalate(ASKED_FOR_A_PERSON)
        assert handoff.mode == "callback_offer"
    await any_desk.sign_in(DeskLine("Dana"))
    desk.at = pause_at
    if how == "escalate":
        going = asyncio.create_task(handoff.escalate(ASKED_FOR_A_PERSON))
    else:
        going = asyncio.create_task(handoff.on_caller_text("no"))
    await desk.reached.wait()
    await handoff.close()  # the hang-up: the session's shutdown closes the handoff first
    desk.go_on.set()
    await going
    # No ghost in every console's queue that nobody can talk to.
    assert (await any_desk.snapshot())["waiting"] == []
    assert await any_desk.position("call-1") is None
    assert handoff.mode == "done" and "queued" not in call.recorder.kinds()


async def test_a_caller_who_kept_holding_is_offered_the_callback_again_once_everyone_leaves(
    any_desk: Desk,
) -> None:
    # The wait limit comes at once; everyone gone for 0.3 s counts as everyone gone.
    options = dataclasses.replace(QUIET, wait_limit_s=0.0, nobody_left_s=0.3)
    handoff, call = handoff_call("call-1", any_desk, options)
    dana = DeskLine("Dana")
    await any_desk.sign_in(dana)
    await handoff.escalate(ASKED_FOR_A_PERSON)
    await until(lambda: handoff.mode == "callback_offer")
    await handoff.on_caller_text("no")  # they keep holding
    assert handoff.mode == "waiting" and call.said[-1] == options.keep_waiting_line
    # Dana reloads her console: gone for a moment, which offers nothing.
    await any_desk.sign_out(dana)
    await any_desk.sign_in(dana := DeskLine("Dana"))
    await asyncio.sleep(2 * options.nobody_left_s)
    assert handoff.mode == "waiting"
    # The end of the shift: nobody is left to pick the caller up.
    await any_desk.sign_out(dana)
    await until(lambda: handoff.mode == "callback_offer")
    assert call.said[-1] == options.nobody_line
    assert ("callback_offered", {"reason": "nobody_signed_in"}) in call.recorder.events
    await handoff.on_caller_text("no")  # nobody to hold for: a polite goodbye
    assert handoff.mode == "done" and call.said[-1] == options.callback_no_line
    await handoff.close()


@pytest.mark.parametrize("how", ["its message fails", "its worker dies after its claim"])
async def test_a_pickup_never_put_through_puts_the_caller_back_in_line(
    postgres_dsn: str, how: str
) -> None:
    """A console on worker B picks up a call waiting on worker A, but A never hears of it."""
    await asyncio.to_thread(reset_database, postgres_dsn)
    quick = {"alive_every_s": 0.1, "lost_after_s": 0.5}
    store_a, callers = await pg_desk(postgres_dsn, "worker-a", **quick)
    store_b, consoles = await pg_desk(postgres_dsn, "worker-b", **quick)
    handoff, call = handoff_call(
        "call-1", callers, dataclasses.replace(QUIET, update_interval_s=0.1)
    )
    try:
        dana = DeskLine("Dana")
        await consoles.sign_in(dana)
        await handoff.escalate(ASKED_FOR_A_PERSON)
        if how == "its message fails":
            sending = consoles._channels.send

            async def connect_fails(channel: str, payload: str) -> None:
                if '"op": "connect"' in payload:
                    raise psycopg.OperationalError("the connection to the server was lost")
                await sending(channel, payload)

            consoles._channels.send = connect_fails  # type: ignore[method-assign]
            assert await consoles.pick_up("call-1", dana) is None
            consoles._channels.send = sending  # type: ignore[method-assign]
        else:  # B's claim, as its pick_up makes it; then B is gone before its message
            await store_b.sql_execute(
                "UPDATE desk_queue SET human = 'Dana', human_worker = 'worker-b', line_id = 'x',"
                " picked_at = ? WHERE call_id = 'call-1'",
                (time.time(),),
            )
            await handoff.on_caller_text("Hello? Is anyone there?")

        async def back_in_line() -> bool:
            return await consoles.position("call-1") == 1

        await wait_until(back_in_line)
        assert await consoles.pick_up("call-1", dana) is not None  # and picked up for real
        await until(lambda: handoff.mode == "human")
        # Meanwhile the caller was never told they were number 0 in line.
        assert call.said and not [line for line in call.said if "number 0" in line]
        told = [e["position"] for e in call.transport.events if e["type"] == "queue_position"]
        assert told and 0 not in told
    finally:
        await handoff.close()
        for desk, store in ((consoles, store_b), (callers, store_a)):
            await desk.close()
            await store.close()
