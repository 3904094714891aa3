"""PostgreSQL LISTEN/NOTIFY between workers: messages in order, on connections of their own.

Workers that share the PostgreSQL store send each other short messages through the same
database (the handoff desk's queue changes, a console on one worker talking to a call on
another: `handoff/pg_desk.py`). Listening holds a connection for as long as it runs, so it
has one of its own, outside the store's pool; sending goes over a second one, one message
at a time, so that messages from this worker arrive in the order they were sent (NOTIFYs
from separate pooled connections could commit, and so arrive, out of order).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from psycopg import AsyncConnection, sql

log = logging.getLogger(__name__)

MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
RECONNECT_S = 1.0
OnMessage = Callable[[str, str], Awaitable[None]]


def channel_name(prefix: str, key: str) -> str:
    """A channel name for any `key` (a worker id may hold any characters): short, plain."""
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:20]}"


class PgChannels:
    """Listens on some channels and sends on any, through one PostgreSQL database.

    Args:
        dsn: the database's connection string (the store's).
        channels: the channels to listen on.
        on_message: awaited with (channel, payload) for each message, one at a time, in the
            order they arrive. Also awaited with (channel, "") for each channel after the
            listening connection was re-established: messages may have been missed.
    """

    def __init__(self, dsn: str, channels: Sequence[str], on_message: OnMessage) -> None:
        self._dsn = dsn
        self._channels = list(channels)
        self._on_message = on_message
        self._send_conn: AsyncConnection[Any] | None = None
        self._send_lock = asyncio.Lock()
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts listening; returns once the channels are listened on."""
        self._task = asyncio.create_task(self._listen())
        waiter = asyncio.create_task(self._listening.wait())
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            self._task.result()  # raises what stopped it

    async def send(self, channel: str, payload: str) -> None:
        """Sends one message (at most `MAX_PAYLOAD` bytes), after every earlier one."""
        if len(payload.encode()) > MAX_PAYLOAD:
            raise ValueError("NOTIFY payload too large")
        async with self._send_lock:
            for attempt in (1, 2):  # a connection the database dropped is replaced once
                if self._send_conn is None or self._send_conn.closed:
                    self._send_conn = await AsyncConnection.connect(self._dsn, autocommit=True)
                try:
                    await self._send_conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
                    return
                except Exception:
                    await self._send_conn.close()
                    self._send_conn = None
                    if attempt == 2:
                        raise

    async def _listen(self) -> None:
        first = True
        while True:
            try:
                async with await AsyncConnection.connect(self._dsn, autocommit=True) as conn:
                    for channel in self._channels:
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._listening.set()
                    if not first:
                        for channel in self._channels:
                            await self._deliver(channel, "")
                    first = False
                    async for note in conn.notifies():
                        await self._deliver(note.channel, note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if first:
                    raise
                log.warning("LISTEN connection lost (%s); reconnecting", error)
                await asyncio.sleep(RECONNECT_S)

    async def _deliver(self, channel: str, payload: str) -> None:
        try:
            await self._on_message(channel, payload)
        except Exception:
            log.exception("message on %s not handled", channel)

    async def close(self) -> None:
        """Stops listening and closes both connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        async with self._send_lock:
            if self._send_conn is not None:
                await self._send_conn.close()
                self._send_conn = None
