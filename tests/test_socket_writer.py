"""The queued socket writer shared by the WebSocket transports, over a real loopback socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from callwright.transports.socket_writer import QueuedSocketWriter, close_websocket

Script = Callable[[QueuedSocketWriter], None]
Handler = Callable[[web.Request], Awaitable[web.WebSocketResponse]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A loopback server whose one route is `handler`; yields its URL."""
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def writing(script: Script, limit: int = 100) -> AsyncIterator[list[bytes | str]]:
    """A server whose handler runs `script` on a writer; yields what the client received."""
    received: list[bytes | str] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        writer = QueuedSocketWriter(ws, limit, "test-writer")
        script(writer)  # synchronously: nothing is sent before it returns
        await writer.finish()
        await ws.close()
        return ws

    async with serving(handler) as url:
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            async for msg in ws:
                received.append(msg.data)
        yield received


async def test_messages_leave_in_order_text_and_binary() -> None:
    def script(writer: QueuedSocketWriter) -> None:
        for i in range(5):
            assert writer.put("audio", bytes([i]))
            assert writer.put("event", f"e{i}")

    async with writing(script) as received:
        expected: list[bytes | str] = []
        for i in range(5):
            expected += [bytes([i]), f"e{i}"]
        assert received == expected


async def test_dropping_audio_keeps_the_other_messages_in_order() -> None:
    def script(writer: QueuedSocketWriter) -> None:
        writer.put("audio", b"a1")
        writer.put("event", "transcript")
        writer.put("audio", b"a2")
        writer.put("mark", "m1")
        writer.drop({"audio", "mark"})  # barge-in: queued agent audio never leaves
        writer.put("event", "clear")

    async with writing(script) as received:
        assert received == ["transcript", "clear"]


async def test_a_peer_that_does_not_read_stops_the_writer() -> None:
    results: list[bool] = []

    def script(writer: QueuedSocketWriter) -> None:
        results.extend(writer.put("event", str(i)) for i in range(6))
        results.append(writer.put("event", "after"))  # dropped, not queued

    async with writing(script, limit=3) as received:
        # The 5th message finds 4 queued (> 3): the writer gives up; what was queued leaves.
        assert results == [True, True, True, True, False, True, True]
        assert received == ["0", "1", "2", "3"]


async def test_a_peer_that_reads_nothing_is_cut_off_when_the_call_closes() -> None:
    closed = asyncio.Event()
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        writer = QueuedSocketWriter(ws, 4, "test-writer")
        big = b"x" * 1_000_000
        # Until the socket's buffers are full and the writer stalls (it has no event for it).
        while writer.put("audio", big):  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        # The close handshake cannot get through either; the connection is cut instead of
        # waiting on the peer for ever.
        await close_websocket(ws, writer, 1000, timeout_s=0.5)
        await asyncio.sleep(0)
        seen["transport"] = request.transport
        closed.set()
        return ws

    async with (
        serving(handler) as url,
        aiohttp.ClientSession() as http,
        http.ws_connect(url, max_msg_size=0),
    ):
        await asyncio.wait_for(closed.wait(), 30)  # never reading a message
        transport = seen["transport"]
        assert transport is None or transport.is_closing()  # type: ignore[attr-defined]
