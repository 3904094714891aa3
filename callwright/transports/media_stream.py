"""Telephony media streams over WebSocket (Twilio, Telnyx): one call's transport.

The platforms speak near-identical JSON protocols: `connected`, `start`, then `media`
(base64 G.711 µ-law at 8 kHz, numbered chunks), `dtmf`, `mark` (echoed once the audio queued
before it has played), `stop`. We send `media`, `mark` and `clear`. A `MediaStreamDialect`
holds what differs (field names, the start message); everything else lives here.

Marks are how we know what the caller heard: every `mark_every` frames of agent audio we send
a mark carrying the running sample count, and its echo confirms that much has played. After a
`clear`, platforms echo the marks of the audio they discarded, so marks sent before a clear
confirm nothing.

Anything that breaks the protocol ends this call only, with a log line naming the problem;
the session still writes the call's record.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from callwright.audio.frame import AudioFrame
from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.transports.base import AudioIn, DtmfIn, HangupIn, InboundEvent
from callwright.transports.jitter import JitterBuffer, WallClockClamp
from callwright.transports.socket_writer import QueuedSocketWriter, close_websocket

log = logging.getLogger(__name__)

DTMF_DIGITS = frozenset("0123456789*#ABCD")
PHONE_RATE = 8000


class StreamProtocolError(Exception):
    """The platform (or whoever pretends to be it) broke the stream protocol."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class StreamStart:
    """A validated `start` message.

    Attributes:
        stream_id: the platform's stream id (Twilio streamSid, Telnyx stream_id).
        call_ref: the platform's call id (Twilio CallSid, Telnyx call_control_id).
        account_id: the platform account, if given.
        parameters: custom parameters of the stream (Twilio `<Parameter>`s).
        sample_rate: rate of the audio both ways.
    """

    stream_id: str
    call_ref: str
    account_id: str | None
    parameters: dict[str, str]
    sample_rate: int = PHONE_RATE


@dataclass(frozen=True, slots=True)
class MediaStreamDialect:
    """What differs between the platforms' media stream protocols.

    Attributes:
        channel: the call record's channel name.
        stream_key: the field naming the stream in every message.
        parse_start: validates a `start` message (raises `StreamProtocolError`).
        timestamps_ms: `media.timestamp` is milliseconds since the stream started; when False
            the timeline is rebuilt from chunk numbers.
        stream_id_outbound: whether our messages must name the stream.
    """

    channel: str
    stream_key: str
    parse_start: Callable[[Mapping[str, Any]], StreamStart]
    timestamps_ms: bool = True
    stream_id_outbound: bool = True


@dataclass(frozen=True, slots=True)
class MediaStreamOptions:
    """Limits and pacing of one media stream.

    Attributes:
        max_payload_ms: a single inbound `media` may carry at most this much audio.
        jitter_depth: frames held while waiting for a missing one (20 ms each).
        mark_every: frames of agent audio between two marks.
        outbound_limit: queued messages before the peer counts as stalled.
    """

    max_payload_ms: int = 1000
    jitter_depth: int = 3
    mark_every: int = 3
    outbound_limit: int = 1500


class StreamCallControl(Protocol):
    """Call control of the call behind a stream (REST or TwiML), bound to that call."""

    async def hangup(self) -> bool:
        """Ends the live call; False if it could not."""
        ...

    async def transfer(self, to: str | None) -> bool:
        """Connects the caller to `to` (None: the configured number); False if it could not."""
        ...


async def accept_stream(
    ws: web.WebSocketResponse, dialect: MediaStreamDialect, timeout_s: float = 10.0
) -> StreamStart:
    """Reads `connected` (optional) and `start`, the first messages of a stream.

    Raises:
        StreamProtocolError: anything else came first, or nothing in time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise StreamProtocolError("start_timeout", "no start message in time")
        try:
            msg = await ws.receive(timeout=remaining)
        except TimeoutError as exc:
            raise StreamProtocolError("start_timeout", "no start message in time") from exc
        if msg.type != WSMsgType.TEXT:
            raise StreamProtocolError("start_required", "the stream closed before its start")
        event = _parse_json(msg.data)
        kind = event.get("event")
        if kind == "connected":
            continue
        if kind != "start":
            raise StreamProtocolError("start_required", f"got {kind!r} before the start message")
        return dialect.parse_start(event)


def _parse_json(raw: str) -> dict[str, Any]:
    try:
        msg = json.loads(raw)
    except ValueError as exc:
        raise StreamProtocolError("bad_json", f"message is not JSON (truncated?): {exc}") from exc
    if not isinstance(msg, dict):
        raise StreamProtocolError("bad_json", "message is not a JSON object")
    return msg


@dataclass(slots=True)
class _Marks:
    """Marks in flight and what their echoes confirmed."""

    next_index: int = 0
    positions: dict[int, int] = field(default_factory=dict)  # mark index → samples sent
    discard_through: int = -1  # marks up to this index were sent before a clear
    confirmed: int = 0


class MediaStreamTransport:
    """One call over a telephony media stream.

    Outbound messages go through the shared `QueuedSocketWriter`, so the session never waits
    on a slow peer and messages keep their order.

    Args:
        ws: the accepted WebSocket.
        dialect: the platform's protocol.
        start: the validated start message.
        options: limits and pacing.
        control: the call's call control, if any (hang-up and transfer).
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        dialect: MediaStreamDialect,
        start: StreamStart,
        options: MediaStreamOptions | None = None,
        control: StreamCallControl | None = None,
    ) -> None:
        self._ws = ws
        self._dialect = dialect
        self.start = start
        self._options = options or MediaStreamOptions()
        self._control = control
        self.channel = dialect.channel
        self.input_sample_rate = start.sample_rate
        self.output_sample_rate = start.sample_rate
        self._max_payload = start.sample_rate * self._options.max_payload_ms // 1000
        self._jitter: JitterBuffer[tuple[float | None, bytes]] = JitterBuffer(
            self._options.jitter_depth
        )
        self._first_chunk: int | None = None
        self._clamp = WallClockClamp()  # timestamps may not run ahead of the wall clock
        self._heard_until_ms = 0.0  # end of the latest caller audio released
        self._marks = _Marks()
        self._sent_samples = 0
        self._frames_since_mark = 0
        self._writer = QueuedSocketWriter(
            ws, self._options.outbound_limit, f"{dialect.channel}-writer"
        )
        # The message sent 50 times a second per call, formatted once up to its payload: the
        # text json.dumps makes of it (base64 needs no escaping), without a dict per frame.
        named = (
            f",{json.dumps(dialect.stream_key)}:{json.dumps(start.stream_id)}"
            if dialect.stream_id_outbound
            else ""
        )
        self._media_head = '{"event":"media"' + named + ',"media":{"payload":"'
        self._closed = False
        self._stalled: asyncio.Task[None] | None = None  # closing a peer that stopped reading
        self._remote_ended = False
        self._handed_over = False

    @property
    def call_ref(self) -> str:
        return self.start.call_ref

    # --- inbound -------------------------------------------------------------------------

    async def inbound(self) -> AsyncIterator[InboundEvent]:
        """Yields caller audio, keys and the hang-up until the stream ends."""
        name = f"{self.channel} call {self.call_ref}"
        try:
            async for msg in self._ws:
                if msg.type == WSMsgType.TEXT:
                    for event in self._handle(_parse_json(msg.data)):
                        yield event
                    if self._remote_ended:
                        yield HangupIn("caller_hung_up")
                        return
                elif msg.type == WSMsgType.BINARY:
                    raise StreamProtocolError("binary_frame", "binary frames are not part of it")
                else:
                    break
        except StreamProtocolError as exc:
            log.warning("%s: protocol error %s: %s; ending this call", name, exc.code, exc)
            self._closed = True
            await self._shutdown(WSCloseCode.POLICY_VIOLATION)
            yield HangupIn("protocol_error")
            return
        if not self._closed:
            log.warning("%s: the socket dropped without a stop message", name)
            self._remote_ended = True
            yield HangupIn("connection_lost")

    def _handle(self, msg: dict[str, Any]) -> list[InboundEvent]:
        kind = msg.get("event")
        if kind in ("media", "dtmf", "mark", "stop"):
            stream = msg.get(self._dialect.stream_key)
            if stream is not None and stream != self.start.stream_id:
                raise StreamProtocolError(
                    "wrong_stream", f"{kind} for stream {stream!r}, not {self.start.stream_id!r}"
                )
        if kind == "media":
            return [AudioIn(frame) for frame in self._media(msg.get("media"))]
        if kind == "dtmf":
            digit = str((msg.get("dtmf") or {}).get("digit", ""))
            if len(digit) != 1 or digit not in DTMF_DIGITS:
                raise StreamProtocolError("bad_dtmf", f"not a keypad digit: {digit!r}")
            return [DtmfIn(digit, self._heard_until_ms)]
        if kind == "mark":
            self._on_mark(str((msg.get("mark") or {}).get("name", "")))
            return []
        if kind == "stop":
            self._remote_ended = True
            return [AudioIn(self._frame(ts, data)) for ts, data in self._jitter.flush()]
        if kind == "start":
            raise StreamProtocolError("already_started", "a second start message")
        if kind == "connected":
            return []  # harmless repeat of the greeting
        if kind == "error":
            raise StreamProtocolError("platform_error", f"the platform reported {msg!r:.200}")
        raise StreamProtocolError("unknown_event", f"unknown event {kind!r}")

    def _media(self, media: Any) -> list[AudioFrame]:
        if not isinstance(media, dict):
            raise StreamProtocolError("bad_media", "media message without a media object")
        track = str(media.get("track", "inbound"))
        if not track.startswith("inbound"):
            return []  # the platform may also stream our own audio back; we know it already
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise StreamProtocolError("bad_media", "media without a payload string")
        if len(payload) > 4 * (self._max_payload // 3 + 1):
            raise StreamProtocolError(
                "payload_too_large",
                f"{len(payload)} base64 characters is more than "
                f"{self._options.max_payload_ms} ms of audio",
            )
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise StreamProtocolError("bad_base64", f"payload is not valid base64: {exc}") from exc
        if not data:
            raise StreamProtocolError("empty_payload", "media with an empty payload")
        try:
            chunk = int(media["chunk"])
            stamp = media.get("timestamp")
            timestamp = float(stamp) if stamp is not None and self._dialect.timestamps_ms else None
            if timestamp is not None and not math.isfinite(timestamp):
                raise ValueError(f"timestamp {stamp!r} is not a finite number")
        except (KeyError, TypeError, ValueError) as exc:
            raise StreamProtocolError("bad_media", f"bad chunk or timestamp: {exc}") from exc
        if self._first_chunk is None:
            self._first_chunk = chunk
        if timestamp is None:
            # No usable clock: frames are contiguous 20 ms-ish chunks; rebuild it from the count.
            timestamp = 1000.0 * (chunk - self._first_chunk) * len(data) / self.input_sample_rate
        return [self._frame(ts, d) for ts, d in self._jitter.push(chunk, (timestamp, data))]

    def _frame(self, timestamp: float | None, data: bytes) -> AudioFrame:
        stamp = self._clamp(timestamp or 0.0)
        frame = AudioFrame(mulaw_decode(data), self.input_sample_rate, stamp)
        self._heard_until_ms = max(self._heard_until_ms, frame.end_ms)
        return frame

    def _on_mark(self, name: str) -> None:
        marks = self._marks
        prefix, _, number = name.partition("-")
        if prefix != "cw" or not number.isdigit():
            log.info("%s call %s: mark %r is not ours", self.channel, self.call_ref, name)
            return
        index = int(number)
        position = marks.positions.pop(index, None)
        for older in [i for i in marks.positions if i < index]:
            del marks.positions[older]  # echoes come in order; these will not confirm more
        if position is None or index <= marks.discard_through:
            return  # echoed because a clear discarded its audio
        marks.confirmed = max(marks.confirmed, position)

    def confirmed_played_samples(self) -> int | None:
        """Agent samples the platform confirmed it played (by echoed marks)."""
        return self._marks.confirmed

    # --- outbound ------------------------------------------------------------------------

    async def send_audio(self, samples: np.ndarray) -> None:
        payload = base64.b64encode(mulaw_encode(samples.astype(np.int16, copy=False)))
        self._put("media", self._media_head + payload.decode("ascii") + '"}}')
        self._sent_samples += int(samples.size)
        self._frames_since_mark += 1
        if self._frames_since_mark >= self._options.mark_every:
            self._frames_since_mark = 0
            marks = self._marks
            marks.positions[marks.next_index] = self._sent_samples
            self._send({"event": "mark", "mark": {"name": f"cw-{marks.next_index}"}})
            marks.next_index += 1

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Telephony peers take no control events; transcripts and timelines stay with us."""

    async def clear_audio(self) -> None:
        # Queued audio never leaves; the platform drops what it buffered and echoes its marks.
        self._writer.drop({"media", "mark"})
        self._marks.discard_through = self._marks.next_index - 1
        self._frames_since_mark = 0
        self._send({"event": "clear"})

    def _send(self, message: dict[str, Any]) -> None:
        if self._closed or self._stalled is not None:
            return
        kind = str(message["event"])
        if self._dialect.stream_id_outbound:
            named = {"event": kind, self._dialect.stream_key: self.start.stream_id}
            message = named | {k: v for k, v in message.items() if k != "event"}
        self._put(kind, json.dumps(message, separators=(",", ":")))

    def _put(self, kind: str, text: str) -> None:
        if self._closed or self._stalled is not None:
            return
        if not self._writer.put(kind, text):
            log.warning("%s call %s: peer is not reading; closing", self.channel, self.call_ref)
            # Ended as any call is (hung up through call control, the socket closed), so the
            # session's inbound loop ends too: the peer may well keep sending.
            self._stalled = asyncio.create_task(self.close("peer_not_reading"))

    # --- call control --------------------------------------------------------------------

    async def transfer(self, to: str | None, reason: str) -> bool:
        """Hands the caller to `to` (or the configured human number) through call control."""
        if self._control is None or self._remote_ended:
            return False
        try:
            done = await self._control.transfer(to)
        except Exception:
            log.exception("%s call %s: transfer failed", self.channel, self.call_ref)
            return False
        self._handed_over = done
        return done

    async def close(self, reason: str) -> None:
        """Ends the call: through call control if we can, else by closing the stream."""
        if self._closed:
            return
        self._closed = True
        if self._control is not None and not self._remote_ended and not self._handed_over:
            try:
                await self._control.hangup()
            except Exception:
                log.exception("%s call %s: hang-up failed", self.channel, self.call_ref)
        await self._shutdown(WSCloseCode.OK)

    async def _shutdown(self, code: int) -> None:
        await close_websocket(self._ws, self._writer, code)
