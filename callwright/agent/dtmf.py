"""Keypad entry: digits are gathered until `#` or a pause, then become one caller turn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

OnEntry = Callable[[str, float, float], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class DtmfOptions:
    """When a keypad entry is complete.

    Attributes:
        terminator: the key that ends an entry at once (not part of it).
        timeout_s: an entry also ends this long after its last key.
    """

    terminator: str = "#"
    timeout_s: float = 1.5


class DtmfCollector:
    """Buffers keys; calls `on_entry(digits, first_key_ms, last_key_ms)` per complete entry.

    Args:
        on_entry: receives each entry (`#` excluded); an empty entry (a lone `#`) is dropped.
        options: terminator and timeout.
    """

    def __init__(self, on_entry: OnEntry, options: DtmfOptions | None = None) -> None:
        self._on_entry = on_entry
        self._options = options or DtmfOptions()
        self._digits = ""
        self._first_ms = 0.0
        self._last_ms = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> str:
        """Digits of the entry in progress."""
        return self._digits

    def press(self, digit: str, at_ms: float) -> None:
        """One key, at `at_ms` on the call's audio timeline."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if digit == self._options.terminator:
            self._complete()
            return
        if not self._digits:
            self._first_ms = at_ms
        self._digits += digit
        self._last_ms = at_ms
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._options.timeout_s, self._complete)

    def _complete(self) -> None:
        self._timer = None
        digits, self._digits = self._digits, ""
        if digits:
            task = asyncio.create_task(self._on_entry(digits, self._first_ms, self._last_ms))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Drops an unfinished entry and cancels pending deliveries."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
