"""The queued socket writer every WebSocket transport sends through.

The session never waits on a slow peer: messages go into a queue drained, in order, by one
writer task. A peer that stops reading cannot grow the queue without bound: past `limit`
messages the writer gives up, and the transport then ends the call (`close_websocket` cuts
the connection if the peer does not read the close either). On barge-in, queued agent
audio is dropped before it ever leaves, while control messages stay in order.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

Message = bytes | str


class QueuedSocketWriter:
    """Writes messages to one WebSocket from a bounded queue (see the module docstring).

    Args:
        ws: the accepted WebSocket.
        limit: queued messages beyond which the peer counts as not reading.
        name: the writer task's name (logs, debugging).
    """

    def __init__(self, ws: web.WebSocketResponse, limit: int, name: str) -> None:
        self._ws = ws
        self._limit = limit
        self._queue: asyncio.Queue[tuple[str, Message] | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=name)
        self._stopped = False

    def put(self, kind: str, message: Message) -> bool:
        """Queues `message` (of `kind`, e.g. "audio"); False once the peer is not reading.

        After False (or `finish`), further messages are dropped.
        """
        if self._stopped:
            return True
        if self._queue.qsize() > self._limit:
            self._stop()
            return False
        self._queue.put_nowait((kind, message))
        return True

    def drop(self, kinds: set[str]) -> None:
        """Removes queued messages of these kinds, keeping the others in order."""
        kept = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is None or item[0] not in kinds:
                kept.append(item)
        for item in kept:
            self._queue.put_nowait(item)

    async def finish(self, timeout_s: float = 2.0) -> None:
        """Accepts no more messages; waits (up to `timeout_s`) for the queued ones to leave."""
        self._stop()
        if not self._task.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=timeout_s)

    def _stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._queue.put_nowait(None)

    async def _run(self) -> None:
        while (item := await self._queue.get()) is not None:
            try:
                if isinstance(item[1], bytes):
                    await self._ws.send_bytes(item[1])
                else:
                    await self._ws.send_str(item[1])
            except Exception:  # the peer vanished; the inbound loop will notice and end
                return


async def close_websocket(
    ws: web.WebSocketResponse, writer: QueuedSocketWriter, code: int, timeout_s: float = 3.0
) -> None:
    """Closes `ws` once what is queued has left (or `finish` gave up on it); a peer that does not
    read cannot hold the close up either: after `timeout_s` the connection is cut."""
    await writer.finish()
    try:
        await asyncio.wait_for(ws.close(code=code), timeout_s)
    except Exception:  # no close handshake from a peer that stopped reading: cut it off
        request = getattr(ws, "_req", None)  # the request it was upgraded from
        transport = getattr(request, "transport", None)
        if transport is not None:
            transport.abort()
