"""The agent's audio leaves as the exact media messages each platform expects."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from callwright.transports.media_stream import (
    MediaStreamDialect,
    MediaStreamTransport,
    StreamStart,
)
from callwright.transports.telnyx import TELNYX
from callwright.transports.twilio import TWILIO


class Socket:
    """Keeps what the transport writes."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_str(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000) -> None:
        return None


@pytest.mark.parametrize(
    ("dialect", "named"),
    [(TWILIO, {"streamSid": 'MZ"odd\\id'}), (TELNYX, {})],
)
async def test_media_messages_are_the_json_of_the_audio(
    dialect: MediaStreamDialect, named: dict[str, str]
) -> None:
    socket = Socket()
    start = StreamStart('MZ"odd\\id', "CA1", None, {})
    transport = MediaStreamTransport(socket, dialect, start)  # type: ignore[arg-type]
    frames = [np.zeros(160, np.int16), np.linspace(-9000, 9000, 160).astype(np.int16)]
    for frame in frames:
        await transport.send_audio(frame)
    await transport.close("done")
    media = [json.loads(text) for text in socket.sent if '"media"' in text]
    assert len(media) == 2
    for message, frame, text in zip(media, frames, socket.sent, strict=False):
        payload = message["media"]["payload"]
        expected = {"event": "media", **named, "media": {"payload": payload}}
        assert text == json.dumps(expected, separators=(",", ":"))
        codes = np.frombuffer(base64.b64decode(payload), np.uint8)
        assert codes.size == frame.size
        # µ-law: silence is code 0xFF; louder samples take lower codes on each side.
        assert (codes == 0xFF).all() == (not frame.any())
