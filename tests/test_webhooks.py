"""Signed webhooks: retries, a dead-letter record, later delivery to a receiver that was down."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from callwright.agents.definition import Agent, AgentRuntime
from callwright.agents.responder import AgentResponderFactory
from callwright.config import DrainSettings
from callwright.integrations.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    WebhookOptions,
    WebhookSender,
    verify_signature,
)
from callwright.server.agents import install_agents
from callwright.server.drain import install_drain

SECRET = "whsec_test"
Handler = Callable[[web.Request], Awaitable[web.Response]]


class Receiver:
    """A webhook receiver on a fixed loopback port that can be up, failing or down."""

    def __init__(self, port: int, fail_first: int = 0, handler: Handler | None = None) -> None:
        """`handler`: answers in its own way (hangs, redirects) instead of `handle`."""
        self.port = port
        self._handler = handler
        self.fail_first = fail_first
        self.received: list[dict[str, Any]] = []
        self.valid: list[bool] = []
        self.ids: list[str] = []
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        self.valid.append(verify_signature(SECRET, request.headers[SIGNATURE_HEADER], body))
        self.ids.append(request.headers[EVENT_ID_HEADER])
        self.received.append(json.loads(body))
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handler or self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def options(port: int, **overrides: Any) -> WebhookOptions:
    base = WebhookOptions(
        url=f"http://127.0.0.1:{port}/hook",
        secret=SECRET,
        max_attempts=3,
        backoff_s=0.01,
        timeout_s=2.0,
        redeliver_every_s=3600.0,
    )
    return WebhookOptions(
        **{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **overrides}
    )


async def test_signed_delivery_with_retries(tmp_path: Path) -> None:
    port = free_port()
    receiver = Receiver(port, fail_first=2)
    await receiver.start()
    sender = WebhookSender(options(port), tmp_path / "hooks.sqlite3")
    await sender.start()
    try:
        await sender.emit("appointment_booked", {"id": "apt_1", "doctor_id": "patel"})
        await sender.drain()
        assert [e["type"] for e in receiver.received] == ["appointment_booked"]
        assert receiver.received[0]["data"]["id"] == "apt_1"
        assert receiver.valid == [True]
        assert await sender.dead_letters() == []
        body = json.dumps(receiver.received[0]).encode()
        assert not verify_signature("wrong", "t=1,v1=00", body)
    finally:
        await sender.close()
        await receiver.stop()


async def test_a_receiver_that_is_down_gets_the_event_later(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    sender = WebhookSender(options(port), tmp_path / "hooks.sqlite3")
    await sender.start()
    receiver = Receiver(port)
    try:
        await sender.emit("call_ended", {"call_id": "c1", "done": ["book:apt_1"]})
        await sender.drain()
        [letter] = await sender.dead_letters()
        assert letter.kind == "call_ended" and letter.delivered_at is None
        assert letter.attempts == 3 and "Connect" in letter.last_error

        assert await sender.redeliver() == 0  # still down: it stays in the record
        assert [d.attempts for d in await sender.dead_letters()] == [4]
        await receiver.start()
        assert await sender.redeliver() == 1
        assert [e["data"]["call_id"] for e in receiver.received] == ["c1"]
        assert receiver.valid == [True] and receiver.ids == [letter.event_id]
        [letter] = await sender.dead_letters()
        assert letter.delivered_at is not None
        assert await sender.redeliver() == 0  # delivered letters are not sent again
    finally:
        await sender.close()
        await receiver.stop()


async def test_periodic_redelivery(tmp_path: Path) -> None:
    port = free_port()
    sender = WebhookSender(options(port, redeliver_every_s=0.05), tmp_path / "hooks.sqlite3")
    await sender.start()
    receiver = Receiver(port)
    try:
        await sender.emit("call_started", {"call_id": "c2"})
        await sender.drain()
        await receiver.start()
        for _ in range(100):
            if receiver.received:
                break
            await asyncio.sleep(0.05)
        assert [e["type"] for e in receiver.received] == ["call_started"]
    finally:
        await sender.close()
        await receiver.stop()


async def test_a_hanging_receiver_holds_no_more_than_the_queue_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    hang = asyncio.Event()

    async def never_answers(request: web.Request) -> web.Response:
        await hang.wait()
        return web.Response(status=204)

    receiver = Receiver(free_port(), handler=never_answers)
    await receiver.start()
    limits = options(receiver.port, timeout_s=30.0, senders=2, max_queued=3)
    sender = WebhookSender(limits, tmp_path / "dead.sqlite3")
    await sender.start()
    try:
        for n in range(20):
            await sender.emit("call_started", {"n": n})
        await asyncio.sleep(0.2)  # two in flight, three queued, the rest kept on disk
        assert sender.overflowed == 20 - 2 - 3
        kept = await sender.dead_letters()
        assert len(kept) == 15 and {k.last_error for k in kept} == {"queue full: not sent yet"}
    finally:
        await sender.close()  # the queued and the in-flight ones are kept too
        hang.set()
        await receiver.stop()
    reopened = WebhookSender(limits, tmp_path / "dead.sqlite3")
    await reopened.start()
    try:
        numbers = sorted(json.loads(k.body)["data"]["n"] for k in await reopened.dead_letters())
        assert numbers == list(range(20))
    finally:
        await reopened.close()


async def test_a_redirect_is_a_failure_not_a_delivery_elsewhere(tmp_path: Path) -> None:
    elsewhere = Receiver(free_port())
    await elsewhere.start()

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect(f"http://127.0.0.1:{elsewhere.port}/hook")

    redirecting = Receiver(free_port(), handler=moved)
    await redirecting.start()
    sender = WebhookSender(options(redirecting.port, max_attempts=1), tmp_path / "dead.sqlite3")
    await sender.start()
    try:
        await sender.emit("call_started", {"call_id": "c1"})
        await sender.drain()
        [letter] = await sender.dead_letters()
        assert "redirect" in letter.last_error and letter.delivered_at is None
        assert sender.delivered == 0 and elsewhere.received == []
    finally:
        await sender.close()
        await redirecting.stop()
        await elsewhere.stop()


async def test_redelivery_goes_through_every_dead_letter_a_batch_at_a_time(
    tmp_path: Path,
) -> None:
    port = free_port()
    sender = WebhookSender(options(port, max_attempts=1, redeliver_batch=4), tmp_path / "d.sqlite3")
    await sender.start()
    try:
        for n in range(11):  # nobody listens: every one is dead-lettered
            await sender.emit("call_started", {"n": n})
        await sender.drain()
        assert len(await sender.dead_letters()) == 11
        receiver = Receiver(port)
        await receiver.start()
        try:
            assert await sender.redeliver() == 11
        finally:
            await receiver.stop()
        assert sorted(r["data"]["n"] for r in receiver.received) == list(range(11))
    finally:
        await sender.close()


async def test_a_server_that_stops_keeps_the_webhooks_it_had_not_sent(tmp_path: Path) -> None:
    # The agent's responders close with the server (before its store): a generic agent's
    # sender then keeps the events still queued.
    port = free_port()  # nobody listens: what is not yet sent must survive the stop
    sender = WebhookSender(options(port, timeout_s=30.0, backoff_s=30.0), tmp_path / "d.sqlite3")
    await sender.start()
    factory = AgentResponderFactory(Agent(name="plain", knowledge_embedder=None),
                                    AgentRuntime(data_dir=tmp_path), None)  # fmt: skip
    factory.add_hook(sender.emit, close=sender.close)
    closed: list[str] = []

    class Closing:
        def __init__(self, name: str) -> None:
            self.name = name

        async def close(self) -> None:
            closed.append(self.name)

    stack = SimpleNamespace(desk=Closing("desk"), store=Closing("store"), responders=factory)
    app = web.Application()
    named = SimpleNamespace(responders=Closing("a named agent"))  # CALLWRIGHT_AGENTS
    install_agents(app, {"reminders": named})  # type: ignore[dict-item]
    install_drain(app, stack, DrainSettings())  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    for n in range(3):
        await factory.emit("call_started", {"n": n})
    await runner.cleanup()
    assert closed == ["desk", "a named agent", "store"]
    reopened = WebhookSender(options(port), tmp_path / "d.sqlite3")
    await reopened.start()
    try:
        kept = [json.loads(k.body)["data"]["n"] for k in await reopened.dead_letters()]
        assert sorted(kept) == [0, 1, 2]
    finally:
        await reopened.close()
