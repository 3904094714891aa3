"""Paced playback of the agent's audio, and knowing what the caller actually heard.

Audio leaves in fixed frames at real-time pace with a small lead (frames the client holds in
its jitter buffer). Sending faster would let the client buffer seconds of speech that a
barge-in could not take back; sending at exactly real time would glitch on any jitter.

The whole reply's audio is kept with a cursor, so a pause can rewind to what was actually
heard and resume from there. While the caller's overlapping speech is being judged ("uh-huh",
or a real interruption?) the reply is ducked instead: it goes on at a low volume, so a
backchannel causes no gap, and comes back to full volume at once.
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


# The largest sample value still counted as silence (about -54 dBFS; Piper's leading silence
# and resampling residue stay under it, speech starts well above it).
AUDIBLE_FLOOR = 64


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

    # The first frame holding an audible sample: the reply's id, and that sample's offset
    # into the frame in ms (leading silence is not the agent answering).
    on_first_frame: Callable[[int, float], None] | None = None
    on_piece_start: Callable[[int, str], None] | None = None
    # Each frame sent, and the time (monotonic) the client starts playing it: after the last
    # frame it holds, or at once if it has run dry.
    on_frame_sent: Callable[[np.ndarray, float], None] | None = None


class Playout:
    """Sends one reply at a time to the caller at real-time pace.

    Args:
        send: coroutine that puts one frame of int16 samples on the wire.
        sample_rate: output rate.
        frame_ms: frame duration on the wire.
        lead_ms: how far ahead of real time the sender may run.
        hooks: callbacks for the first frame of a reply, each piece's start, each frame sent.
        confirmed_played: the transport's count of samples (of everything `send` was given)
            the peer confirmed it played, e.g. by telephony marks; when given, it says what the
            caller heard instead of the pacing estimate.
    """

    def __init__(
        self,
        send: SendAudio,
        sample_rate: int,
        frame_ms: int = 20,
        lead_ms: float = 60.0,
        hooks: PlayoutHooks | None = None,
        confirmed_played: Callable[[], int | None] | None = None,
    ) -> None:
        self._send = send
        self._confirmed_played = confirmed_played
        self._sent_total = 0  # samples given to `send` over the whole call
        # Where runs of the current reply start: (sent total, reply offset); a pause rewinds.
        self._runs: list[tuple[int, int]] = []
        self.sample_rate = sample_rate
        self._frame = sample_rate * frame_ms // 1000
        self._frame_s = frame_ms / 1000.0
        self._lead_s = lead_ms / 1000.0
        self._hooks = hooks or PlayoutHooks()
        self._audio = np.zeros(0, dtype=np.int16)  # the current reply, all of it
        # `_audio` is the written part of this buffer, which doubles when full: copying the
        # whole reply for each chunk of a long one was quadratic, on the event loop.
        self._buffer = self._audio
        self._cursor = 0  # next sample of the reply to send
        self._pieces: list[_Piece] = []
        self._reply_id = -1
        self._first_sent = False
        self._closed = True
        self._paused = False
        self._gain = 1.0  # volume of frames from now on (ducking)
        self._frame_gain = 1.0  # volume the last frame ended at (ramps avoid clicks)
        self._play_end = 0.0  # monotonic time the client finishes playing what was sent
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()

    @property
    def active(self) -> bool:
        """True while a reply is open or its audio is still playing at the caller."""
        return not self._closed or self._pending() > 0 or time.monotonic() < self._play_end

    @property
    def paused(self) -> bool:
        return self._paused

    def _pending(self) -> int:
        return int(self._audio.size) - self._cursor

    def begin_reply(self, reply_id: int) -> None:
        """Starts a new reply; any audio left from the previous one is dropped."""
        self._audio = self._buffer = np.zeros(0, dtype=np.int16)
        self._cursor = 0
        self._pieces = []
        self._runs = []
        self._reply_id = reply_id
        self._first_sent = False
        self._closed = False
        self._paused = False
        self._gain = 1.0
        self._drained.clear()

    def enqueue(self, samples: np.ndarray, text: str) -> None:
        """Queues audio (at the output rate) belonging to one piece of reply text."""
        if samples.size == 0:
            return
        offset = int(self._audio.size)
        piece = self._pieces[-1] if self._pieces and self._pieces[-1].text == text else None
        if piece is not None and piece.start + piece.length == offset:
            piece.length += int(samples.size)  # another chunk of the same piece
        else:
            self._pieces.append(_Piece(text, offset, int(samples.size)))
        size = offset + int(samples.size)
        if size > self._buffer.size:
            grown = np.empty(max(size, 2 * self._buffer.size, self.sample_rate), dtype=np.int16)
            grown[:offset] = self._audio
            self._buffer = grown
        self._buffer[offset:size] = samples
        self._audio = self._buffer[:size]
        self._wake.set()

    def close_reply(self) -> None:
        """No more audio will come for the current reply."""
        self._closed = True
        self._wake.set()

    async def wait_drained(self) -> None:
        """Waits until the closed reply has been sent and played at the caller."""
        while True:
            await self._drained.wait()
            remaining = self._play_end - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(remaining)

    def _heard_samples(self) -> int:
        confirmed = self._confirmed_played() if self._confirmed_played else None
        if confirmed is not None:
            return self._reply_offset(confirmed)
        unplayed = max(0.0, self._play_end - time.monotonic()) * self.sample_rate
        return max(0, int(self._cursor - unplayed))

    def _reply_offset(self, sent_total: int) -> int:
        """The current reply's sample the peer had reached when it had played `sent_total`."""
        heard = 0
        for run_total, run_offset in self._runs:
            if run_total > sent_total:
                break
            heard = run_offset + (sent_total - run_total)
        return max(0, min(heard, self._cursor))

    def pause(self) -> float:
        """Stops sending at once, rewinding to what the caller heard; returns heard ms.

        The caller's buffered lead must be dropped too (the transport's `clear_audio`).
        """
        heard = self._heard_samples()
        if not self._paused:
            self._paused = True
            self._cursor = heard
            self._play_end = time.monotonic()
            self._drained.clear()
        return 1000.0 * heard / self.sample_rate

    @property
    def gain(self) -> float:
        """Volume applied to the frames being sent (1.0: full; lower while ducked)."""
        return self._gain

    def duck(self, gain: float) -> None:
        """Plays on at `gain` (0-1) from the next frame; `duck(1.0)` restores full volume.

        While paused (rewound to what was heard), the first frame after `resume` starts at
        `gain`; otherwise one frame ramps to it.
        """
        self._gain = min(1.0, max(0.0, gain))
        if self._paused:
            self._frame_gain = self._gain

    def resume(self) -> None:
        """Continues a paused reply from where the caller stopped hearing it."""
        if self._paused:
            self._paused = False
            self._wake.set()

    def stop(self) -> PlayoutStop:
        """Stops the current reply for good and reports how much of it was heard."""
        heard = self._heard_samples()
        result = PlayoutStop(
            heard_ms=1000.0 * heard / self.sample_rate,
            pieces=[(p.text, 1000.0 * p.length / self.sample_rate) for p in self._pieces],
        )
        self._audio = self._buffer = np.zeros(0, dtype=np.int16)
        self._cursor = 0
        self._pieces = []
        self._closed = True
        self._paused = False
        self._gain = 1.0
        self._play_end = time.monotonic()  # the client is told to drop its buffer
        self._drained.set()
        return result

    async def run(self) -> None:
        """The playout loop; runs for the whole call."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while not self._paused and (
                self._pending() >= self._frame or (self._closed and self._pending() > 0)
            ):
                await self._pace()
                if self._paused or self._pending() == 0:
                    break  # paused or stopped while we waited
                await self._send_next()
            if self._closed and self._pending() == 0 and not self._paused:
                self._drained.set()

    async def refill_lead(self) -> None:
        """Sends at once, while paused, the frames the lead allows; then `resume`.

        After the caller's buffer was cleared (to resend its lead ducked), waiting for the
        playout loop's next turn on a busy event loop would leave the caller in silence.
        """
        while self._paused and self._pending() > 0:
            if self._play_end - time.monotonic() >= self._lead_s:
                return
            await self._send_next()

    async def _send_next(self) -> None:
        """Sends the frame at the cursor (padded with silence at the end of a reply)."""
        start = self._cursor
        frame = self._audio[start : start + self._frame]
        if frame.size < self._frame:
            frame = np.concatenate([frame, np.zeros(self._frame - frame.size, np.int16)])
        frame = self._apply_gain(frame)
        self._cursor = min(start + self._frame, int(self._audio.size))
        self._announce(start)
        if not self._runs or self._runs[-1][1] + self._sent_total - self._runs[-1][0] != start:
            self._runs.append((self._sent_total, start))
        await self._send(frame)
        if not self._first_sent:
            self._first_audible(frame)
        self._sent_total += int(frame.size)
        plays_at = max(self._play_end, time.monotonic())
        if self._hooks.on_frame_sent:
            self._hooks.on_frame_sent(frame, plays_at)
        self._play_end = plays_at + self._frame_s

    def _apply_gain(self, frame: np.ndarray) -> np.ndarray:
        start, end = self._frame_gain, self._gain
        self._frame_gain = end
        if start == 1.0 and end == 1.0:
            return frame
        ramp = np.linspace(start, end, frame.size, dtype=np.float32)  # one frame, no click
        return (frame.astype(np.float32) * ramp).astype(np.int16)

    async def _pace(self) -> None:
        ahead = self._play_end - time.monotonic() - self._lead_s
        if ahead > 0:
            await asyncio.sleep(ahead)

    def _first_audible(self, frame: np.ndarray) -> None:
        audible = np.flatnonzero(np.abs(frame.astype(np.int32)) > AUDIBLE_FLOOR)
        if audible.size:
            self._first_sent = True
            if self._hooks.on_first_frame:
                offset_ms = 1000.0 * float(audible[0]) / self.sample_rate
                self._hooks.on_first_frame(self._reply_id, offset_ms)

    def _announce(self, offset: int) -> None:
        for piece in self._pieces:
            if not piece.announced and piece.start < offset + self._frame:
                piece.announced = True
                if self._hooks.on_piece_start:
                    self._hooks.on_piece_start(self._reply_id, piece.text)
