"""Removing the agent's own voice from the caller's audio (speakerphones, hands-free kits).

We know exactly what the agent sent, so the echo in the caller's channel is that reference,
delayed by the network and the device and shaped by the room. A canceller is fed the reference
on the session's 16 kHz timeline (`add_reference`, as each agent frame goes out) and cleans the
caller's audio on the same timeline (`process`) before VAD and STT see it. Without it, the
agent's voice coming back from a speakerphone reads as the caller barging in.

Providers beside this module:
- `echo_webrtc.WebRtcEchoCanceller` (default): WebRTC's AEC3, the canceller browsers and
  LiveKit use, through LiveKit's audio-processing binding. It estimates the delay itself and
  keeps the caller's voice during double talk.
- `echo_correlation.CorrelationEchoCanceller`: a small numpy canceller (cross-correlation for
  delay and gain, subtraction or gating). No native code; weaker on rooms and level changes.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

EchoKind = Literal["webrtc", "correlation", "off"]
ECHO_KINDS: tuple[EchoKind, ...] = ("webrtc", "correlation", "off")


class EchoCanceller(Protocol):
    """One call's echo canceller on the session's timeline (milliseconds since the call began)."""

    @property
    def active(self) -> bool:
        """True once there is agent audio that could echo (cleaning costs nothing before)."""
        ...

    def add_reference(self, samples: np.ndarray, at_ms: float) -> None:
        """Records agent audio (int16 at the pipeline rate) sent at `at_ms`."""
        ...

    def process(self, samples: np.ndarray, start_ms: float) -> np.ndarray:
        """The caller's int16 chunk starting at `start_ms`, echo removed, same length."""
        ...


class NoEchoCanceller:
    """For channels whose far end already cancels echo and for measuring without one."""

    active = False

    def add_reference(self, samples: np.ndarray, at_ms: float) -> None:
        """Ignores the agent's audio."""

    def process(self, samples: np.ndarray, start_ms: float) -> np.ndarray:
        """Returns the caller's audio unchanged."""
        return samples


class ReferenceLine:
    """The agent's audio on the session timeline: a ring of the last few seconds.

    Silence where nothing was sent, so a reader can ask for any span and get what the caller's
    device played (or would have) at that time.
    """

    def __init__(self, sample_rate: int, seconds: float) -> None:
        self.sample_rate = sample_rate
        self._ring = np.zeros(int(seconds * sample_rate), dtype=np.float32)
        self.end = 0  # timeline sample one past the newest reference sample
        self.last_audible = -(1 << 62)  # timeline sample of the newest non-silent reference

    def add(self, samples: np.ndarray, at_ms: float) -> None:
        """Writes agent samples sent at `at_ms`; a gap since the last write stays silent."""
        start = max(int(at_ms * self.sample_rate / 1000), self.end)
        if start - self.end >= self._ring.size:
            self._ring[:] = 0.0
        elif start > self.end:
            self._write(self.end, None, start - self.end)
        n = int(samples.size)
        n_kept = min(n, self._ring.size)  # of a chunk longer than the ring, its end
        self._write(start + n - n_kept, samples[n - n_kept :], n_kept)
        self.end = start + n
        if n and np.any(samples):
            self.last_audible = self.end

    def _write(self, at: int, samples: np.ndarray | None, n: int) -> None:
        """Writes `n` samples (None: silence) at timeline sample `at`, in at most two slices
        of the ring (no index arrays: this runs for every frame of every call)."""
        size = self._ring.size
        i = at % size
        first = min(n, size - i)
        if samples is None:
            self._ring[i : i + first] = 0.0
            self._ring[: n - first] = 0.0
        else:
            self._ring[i : i + first] = samples[:first]
            self._ring[: n - first] = samples[first:n]

    def span(self, lo: int, hi: int) -> np.ndarray:
        """Reference samples for timeline [lo, hi); zeros where nothing was sent."""
        out = np.zeros(hi - lo, dtype=np.float32)
        a, b = max(lo, self.end - self._ring.size, 0), min(hi, self.end)
        if b > a:
            size = self._ring.size
            i = a % size
            first = min(b - a, size - i)
            out[a - lo : a - lo + first] = self._ring[i : i + first]
            out[a - lo + first : b - lo] = self._ring[: b - a - first]
        return out


def open_echo_canceller(kind: EchoKind, sample_rate: int) -> EchoCanceller:
    """A new per-call canceller of the configured kind."""
    if kind == "off":
        return NoEchoCanceller()
    if kind == "correlation":
        from callwright.agent.echo_correlation import CorrelationEchoCanceller

        return CorrelationEchoCanceller(sample_rate)
    from callwright.agent.echo_webrtc import WebRtcEchoCanceller

    return WebRtcEchoCanceller(sample_rate)
