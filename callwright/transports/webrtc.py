"""One call over WebRTC (aiortc): Opus or PCMU audio both ways, DTMF and events on a data channel.

Caller audio arrives decoded by aiortc (Opus: 48 kHz stereo; PCMU: 8 kHz mono), is mixed to
mono and resampled (soxr, `StreamResampler`) to the pipeline's rate: 16 kHz for Opus, 8 kHz for
PCMU. Its timeline comes from the RTP timestamps (frame `pts`), clamped to the wall clock, so
lost packets leave gaps where they were instead of shifting later speech.

Agent audio goes out through `AgentAudioTrack`, which aiortc's sender pulls one 20 ms frame at
a time on its own real-time clock: the session's playout keeps it ~60 ms ahead, a barge-in
drops what is queued, and every sample the track hands to the encoder counts as played (it
leaves at real time from here, so what the caller heard is what the track released).

The data channel carries the native protocol's JSON control messages (docs/webrtc.md): the
caller sends `{"type": "dtmf", "digit": "5"}` and `{"type": "end"}`, read within a pace by
`ControlMessages` (webrtc_control.py); the server sends the same events a WebSocket caller
gets (`started`, transcripts, timelines, `clear`, `end`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from callwright.audio.frame import AudioFrame
from callwright.audio.resample import StreamResampler
from callwright.transports.base import AudioIn, HangupIn, InboundEvent
from callwright.transports.inbound_queue import BoundedInbound
from callwright.transports.jitter import WallClockClamp
from callwright.transports.webrtc_control import ControlMessages

log = logging.getLogger(__name__)

FRAME_MS = 20
OPUS_RATE = 48000
PCMU_RATE = 8000
MAX_QUEUED_S = 10.0  # agent audio queued in the track at most (playout keeps ~60 ms)


class AgentAudioTrack(MediaStreamTrack):
    """The agent's voice as a WebRTC track: 20 ms frames at `rate`, silence when idle.

    `push` queues samples (already at `rate`) tagged with the session's running sample count
    at their end; `recv` releases one frame per 20 ms of wall time and records how far the
    session's count has played.
    """

    kind = "audio"

    def __init__(self, rate: int) -> None:
        super().__init__()
        self.rate = rate
        self._frame = rate * FRAME_MS // 1000
        self._chunks: deque[tuple[np.ndarray, int, int]] = deque()  # (samples, start, end)
        self._queued = 0
        self._played_to = 0  # the session's sample count played so far
        self._start: float | None = None
        self._pts = 0

    @property
    def played_samples(self) -> int:
        return self._played_to

    def push(self, samples: np.ndarray, start: int, end: int) -> None:
        """Queues `samples`, which cover the session's samples [start, end)."""
        if samples.size == 0:
            return
        if self._queued > MAX_QUEUED_S * self.rate:
            return  # the session never runs this far ahead; refuse to grow without bound
        self._chunks.append((samples, start, end))
        self._queued += samples.size

    def clear(self) -> None:
        """Drops everything not yet played (barge-in)."""
        self._chunks.clear()
        self._queued = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += self._frame
            await asyncio.sleep(max(0.0, self._start + self._pts / self.rate - time.monotonic()))
        out = np.zeros(self._frame, dtype=np.int16)
        filled = 0
        while filled < self._frame and self._chunks:
            samples, start, end = self._chunks[0]
            take = min(self._frame - filled, samples.size)
            out[filled : filled + take] = samples[:take]
            filled += take
            self._queued -= take
            if take == samples.size:
                self._chunks.popleft()
                self._played_to = end
            else:
                share = round((end - start) * take / samples.size)
                self._chunks[0] = (samples[take:], start + share, end)
                self._played_to = start + share
        frame = av.AudioFrame.from_ndarray(out.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.rate)
        return frame


class WebRtcTransport:
    """One call's peer connection, seen by the session as a `CallTransport`.

    Args:
        pc: the peer connection (its offer answered; closed by `close`).
        codec: the negotiated audio codec, "opus" or "pcmu".
    """

    channel = "webrtc"

    def __init__(self, pc: RTCPeerConnection, codec: str) -> None:
        self.pc = pc
        self.codec = codec
        opus = codec == "opus"
        self.input_sample_rate = 16000 if opus else PCMU_RATE
        self.output_sample_rate = 24000 if opus else PCMU_RATE
        self.track = AgentAudioTrack(OPUS_RATE if opus else PCMU_RATE)
        self._out = StreamResampler(self.output_sample_rate, self.track.rate)
        self._in: StreamResampler | None = None
        self._events: asyncio.Queue[InboundEvent | None] = asyncio.Queue()
        # A peer sending faster than real time, or flooding keys, cannot grow it without bound.
        self._inbound = BoundedInbound(self._events)
        self._channel: RTCDataChannel | None = None
        self._control = ControlMessages(self._send_text)
        self._pending_events: list[str] = []
        self._sent_samples = 0
        self._clamp = WallClockClamp()
        self._first_pts: int | None = None
        self._heard_until_ms = 0.0
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._settled = asyncio.Event()  # connected, failed or closed
        pc.on("track", self._on_track)
        pc.on("datachannel", self._on_datachannel)
        pc.on("connectionstatechange", self._on_state)

    # --- inbound -------------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self._reader is None:
            self._reader = asyncio.create_task(self._read(track), name="webrtc-audio-in")

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                audio = self._to_pipeline(frame)
                if audio is not None:
                    self._inbound.put(AudioIn(audio))
        except MediaStreamError:
            self._events.put_nowait(HangupIn("connection_lost"))

    def _to_pipeline(self, frame: Any) -> AudioFrame | None:
        channels = len(frame.layout.channels)
        samples = frame.to_ndarray().reshape(-1)
        if channels > 1:  # packed s16: interleaved channels
            samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
        else:
            samples = samples.astype(np.int16, copy=False)
        rate = int(frame.sample_rate)
        if self._in is None or self._in.from_rate != rate:
            self._in = StreamResampler(rate, self.input_sample_rate)
        pts = int(frame.pts or 0)
        if self._first_pts is None:
            self._first_pts = pts
        # The RTP clock says where this audio belongs; the resampler's lag is under 30 ms.
        stamp = self._clamp(1000.0 * (pts - self._first_pts) / rate)
        converted = self._in.process(samples)
        if converted.size == 0:
            return None
        out = AudioFrame(converted, self.input_sample_rate, max(self._heard_until_ms, stamp))
        self._heard_until_ms = out.end_ms
        return out

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if self._channel is not None:
            return  # one control channel per call
        self._channel = channel
        channel.on("message", self._on_message)
        channel.on("open", self._flush_events)
        if channel.readyState == "open":
            self._flush_events()

    def _on_message(self, message: str | bytes) -> None:
        event = self._control.read(message, self._heard_until_ms)
        if isinstance(event, HangupIn):
            self._events.put_nowait(event)
        elif event is not None:
            self._inbound.put(event)  # a key, within the keys' pace

    async def _on_state(self) -> None:
        state = self.pc.connectionState
        if state in ("connected", "failed", "closed"):
            self._settled.set()
        if state in ("failed", "closed"):
            self._events.put_nowait(HangupIn("connection_lost"))

    async def wait_connected(self, timeout_s: float) -> bool:
        """Waits for ICE and DTLS to connect; False if they failed or took too long."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), timeout_s)
        return self.pc.connectionState == "connected"

    async def inbound(self) -> AsyncIterator[InboundEvent]:
        """Yields caller audio, keys and the hang-up until the call ends."""
        while (event := await self._events.get()) is not None:
            yield event
            if isinstance(event, HangupIn):
                return

    # --- outbound ------------------------------------------------------------------------

    async def send_audio(self, samples: np.ndarray) -> None:
        start = self._sent_samples
        self._sent_samples += int(samples.size)
        converted = self._out.process(samples.astype(np.int16, copy=False))
        self.track.push(converted, start, self._sent_samples)

    def confirmed_played_samples(self) -> int | None:
        """Agent samples (of every `send_audio`) the track has released at real time."""
        return self.track.played_samples

    async def send_event(self, event: Mapping[str, Any]) -> None:
        self._send_text(json.dumps(event, separators=(",", ":")))

    def _send_text(self, text: str) -> None:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            if not self._closed and len(self._pending_events) < 100:
                self._pending_events.append(text)  # e.g. `started`, before the channel opens
            return
        with contextlib.suppress(Exception):  # the channel closed under us; the call ends
            channel.send(text)

    def _flush_events(self) -> None:
        pending, self._pending_events = self._pending_events, []
        for text in pending:
            self._send_text(text)

    async def clear_audio(self) -> None:
        self.track.clear()
        await self.send_event({"type": "clear"})

    async def close(self, reason: str) -> None:
        """Says `end` on the data channel, then closes the peer connection. Idempotent."""
        if self._closed:
            return
        await self.send_event({"type": "end", "reason": reason})
        self._closed = True
        if self._channel is not None and self._channel.readyState == "open":
            # Give SCTP a moment to carry `end` before the transport goes away.
            await asyncio.sleep(0.05)
        await self.shutdown()

    async def shutdown(self) -> None:
        """Closes the peer connection and stops the reader task (no call, or after one)."""
        self._closed = True
        self.track.stop()
        with contextlib.suppress(Exception):
            await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        self._events.put_nowait(None)
