"""Building blocks of graceful degradation: stall watchdogs, deadlines and circuit breakers.

A provider that fails loudly (an HTTP error, a refused connection) is easy; one that stalls is
the failure that leaves a caller in silence. Every remote call therefore runs under a watchdog:
a deadline for its first byte or event and a limit on any silence after that, so a stalled
connection is abandoned while there is still time to fall back, not discovered when the caller
hangs up. A circuit breaker stops a provider that keeps failing from costing every turn its
deadline: while it is open, requests go straight to the fallback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class ProviderStalled(TimeoutError):
    """A provider sent nothing for longer than its watchdog allows.

    Attributes:
        provider: the provider's name.
        waited_ms: how long the watchdog waited before giving up.
        first: True if nothing at all had arrived yet.
    """

    def __init__(self, provider: str, waited_ms: float, first: bool) -> None:
        what = "sent nothing within" if first else "stalled for"
        super().__init__(f"{provider} {what} {waited_ms:.0f} ms")
        self.provider = provider
        self.waited_ms = waited_ms
        self.first = first


async def watch_stream(
    stream: AsyncIterator[T],
    provider: str,
    *,
    first_ms: float,
    idle_ms: float,
    restart_after: Callable[[T], bool] | None = None,
    wait_after: Callable[[T], float | None] | None = None,
) -> AsyncGenerator[T, None]:
    """Yields `stream`'s items, abandoning it if it stalls.

    The time the consumer spends between items is not counted: only waiting for the provider.

    Args:
        stream: the provider's output.
        provider: its name, for the error.
        first_ms: limit for the first item.
        idle_ms: limit for every later gap.
        restart_after: items after which the next one is again a "first" (e.g. a tool result,
            after which a model starts a new request), so gets `first_ms`.
        wait_after: the limit, in ms, an item sets for the next one (a tool starting says how
            long it may run), or None for the usual one.

    Raises:
        ProviderStalled: the first item or a later one did not arrive in time; the stream is
            closed before this is raised.
    """
    limit_ms, first = first_ms, True
    async with aclosing(_aiter(stream)) as items:
        while True:
            try:
                async with asyncio.timeout(max(limit_ms, 0.0) / 1000.0):
                    item = await anext(items)
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise ProviderStalled(provider, limit_ms, first) from exc
            restart = restart_after is not None and restart_after(item)
            limit_ms, first = (first_ms, True) if restart else (idle_ms, False)
            announced = wait_after(item) if wait_after is not None else None
            if announced is not None:
                limit_ms = max(limit_ms, announced)
            yield item


async def _aiter(stream: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    # A generator of our own, so `aclosing` works whatever kind of iterator we were given.
    try:
        async for item in stream:
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass(frozen=True, slots=True)
class BreakerOptions:
    """When to stop trying a failing provider, and for how long.

    Attributes:
        failures_to_open: consecutive failures that open the breaker.
        open_s: how long it stays open before one request may try the provider again.
    """

    failures_to_open: int = 3
    open_s: float = 30.0


class CircuitBreaker:
    """Counts a shared provider's consecutive failures; open means "skip it for now".

    One instance per provider, shared by every call of the process (it belongs to the
    provider wrapper, never to a module). Only the event loop touches it.

    Args:
        options: thresholds.
        clock: monotonic seconds (a parameter so tests need not sleep).
    """

    def __init__(
        self, options: BreakerOptions | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.options = options or BreakerOptions()
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False  # a half-open trial request is in flight

    @property
    def is_open(self) -> bool:
        """True while requests should skip the provider."""
        if self._opened_at is None:
            return False
        cooled = self._clock() - self._opened_at >= self.options.open_s
        return not cooled or self._trial

    def allow(self) -> bool:
        """Whether the next request may use the provider; a half-open breaker lets one through."""
        if self._opened_at is None:
            return True
        if self.is_open:
            return False
        self._trial = True
        return True

    def success(self) -> None:
        """The provider answered: close the breaker."""
        self._failures = 0
        self._opened_at = None
        self._trial = False

    def abandon(self) -> None:
        """A request was cancelled before the provider answered: it proves nothing either way."""
        self._trial = False

    def failure(self) -> None:
        """The provider failed; enough failures in a row (or a failed trial) open the breaker."""
        self._failures += 1
        if self._trial or self._failures >= self.options.failures_to_open:
            self._opened_at = self._clock()
        self._trial = False


def remaining_ms(deadline: float) -> float:
    """Milliseconds left until `deadline` on the running loop's clock (negative if past)."""
    return 1000.0 * (deadline - asyncio.get_running_loop().time())


def deadline_in(ms: float) -> float:
    """The loop-clock time `ms` milliseconds from now."""
    return asyncio.get_running_loop().time() + ms / 1000.0
