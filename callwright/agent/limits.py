"""Per-call limits on wall-clock time: maximum length, idle timeout, real-time pacing.

The silence watchdog runs on the audio clock, which stops when the caller stops sending: a
stream that sends `start` and then nothing would live forever, and a sender that floods audio
would have its whole call processed in a blink. These limits use the wall clock instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallLimits:
    """What one call may take.

    Attributes:
        max_call_s: longest call; at the limit the agent says `max_duration_line` and ends the
            call (outcome "max_duration"). None: no limit.
        idle_timeout_s: a call that receives nothing from the caller (no audio, no key) for
            this long ends (outcome "idle_timeout"). None: no limit.
        max_realtime_factor: inbound audio is accepted at most this many times faster than
            real time; a faster sender is paced (its reads wait).
        burst_ms: audio that may arrive ahead of that pace (a network hiccup's catch-up).
        end_grace_s: how long an ending line may take before the call is closed anyway.
        max_duration_line: what the agent says when the call reaches its maximum length.
        shutdown_line: what the agent says when the server must end the call (drain deadline).
    """

    max_call_s: float | None = 3600.0
    idle_timeout_s: float | None = 30.0
    max_realtime_factor: float = 1.5
    burst_ms: float = 2000.0
    end_grace_s: float = 10.0
    max_duration_line: str = "I'm sorry, we have reached the time limit for this call. Goodbye."
    shutdown_line: str = "I'm sorry, I have to end this call now. Please call us back. Goodbye."


class RealTimePacer:
    """Holds a stream of audio to at most `factor` times real time (plus a burst allowance).

    Args:
        factor: audio seconds allowed per wall-clock second.
        burst_ms: audio allowed ahead of that pace.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self, factor: float, burst_ms: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._factor = factor
        self._burst_ms = burst_ms
        self._clock = clock
        self._started: float | None = None
        self._audio_ms = 0.0
        self.waited_s = 0.0  # total time the sender was held back

    def delay_s(self, duration_ms: float) -> float:
        """Accounts for `duration_ms` more audio; returns how long to wait before taking it."""
        now = self._clock()
        if self._started is None:
            self._started = now
        self._audio_ms += duration_ms
        allowed_ms = (now - self._started) * 1000.0 * self._factor + self._burst_ms
        return max(0.0, (self._audio_ms - allowed_ms) / (1000.0 * self._factor))

    async def pace(self, duration_ms: float) -> None:
        """Waits as long as `delay_s` says."""
        delay = self.delay_s(duration_ms)
        if delay > 0:
            self.waited_s += delay
            await asyncio.sleep(delay)


class WallClockWatch:
    """Tells when a call has run too long or heard nothing for too long (wall clock).

    Args:
        limits: the limits.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, limits: CallLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._started = clock()
        self._last_inbound = self._started

    def inbound(self) -> None:
        """The caller sent something."""
        self._last_inbound = self._clock()

    def expired(self) -> str | None:
        """ "max_duration", "idle_timeout", or None while the call may go on."""
        now, limits = self._clock(), self._limits
        if limits.max_call_s is not None and now - self._started >= limits.max_call_s:
            return "max_duration"
        if limits.idle_timeout_s is not None and now - self._last_inbound >= limits.idle_timeout_s:
            return "idle_timeout"
        return None
