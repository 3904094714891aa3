"""Twilio Media Streams (bidirectional `<Connect><Stream>`), as documented by Twilio.

Inbound: `connected`, `start` (streamSid, callSid, customParameters, mediaFormat), `media`
(base64 µ-law 8 kHz, track, chunk, timestamp in ms), `dtmf`, `mark`, `stop`; every message
after `connected` carries a `sequenceNumber`. Outbound: `media`, `mark`, `clear`, each naming
the `streamSid`. The transport itself is `MediaStreamTransport`; this module is the dialect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callwright.transports.media_stream import (
    PHONE_RATE,
    MediaStreamDialect,
    StreamProtocolError,
    StreamStart,
)

TWILIO_ENCODING = "audio/x-mulaw"


def parse_twilio_start(msg: Mapping[str, Any]) -> StreamStart:
    """Validates Twilio's `start` message.

    Raises:
        StreamProtocolError: a field is missing or the media format is not µ-law 8 kHz mono.
    """
    start = msg.get("start")
    if not isinstance(start, dict):
        raise StreamProtocolError("bad_start", "start message without a start object")
    stream_sid = start.get("streamSid") or msg.get("streamSid")
    call_sid = start.get("callSid")
    if not isinstance(stream_sid, str) or not stream_sid:
        raise StreamProtocolError("bad_start", "start without a streamSid")
    if not isinstance(call_sid, str) or not call_sid:
        raise StreamProtocolError("bad_start", "start without a callSid")
    fmt = start.get("mediaFormat") or {}
    if not isinstance(fmt, dict):
        raise StreamProtocolError("bad_media_format", "mediaFormat must be an object")
    encoding, rate, channels = fmt.get("encoding"), fmt.get("sampleRate"), fmt.get("channels", 1)
    if encoding != TWILIO_ENCODING or rate != PHONE_RATE or channels != 1:
        raise StreamProtocolError(
            "bad_media_format",
            f"need {TWILIO_ENCODING} at {PHONE_RATE} Hz mono, got {encoding} {rate} x{channels}",
        )
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise StreamProtocolError("bad_start", "customParameters must be an object")
    account = start.get("accountSid")
    return StreamStart(
        stream_id=stream_sid,
        call_ref=call_sid,
        account_id=str(account) if account else None,
        parameters={str(k): str(v) for k, v in params.items()},
    )


TWILIO = MediaStreamDialect(
    channel="twilio",
    stream_key="streamSid",
    parse_start=parse_twilio_start,
    timestamps_ms=True,
    stream_id_outbound=True,
)
