"""The call's audio clock: where "now" is on the caller's audio timeline."""

from __future__ import annotations

import time


class AudioClock:
    """Maps wall time to the caller's audio timeline.

    The caller streams in real time, so the offset between a frame's arrival (wall time) and its
    end on the audio timeline is constant but for network delay. Keeping the smallest offset seen
    makes the clock robust to frames that arrive late or in bursts.
    """

    def __init__(self) -> None:
        self._offset_ms: float | None = None
        self._started = time.monotonic()

    def on_inbound(self, frame_end_ms: float) -> None:
        """Called for every inbound frame once it has arrived."""
        offset = self.wall_ms() - frame_end_ms
        if self._offset_ms is None or offset < self._offset_ms:
            self._offset_ms = offset

    def wall_ms(self) -> float:
        """Monotonic milliseconds since the call started."""
        return (time.monotonic() - self._started) * 1000.0

    def now_ms(self) -> float:
        """The current time on the audio timeline."""
        if self._offset_ms is None:
            return self.wall_ms()
        return self.wall_ms() - self._offset_ms
