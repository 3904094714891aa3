"""Interface between a call session and whatever carries its audio."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from callwright.audio.frame import AudioFrame

DTMF_DIGITS = frozenset("0123456789*#ABCD")  # the keys of a phone's keypad and RFC 4733's A-D


@dataclass(frozen=True, slots=True)
class AudioIn:
    """A frame of caller audio (timestamp on the caller's audio timeline)."""

    frame: AudioFrame


@dataclass(frozen=True, slots=True)
class DtmfIn:
    """The caller pressed a key."""

    digit: str
    at_ms: float


@dataclass(frozen=True, slots=True)
class HangupIn:
    """The far end ended the call; `reason` becomes the call's outcome and `detail` its
    recorded end reason."""

    reason: str
    detail: str = "ended by the caller"


InboundEvent = AudioIn | DtmfIn | HangupIn


class CallTransport(Protocol):
    """One call's connection. Sends never block on a slow peer; they queue or drop the peer."""

    channel: str
    input_sample_rate: int
    output_sample_rate: int

    def inbound(self) -> AsyncIterator[InboundEvent]:
        """Yields what the caller sends until the call ends."""
        ...

    async def send_audio(self, samples: np.ndarray) -> None:
        """Sends one frame of agent audio (int16 at `output_sample_rate`)."""
        ...

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Sends a control event (transcripts, interruptions, timelines) if the peer wants it."""
        ...

    async def clear_audio(self) -> None:
        """Tells the peer to drop agent audio it has buffered but not played (barge-in)."""
        ...

    async def close(self, reason: str) -> None:
        """Ends the call from our side. Idempotent."""
        ...


@runtime_checkable
class ConfirmsPlayback(Protocol):
    """Optional capability: the peer reports which agent audio it has actually played.

    Telephony media streams echo marks once the audio queued before them has played; a
    transport that can tell implements this, and barge-in truncation trusts it over the
    pacing estimate.
    """

    def confirmed_played_samples(self) -> int | None:
        """Agent samples (counted over every `send_audio` of the call) confirmed played."""
        ...


class TransfersCalls(Protocol):
    """Optional capability: hand the call over to another number (a human)."""

    async def transfer(self, to: str | None, reason: str) -> bool:
        """Transfers the call (`to` None: the configured default); False if it cannot."""
        ...


def playback_confirmer(transport: object) -> Callable[[], int | None] | None:
    """The transport's `confirmed_played_samples`, or None when it cannot tell."""
    return transport.confirmed_played_samples if isinstance(transport, ConfirmsPlayback) else None
