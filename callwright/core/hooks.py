"""The receivers of an agent's events (webhooks, a calendar), and what closes them.

An agent's factory hands each event it emits (an appointment booked, a handoff) to every
receiver; a receiver that fails is logged and never fails the call. Receivers that send in the
background give a `close` with them, run when the factory closes, so that what they have not
sent yet is kept (the server closes the factory before its store).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Hook = Callable[[str, dict[str, Any]], Awaitable[None]]
Closer = Callable[[], Awaitable[None]]


class EventHooks:
    """An agent's event receivers, in the order they were added."""

    def __init__(self) -> None:
        self.receivers: list[Hook] = []
        self._closers: list[Closer] = []

    def add(self, hook: Hook, close: Closer | None = None) -> None:
        """Adds a receiver; `close` runs with `close()` (a sender keeps what it has not sent)."""
        self.receivers.append(hook)
        if close is not None:
            self._closers.append(close)

    def remove(self, hook: Hook) -> None:
        """Stops handing events to `hook` (its closer, if any, still runs at close)."""
        self.receivers.remove(hook)

    async def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Hands an event to every receiver; a failing one is logged, never raised."""
        for hook in list(self.receivers):
            try:
                await hook(kind, data)
            except Exception:
                log.exception("hook failed for %s", kind)

    async def close(self) -> None:
        """Runs every closer once, in order; one that fails does not stop the others."""
        closers, self._closers = self._closers, []
        for close in closers:
            try:
                await close()
            except Exception:
                log.exception("an event receiver did not close cleanly")
