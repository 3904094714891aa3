"""Which calls a worker takes: a cap on live calls and on connections per address, none while
it drains; and the one place a refused call is recorded.

Every refusal is a call record with outcome "rejected", a `rejected` event with a code, and the
code and message as its end reason, whichever way the call came in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from callwright.store.base import CallRecord, CallStore

log = logging.getLogger(__name__)

BUSY_LINE = "Sorry, all our lines are busy right now. Please call again in a few minutes."
# Handover key a worker leaves when it starts the stream of a call whose webhook another
# worker answered: that worker then frees the line it held for the call.
STREAM_STARTED = "stream-started:"


class LiveCall(Protocol):
    """What admission needs of a running call: a way to end it from outside."""

    async def end(self, line: str | None, outcome: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call is not taken."""

    code: str
    message: str


class Admission:
    """Counts live calls and open connections; says whether a new one may come in.

    Args:
        max_calls: live calls this worker takes at most (None: no cap).
        max_per_address: open WebSocket connections one client address may hold (None: no cap).
    """

    def __init__(self, max_calls: int | None = None, max_per_address: int | None = None) -> None:
        self.max_calls = max_calls
        self.max_per_address = max_per_address
        self.draining = False
        self._calls: set[LiveCall] = set()
        # Phone calls answered by webhook whose stream has not started yet: they hold a line.
        self._reserved: dict[str, float] = {}  # call reference → monotonic expiry
        self._connections: Counter[str] = Counter()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def live(self) -> int:
        return len(self._calls)

    @property
    def reserved(self) -> int:
        """Lines held for answered phone calls whose stream is still to come."""
        now = time.monotonic()
        for ref in [r for r, until in self._reserved.items() if until < now]:
            del self._reserved[ref]
        return len(self._reserved)

    def reserve(self, ref: str, ttl_s: float) -> None:
        """Holds a line for the call `ref` until its stream starts or `ttl_s` passes."""
        self._reserved[ref] = time.monotonic() + ttl_s

    def holds(self, ref: str) -> bool:
        """Whether a line is held for the call `ref` (a webhook retry is the same call)."""
        return self.reserved > 0 and ref in self._reserved

    def release(self, ref: str) -> None:
        """The call's stream started (or never will): its held line is free."""
        self._reserved.pop(ref, None)

    def reserved_refs(self) -> list[str]:
        """The calls this worker holds a line for."""
        return list(self._reserved) if self.reserved else []

    def refusal(self, address: str | None = None) -> Refusal | None:
        """Why a new call would be refused now, or None if it may come in."""
        if self.draining:
            return Refusal("server_draining", "this server is shutting down; call again")
        if self.max_calls is not None and self.live + self.reserved >= self.max_calls:
            return Refusal("busy", f"this server is at its limit of {self.max_calls} live calls")
        per = self.max_per_address
        if address is not None and per is not None and self._connections[address] >= per:
            return Refusal("too_many_connections", f"{address} already has {per} open calls")
        return None

    @contextlib.contextmanager
    def connection(self, address: str | None) -> Iterator[None]:
        """Counts one open connection from `address` for as long as the block runs."""
        key = address or "?"
        self._connections[key] += 1
        try:
            yield
        finally:
            self._connections[key] -= 1
            if self._connections[key] <= 0:
                del self._connections[key]

    @contextlib.contextmanager
    def call(self, live: LiveCall) -> Iterator[None]:
        """Counts a live call for as long as the block runs."""
        self._calls.add(live)
        self._idle.clear()
        try:
            yield
        finally:
            self._calls.discard(live)
            if not self._calls:
                self._idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        """Waits until no call is live and no line is held; False if `timeout_s` passed first.

        A held line is a call whose webhook this worker answered: its stream may still come
        here (the platform connects a few seconds later), and it is served, not dropped.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self._idle.is_set() and not self.reserved:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if not self._idle.is_set():
                try:
                    await asyncio.wait_for(self._idle.wait(), remaining)
                except TimeoutError:
                    return False
                continue
            # Polled: a held line ends when its stream starts (here or, as the store says,
            # elsewhere) or when its token expires; no event marks the last two.
            await asyncio.sleep(min(0.25, remaining))

    async def end_all(self, line: str | None, outcome: str) -> None:
        """Ends every live call (each says `line` first) and waits for their records."""
        ending = [c.end(line, outcome) for c in list(self._calls)]
        results = await asyncio.gather(*ending, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.warning("ending a call for %s failed: %r", outcome, result)


async def record_rejection(
    store: CallStore,
    channel: str,
    code: str,
    message: str,
    parameters: dict[str, str] | None = None,
    caller: str | None = None,
) -> str:
    """Records a call that was refused (outcome "rejected"); returns its call id."""
    log.warning("rejected %s call: %s: %s", channel, code, message)
    call_id = uuid.uuid4().hex
    record = CallRecord(call_id, channel, caller, time.time(), dict(parameters or {}))
    await store.start_call(record)
    await store.add_event(call_id, "rejected", 0.0, {"code": code, "message": message})
    await store.end_call(call_id, "rejected", f"{code}: {message}")
    return call_id


ADMISSION = web.AppKey("admission", Admission)
