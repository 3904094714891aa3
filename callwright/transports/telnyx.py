"""Telnyx media streaming over WebSocket, bidirectional RTP mode with PCMU at 8 kHz.

Telnyx's events mirror Twilio's with snake_case fields (`stream_id`, `sequence_number`,
`start.call_control_id`, `start.media_format`). Ordering is not guaranteed, so frames go
through the jitter buffer by chunk number, and the timeline is rebuilt from chunk numbers
(Telnyx's `timestamp` is not documented as milliseconds). Our messages (`media`, `mark`,
`clear`) do not name the stream.
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

TELNYX_ENCODINGS = ("PCMU", "audio/x-mulaw")


def parse_telnyx_start(msg: Mapping[str, Any]) -> StreamStart:
    """Validates Telnyx's `start` message.

    Raises:
        StreamProtocolError: a field is missing or the codec is not PCMU 8 kHz mono.
    """
    start = msg.get("start")
    if not isinstance(start, dict):
        raise StreamProtocolError("bad_start", "start message without a start object")
    stream_id = msg.get("stream_id") or start.get("stream_id")
    call_ref = start.get("call_control_id")
    if not isinstance(stream_id, str) or not stream_id:
        raise StreamProtocolError("bad_start", "start without a stream_id")
    if not isinstance(call_ref, str) or not call_ref:
        raise StreamProtocolError("bad_start", "start without a call_control_id")
    fmt = start.get("media_format") or {}
    if not isinstance(fmt, dict):
        raise StreamProtocolError("bad_media_format", "media_format must be an object")
    encoding, rate = fmt.get("encoding"), fmt.get("sample_rate", PHONE_RATE)
    channels = fmt.get("channels", 1)
    if encoding not in TELNYX_ENCODINGS or str(rate) != str(PHONE_RATE) or channels != 1:
        raise StreamProtocolError(
            "bad_media_format",
            f"need PCMU at {PHONE_RATE} Hz mono (stream_bidirectional_codec=PCMU), "
            f"got {encoding} {rate} x{channels}",
        )
    params = start.get("custom_parameters") or {}
    if not isinstance(params, dict):
        raise StreamProtocolError("bad_start", "custom_parameters must be an object")
    if start.get("client_state"):
        params = {**params, "client_state": start["client_state"]}
    account = start.get("user_id")
    return StreamStart(
        stream_id=stream_id,
        call_ref=call_ref,
        account_id=str(account) if account else None,
        parameters={str(k): str(v) for k, v in params.items()},
    )


TELNYX = MediaStreamDialect(
    channel="telnyx",
    stream_key="stream_id",
    parse_start=parse_telnyx_start,
    timestamps_ms=False,
    stream_id_outbound=False,
)
