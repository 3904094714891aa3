"""callwright's native WebSocket transport: binary PCM16 frames plus JSON control events.

The wire protocol is documented in docs/websocket-protocol.md. Anything the peer sends that
breaks it gets an `error` event; what cannot be recovered ends this call only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from callwright.audio.frame import SUPPORTED_RATES, AudioFrame
from callwright.transports.base import DTMF_DIGITS, AudioIn, DtmfIn, HangupIn, InboundEvent
from callwright.transports.socket_writer import QueuedSocketWriter, close_websocket

log = logging.getLogger(__name__)

# Magic numbers of containers people send by mistake instead of raw PCM.
CONTAINER_MAGIC = {
    b"RIFF": "WAV",
    b"OggS": "Ogg",
    b"ID3": "MP3",
    b"fLaC": "FLAC",
    b"\x1aE\xdf\xa3": "WebM/Matroska",
}
MAX_FRAME_MS = 1000  # a single binary frame may carry at most this much audio
OUTBOUND_LIMIT = 500  # queued messages (~10 s of audio) before a peer counts as stalled


class ProtocolError(Exception):
    """The peer broke the protocol in a way that ends the call."""

    def __init__(self, code: str, message: str, close_code: int = WSCloseCode.POLICY_VIOLATION):
        super().__init__(message)
        self.code = code
        self.close_code = close_code


@dataclass(frozen=True, slots=True)
class StartRequest:
    """The validated `start` message."""

    sample_rate: int
    output_sample_rate: int
    caller: str | None
    parameters: dict[str, str]


def parse_start(raw: str) -> StartRequest:
    """Validates the first message of a connection.

    Raises:
        ProtocolError: the message is not a valid `start`.
    """
    # JSON nested deeper than Python recurses, in the parser or in a str() of one of its
    # fields, is bad JSON like any other (not a traceback and an unrecorded refusal).
    try:
        return _parse_start(raw)
    except RecursionError as exc:
        raise ProtocolError("bad_json", "first message is nested too deeply") from exc


def _parse_start(raw: str) -> StartRequest:
    try:
        msg = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError("bad_json", f"first message is not JSON: {exc}") from exc
    if not isinstance(msg, dict) or msg.get("type") != "start":
        raise ProtocolError("start_required", 'the first message must be {"type": "start", ...}')
    rate: Any = msg.get("sample_rate", 16000)
    out_rate: Any = msg.get("output_sample_rate", rate)
    for name, value in (("sample_rate", rate), ("output_sample_rate", out_rate)):
        if value not in SUPPORTED_RATES:
            raise ProtocolError("bad_sample_rate", f"{name} must be one of {SUPPORTED_RATES}")
    params = msg.get("parameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("bad_start", "parameters must be an object")
    caller = msg.get("caller")
    return StartRequest(
        sample_rate=int(rate),
        output_sample_rate=int(out_rate),
        caller=str(caller) if caller is not None else None,
        parameters={str(k): str(v) for k, v in params.items()},
    )


class NativeWebSocketTransport:
    """One call over callwright's native WebSocket protocol.

    Outbound messages go through the shared `QueuedSocketWriter`, so the session never waits
    on a slow peer and messages keep their order.
    """

    channel = "websocket"

    def __init__(self, ws: web.WebSocketResponse, start: StartRequest) -> None:
        self._ws = ws
        self.input_sample_rate = start.sample_rate
        self.output_sample_rate = start.output_sample_rate
        self._max_frame_bytes = 2 * start.sample_rate * MAX_FRAME_MS // 1000
        self._received_samples = 0
        self._writer = QueuedSocketWriter(ws, OUTBOUND_LIMIT, "ws-writer")
        self._closed = False
        self._logged: set[str] = set()
        self._stalled: asyncio.Task[None] | None = None  # closing a peer that stopped reading

    async def inbound(self) -> AsyncIterator[InboundEvent]:
        """Yields caller audio and control events until the socket closes."""
        try:
            async for msg in self._ws:
                if msg.type == WSMsgType.BINARY:
                    frame = await self._audio(msg.data)
                    if frame is not None:
                        yield AudioIn(frame)
                elif msg.type == WSMsgType.TEXT:
                    event = await self._control(msg.data)
                    if event is not None:
                        yield event
                        if isinstance(event, HangupIn):
                            return
                else:
                    return
        except ProtocolError as exc:
            log.warning("websocket call: %s: %s", exc.code, exc)
            await self.send_event({"type": "error", "code": exc.code, "message": str(exc)})
            await self._shutdown(exc.close_code)
            yield HangupIn("protocol_error")

    async def _audio(self, data: bytes) -> AudioFrame | None:
        for magic, name in CONTAINER_MAGIC.items():
            if data.startswith(magic):
                await self._error(
                    "unsupported_encoding", f"got a {name} container; send raw PCM16LE"
                )
                return None
        if len(data) % 2:
            await self._error("bad_frame", f"PCM16 frames need an even byte count, got {len(data)}")
            return None
        if len(data) > self._max_frame_bytes:
            raise ProtocolError(
                "frame_too_large",
                f"{len(data)} bytes is more than {MAX_FRAME_MS} ms of audio",
                WSCloseCode.MESSAGE_TOO_BIG,
            )
        timestamp = 1000.0 * self._received_samples / self.input_sample_rate
        frame = AudioFrame.from_pcm16(data, self.input_sample_rate, timestamp)
        self._received_samples += frame.num_samples
        return frame

    async def _control(self, raw: str) -> InboundEvent | None:
        try:
            msg = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested past Python's recursion
            await self._error("bad_json", "control messages must be JSON objects")
            return None
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "end":
            return HangupIn("caller_ended")
        if kind == "dtmf":
            digit = msg.get("digit", "")
            digit = "" if isinstance(digit, (list, dict)) else str(digit)  # str() may recurse
            if len(digit) != 1 or digit not in DTMF_DIGITS:
                await self._error("bad_dtmf", "digit must be one of 0-9, *, #, A-D")
                return None
            return DtmfIn(digit, 1000.0 * self._received_samples / self.input_sample_rate)
        if kind == "ping":
            await self.send_event({"type": "pong"})
            return None
        if kind == "start":
            await self._error("already_started", "this call has already started")
            return None
        # A list or an object is not shown: its repr may recurse as deep as it is nested.
        shown = "(not a string)" if isinstance(kind, (list, dict)) else f"{kind!r:.40}"
        await self._error("unknown_type", f"unknown message type {shown}")
        return None

    async def _error(self, code: str, message: str) -> None:
        # Answered every time, logged once per kind: a client repeating a mistake (or doing
        # it on purpose, as fast as its socket goes) cannot fill the log.
        if code not in self._logged:
            self._logged.add(code)
            log.warning("websocket call: %s: %s", code, message)
        await self.send_event({"type": "error", "code": code, "message": message})

    async def send_audio(self, samples: np.ndarray) -> None:
        self._enqueue("audio", samples.astype("<i2", copy=False).tobytes())

    async def send_event(self, event: Mapping[str, Any]) -> None:
        self._enqueue("event", json.dumps(event, separators=(",", ":")))

    def _enqueue(self, kind: str, message: bytes | str) -> None:
        if self._closed or self._stalled is not None:
            return
        if not self._writer.put(kind, message):
            log.warning("websocket call: peer is not reading; closing")
            # Closed as any call is, so the inbound loop ends even if the peer keeps sending.
            self._stalled = asyncio.create_task(self._shutdown(WSCloseCode.POLICY_VIOLATION))

    async def clear_audio(self) -> None:
        # Audio still in our queue never reaches the peer; then the peer drops its buffer.
        self._writer.drop({"audio"})
        await self.send_event({"type": "clear"})

    async def close(self, reason: str) -> None:
        if self._closed:
            return
        await self.send_event({"type": "end", "reason": reason})
        self._closed = True
        await self._shutdown(WSCloseCode.OK)

    async def _shutdown(self, code: int) -> None:
        self._closed = True
        await close_websocket(self._ws, self._writer, code)
