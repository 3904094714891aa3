"""What a media stream makes of messages of the wrong shape, and of marks that are not echoed.

A message the platform should never send (a mark that is a string, a chunk number of 400
digits, a media format that is a list) ends that call as a protocol error with a policy close,
like any other break of the protocol: never an exception from deep inside the parsing, which
ended the call as an "error" with a traceback. Marks awaiting their echo are bounded.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from aiohttp import WSCloseCode, WSMessage, WSMsgType

from callwright.transports.base import HangupIn, InboundEvent
from callwright.transports.media_stream import (
    MediaStreamDialect,
    MediaStreamOptions,
    MediaStreamTransport,
    StreamProtocolError,
    StreamStart,
)
from callwright.transports.telnyx import TELNYX, parse_telnyx_start
from callwright.transports.twilio import TWILIO, parse_twilio_start

PAYLOAD = base64.b64encode(b"\xff" * 160).decode()  # 20 ms of µ-law silence


class Socket:
    """Plays the platform: delivers `incoming`, keeps what the transport writes and the close."""

    def __init__(self, incoming: list[Any]) -> None:
        self.incoming = [m if isinstance(m, str) else json.dumps(m) for m in incoming]
        self.sent: list[str] = []
        self.close_code: int | None = None

    async def send_str(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self.close_code = code

    async def __aiter__(self) -> AsyncIterator[WSMessage]:
        for text in self.incoming:
            yield WSMessage(WSMsgType.TEXT, text, None)


def media(chunk: Any, timestamp: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"track": "inbound", "chunk": chunk, "payload": PAYLOAD}
    if timestamp is not None:
        body["timestamp"] = timestamp
    return {"event": "media", "media": body}


async def run(dialect: MediaStreamDialect, incoming: list[Any]) -> tuple[list[Any], Socket]:
    socket = Socket(incoming)
    transport = MediaStreamTransport(socket, dialect, StreamStart("MZ1", "CA1", None, {}))  # type: ignore[arg-type]
    events: list[InboundEvent] = [event async for event in transport.inbound()]
    return events, socket


CASES: dict[str, tuple[MediaStreamDialect, list[Any]]] = {
    "mark name as a number": (TWILIO, [{"event": "mark", "mark": {"name": 7}}]),
    "mark as a string": (TWILIO, [{"event": "mark", "mark": "cw-1"}]),
    "mark as a list": (TELNYX, [{"event": "mark", "mark": ["cw-1"]}]),
    "dtmf as a list": (TWILIO, [{"event": "dtmf", "dtmf": ["5"]}]),
    "dtmf digit as a number": (TELNYX, [{"event": "dtmf", "dtmf": {"digit": 5}}]),
    "chunk of 400 digits": (TELNYX, [media(1), media(10**400)]),
    "chunk in Arabic-Indic digits": (TWILIO, [media("\u0661\u0662", "0")]),
    "chunk below zero": (TWILIO, [media(-3, "0")]),
    "chunk as a float": (TELNYX, [media(1.5)]),
    "timestamp of 400 digits": (TWILIO, [media("1", 10**400)]),
    "timestamp as a list": (TWILIO, [media("1", [20])]),
    "track as an object": (TWILIO, [{"event": "media", "media": {"track": {}, "chunk": "1"}}]),
    "JSON nested past the parser": (TWILIO, ['{"event":' + "[" * 20000 + "]" * 20000 + "}"]),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_message_of_the_wrong_shape_is_a_protocol_error(case: str) -> None:
    dialect, incoming = CASES[case]
    events, socket = await run(dialect, incoming)
    assert events[-1] == HangupIn("protocol_error")
    assert socket.close_code == WSCloseCode.POLICY_VIOLATION


async def test_marks_that_are_not_ours_are_ignored() -> None:
    # A name we never sent is no echo (and "cw-²" is not number 2): the call goes on.
    names = ["cw-\u00b2", "cw-\u0661", "other-1", "cw-", "cw-" + "9" * 5000, "cw-99"]
    events, socket = await run(TWILIO, [{"event": "mark", "mark": {"name": n}} for n in names])
    assert events == [HangupIn("connection_lost")]  # the messages ran out, with no stop
    assert socket.close_code is None


@pytest.mark.parametrize(
    ("parse", "start"),
    [
        (parse_twilio_start, {"streamSid": "MZ1", "callSid": "CA1", "mediaFormat": "x"}),
        (parse_twilio_start, {"streamSid": "MZ1", "callSid": "CA1", "mediaFormat": [8000]}),
        (parse_telnyx_start, {"call_control_id": "v3:1", "media_format": [1]}),
        (parse_telnyx_start, {"call_control_id": "v3:1", "media_format": "PCMU"}),
    ],
)
def test_a_start_with_a_media_format_of_the_wrong_shape_is_refused(
    parse: Any, start: dict[str, Any]
) -> None:
    with pytest.raises(StreamProtocolError) as refused:
        parse({"event": "start", "stream_id": "S1", "start": start})
    assert refused.value.code == "bad_media_format"


async def test_marks_awaiting_their_echo_are_bounded() -> None:
    options = MediaStreamOptions(mark_every=2, max_marks=4)
    socket = Socket([])
    start = StreamStart("MZ1", "CA1", None, {})
    transport = MediaStreamTransport(socket, TWILIO, start, options)  # type: ignore[arg-type]
    frame = np.zeros(160, np.int16)
    for _ in range(2 * 10):  # ten marks, none echoed
        await transport.send_audio(frame)
    for _ in range(100):  # the writer task sends them
        if len(socket.sent) == 2 * 10 + 10:
            break
        await asyncio.sleep(0)
    names = [json.loads(t)["mark"]["name"] for t in socket.sent if '"mark"' in t]
    assert names == [f"cw-{i}" for i in range(10)]
    # Mark i was sent after 2 * (i + 1) frames of 160 samples.
    played_by = {name: 2 * (i + 1) * 160 for i, name in enumerate(names)}

    def echo(name: str) -> None:
        transport._handle({"event": "mark", "mark": {"name": name}})

    echo(names[0])  # forgotten: only the latest four were held
    assert transport.confirmed_played_samples() == 0
    echo("cw-10")  # never sent: no echo, and the marks in flight stay
    echo(names[7])
    assert transport.confirmed_played_samples() == played_by[names[7]]
    echo(names[6])  # older than one already echoed: confirms nothing new
    assert transport.confirmed_played_samples() == played_by[names[7]]
    echo(names[9])
    assert transport.confirmed_played_samples() == played_by[names[9]]
