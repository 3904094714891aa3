"""A token bucket: how many things a sender may do, at a pace with room for a burst.

Keypad presses on a media transport and control messages on a browser call's data channel
are each limited by one; a sender beyond the pace has the excess dropped, not queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """`rate` tokens a second, at most `burst` held; full at the start.

    Args:
        rate: tokens added per second.
        burst: the most tokens held (what may be spent at once after a quiet spell).
        clock: monotonic seconds.
    """

    __slots__ = ("_at", "_burst", "_clock", "_rate", "_tokens")

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate, self._burst, self._clock = rate, burst, clock
        self._tokens, self._at = burst, clock()

    def take(self) -> bool:
        """Spends one token; False (nothing spent) if the sender is past its pace."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
