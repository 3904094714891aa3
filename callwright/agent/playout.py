"""Paced playback of the agent's audio, and knowing what the caller actually heard.

Audio leaves in fixed frames at real-time pace with a small lead (frames the client holds in
its jitter buffer). Sending faster would let the client buffer seconds of speech that a
barge-in could not take back; sending at exactly real time would glitch on any jitter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

SendAudio = Callable[[np.ndarray], Awaitable[None]]


@dataclass(slots=True)
class _Piece:
    text: str
    start: int  # sample offset in the reply
    length: int
    announced: bool = False


@dataclass(slots=True)
class PlayoutStop:
    """What the caller had heard of a reply when it was stopped."""

    heard_ms: float
    pieces: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PlayoutHooks:
    """Callbacks from the playout loop (all optional)."""

    on_first_frame: Callable[[int], None] | None = None
    on_piece_start: Callable[[int, str], None] | None = None


class Playout:
    """Sends one reply at a time to the caller at real-time pace.

    Args:
        send: coroutine that puts one frame of int16 samples on the wire.
        sample_rate: output rate.
        frame_ms: frame duration on the wire.
        lead_ms: how far ahead of real time the sender may run.
        hooks: callbacks for the first frame of a reply and the start of each piece.
    """

    def __init__(
        self,
        send: SendAudio,
        sample_rate: int,
        frame_ms: int = 20,
        lead_ms: float = 60.0,
        hooks: PlayoutHooks | None = None,
    ) -> None:
        self._send = send
        self.sample_rate = sample_rate
        self._frame = sample_rate * frame_ms // 1000
        self._frame_s = frame_ms / 1000.0
        self._lead_s = lead_ms / 1000.0
        self._hooks = hooks or PlayoutHooks()
        self._buffer = np.zeros(0, dtype=np.int16)
        self._pieces: list[_Piece] = []
        self._reply_id = -1
        self._reply_samples = 0  # enqueued for the current reply
        self._sent = 0  # samples of the current reply on the wire
        self._closed = True
        self._play_end = 0.0  # monotonic time the client finishes playing what was sent
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()

    @property
    def active(self) -> bool:
        """True while a reply is open or its audio is still playing at the caller."""
        return not self._closed or self._buffer.size > 0 or time.monotonic() < self._play_end

    def begin_reply(self, reply_id: int) -> None:
        """Starts a new reply; any audio left from the previous one is dropped."""
        self._buffer = np.zeros(0, dtype=np.int16)
        self._pieces = []
        self._reply_id = reply_id
        self._reply_samples = 0
        self._sent = 0
        self._closed = False
        self._drained.clear()

    def enqueue(self, samples: np.ndarray, text: str) -> None:
        """Queues audio (at the output rate) belonging to one piece of reply text."""
        if samples.size == 0:
            return
        piece = self._pieces[-1] if self._pieces and self._pieces[-1].text == text else None
        if piece is not None and piece.start + piece.length == self._reply_samples:
            piece.length += int(samples.size)  # another chunk of the same piece
        else:
            self._pieces.append(_Piece(text, self._reply_samples, int(samples.size)))
        self._reply_samples += int(samples.size)
        self._buffer = np.concatenate([self._buffer, samples.astype(np.int16, copy=False)])
        self._wake.set()

    def close_reply(self) -> None:
        """No more audio will come for the current reply."""
        self._closed = True
        self._wake.set()

    async def wait_drained(self) -> None:
        """Waits until the closed reply has been sent and played at the caller."""
        await self._drained.wait()
        remaining = self._play_end - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)

    def stop(self) -> PlayoutStop:
        """Stops the current reply at once and reports how much of it was heard."""
        unplayed_s = max(0.0, self._play_end - time.monotonic())
        heard_samples = max(0.0, self._sent - unplayed_s * self.sample_rate)
        result = PlayoutStop(
            heard_ms=1000.0 * heard_samples / self.sample_rate,
            pieces=[(p.text, 1000.0 * p.length / self.sample_rate) for p in self._pieces],
        )
        self._buffer = np.zeros(0, dtype=np.int16)
        self._pieces = []
        self._closed = True
        self._play_end = time.monotonic()  # the client is told to drop its buffer
        self._drained.set()
        return result

    async def run(self) -> None:
        """The playout loop; runs for the whole call."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._buffer.size >= self._frame or (self._closed and self._buffer.size):
                await self._pace()
                if self._buffer.size == 0:
                    break  # stopped while we waited
                frame = self._buffer[: self._frame]
                self._buffer = self._buffer[self._frame :]
                if frame.size < self._frame:
                    frame = np.concatenate([frame, np.zeros(self._frame - frame.size, np.int16)])
                self._announce(self._sent)
                await self._send(frame)
                now = time.monotonic()
                self._play_end = max(self._play_end, now) + self._frame_s
                self._sent += self._frame
            if self._closed and self._buffer.size == 0:
                self._drained.set()

    async def _pace(self) -> None:
        ahead = self._play_end - time.monotonic() - self._lead_s
        if ahead > 0:
            await asyncio.sleep(ahead)

    def _announce(self, offset: int) -> None:
        if offset == 0 and self._hooks.on_first_frame:
            self._hooks.on_first_frame(self._reply_id)
        for piece in self._pieces:
            if not piece.announced and piece.start < offset + self._frame:
                piece.announced = True
                if self._hooks.on_piece_start:
                    self._hooks.on_piece_start(self._reply_id, piece.text)
