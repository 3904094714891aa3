"""Telephony media streams over WebSocket (Twilio, Telnyx): one call's transport.

The platforms speak near-identical JSON protocols: `connected`, `start`, then `media`
(base64 G.711 µ-law at 8 kHz, numbered chunks), `dtmf`, `mark` (echoed once the audio queued
before it has played), `stop`. We send `media`, `mark` and `clear`. A `MediaStreamDialect`
holds what differs (field names, the start message); everything else lives here.

Marks are how we know what the caller heard: every `mark_every` frames of agent audio we send
a mark carrying the running sample count, and its echo confirms that much has played. After a
`clear`, platforms echo the marks of the audio they discarded, so marks sent before a clear
confirm nothing. A peer that never echoes cannot grow them: only the latest `max_marks` are
held, in the order sent, so an echo finds its mark by number and forgets the older ones.

Every field is checked for its type and range (numbers are ASCII digits or JSON numbers of a
bounded size) before it is used: what the platform sends is input, and a message of the
wrong shape is a protocol error, never an exception from deep inside the parsing.

Anything that breaks the protocol ends this call only, with a log line naming the problem;
the session still writes the call's record.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from callwright.audio.frame import AudioFrame
from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.transports.base import DTMF_DIGITS, AudioIn, DtmfIn, HangupIn, InboundEvent
from callwright.transports.jitter import JitterBuffer, WallClockClamp
from callwright.transports.socket_writer import QueuedSocketWriter, close_websocket

log = logging.getLogger(__name__)

PHONE_RATE = 8000
MAX_CHUNK = 10**10  # 20 ms chunks: years of audio; beyond it a number is not a chunk
MAX_TIMESTAMP_MS = 1e12  # some 30 years: bounds the arithmetic done on a stamp
_MAX_DIGITS = 12  # a number sent as text: enough for any chunk, a mark index or a stamp


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
        max_marks: marks held for their echo; past it the oldest is forgotten (30 s of
            agent audio at the default pace: a peer echoes within a second or two).
    """

    max_payload_ms: int = 1000
    jitter_depth: int = 3
    mark_every: int = 3
    outbound_limit: int = 1500
    max_marks: int = 500


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
        with _too_deep_is_bad_json():
            event = _parse_json(msg.data)
            kind = event.get("event")
            if kind == "connected":
                continue
            if kind != "start":
                raise StreamProtocolError("start_required", f"got {kind!r:.40} before the start")
            return dialect.parse_start(event)


@contextlib.contextmanager
def _too_deep_is_bad_json() -> Iterator[None]:
    """JSON nested deeper than Python recurses, in the parser or in a repr of one of its
    fields (an error message), is a protocol error like any other bad JSON."""
    try:
        yield
    except RecursionError as exc:
        raise StreamProtocolError("bad_json", "message is nested too deeply") from exc


def _parse_json(raw: str) -> dict[str, Any]:
    try:
        msg = json.loads(raw)
    except ValueError as exc:
        raise StreamProtocolError("bad_json", f"message is not JSON (truncated?): {exc}") from exc
    if not isinstance(msg, dict):
        raise StreamProtocolError("bad_json", "message is not a JSON object")
    return msg


def _whole_number(value: Any, what: str, limit: int) -> int:
    """A number from the platform: a JSON integer or ASCII digits, from 0 to `limit`.

    Raises:
        StreamProtocolError: anything else (`bad_media`), e.g. "²" (a digit to `str.isdigit`
            that `int` refuses), a float, a bool, or a number past `limit`.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > _MAX_DIGITS:
            raise StreamProtocolError("bad_media", f"{what} has {len(value)} digits")
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise StreamProtocolError("bad_media", f"{what} is not a whole number: {value!r:.40}")
    if not 0 <= number <= limit:
        raise StreamProtocolError("bad_media", f"{what} is out of range")
    return number


def _timestamp_ms(value: Any) -> float:
    """A `media.timestamp`: a finite JSON number or its ASCII text, of bounded size."""
    if isinstance(value, str) and value.isascii() and len(value) <= 2 * _MAX_DIGITS:
        try:
            stamp = float(value)
        except ValueError as exc:
            raise StreamProtocolError("bad_media", f"timestamp {value!r} is no number") from exc
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            stamp = float(value)
        except OverflowError as exc:  # a JSON integer of hundreds of digits
            raise StreamProtocolError("bad_media", "timestamp is out of range") from exc
    else:
        raise StreamProtocolError("bad_media", f"timestamp is not a number: {value!r:.40}")
    if not math.isfinite(stamp) or abs(stamp) > MAX_TIMESTAMP_MS:
        raise StreamProtocolError("bad_media", f"timestamp {stamp!r} is out of range")
    return stamp


def _object(msg: Mapping[str, Any], key: str, code: str) -> dict[str, Any]:
    value = msg.get(key)
    if not isinstance(value, dict):
        raise StreamProtocolError(code, f"{key} must be an object, not {type(value).__name__}")
    return value


@dataclass(slots=True)
class _Marks:
    """Marks in flight and what their echoes confirmed."""

    next_index: int = 0
    # mark index → samples sent, oldest first (indexes only grow): an echo pops its own and
    # the older ones from the front, each mark once, whatever the peer echoes.
    positions: OrderedDict[int, int] = field(default_factory=OrderedDict)
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
                    with _too_deep_is_bad_json():
                        events = self._handle(_parse_json(msg.data))
                    for event in events:
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
            digit = _object(msg, "dtmf", "bad_dtmf").get("digit")
            if not isinstance(digit, str) or len(digit) != 1 or digit not in DTMF_DIGITS:
                raise StreamProtocolError("bad_dtmf", f"not a keypad digit: {digit!r:.40}")
            return [DtmfIn(digit, self._heard_until_ms)]
        if kind == "mark":
            name = _object(msg, "mark", "bad_mark").get("name")
            if not isinstance(name, str):
                raise StreamProtocolError("bad_mark", f"mark name is not a string: {name!r:.40}")
            self._on_mark(name)
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
        track = media.get("track", "inbound")
        if not isinstance(track, str):
            raise StreamProtocolError("bad_media", "media track is not a string")
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
        if "chunk" not in media:
            raise StreamProtocolError("bad_media", "media without a chunk number")
        chunk = _whole_number(media["chunk"], "chunk", MAX_CHUNK)
        stamp = media.get("timestamp")
        timestamp = (
            _timestamp_ms(stamp) if stamp is not None and self._dialect.timestamps_ms else None
        )
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
        # ASCII digits only ("cw-²" is a digit to str.isdigit, not to int), and only the
        # numbers we sent: an echo "from the future" must not forget the marks in flight.
        ours = prefix == "cw" and number.isascii() and number.isdigit()
        index = int(number) if ours and len(number) <= _MAX_DIGITS else -1
        if not 0 <= index < marks.next_index:
            log.info("%s call %s: mark %.40r is not ours", self.channel, self.call_ref, name)
            return
        position = marks.positions.pop(index, None)
        while marks.positions and next(iter(marks.positions)) < index:
            marks.positions.popitem(last=False)  # echoes come in order: no more from these
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
            if len(marks.positions) > self._options.max_marks:
                marks.positions.popitem(last=False)  # a peer that does not echo them
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
