"""A Telnyx call whose caller asks for a person is transferred through Call Control."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import numpy as np

from callwright.agent.stack import AgentStack
from callwright.audio.mulaw import mulaw_encode
from callwright.audio.resample import resample
from callwright.sim.caller import speech_bounds
from callwright.telephony.settings import TelephonySettings
from callwright.tts.espeak import EspeakTts
from tests.conftest import brief_clinic, finished_call
from tests.fakes.telnyx_rest import API_KEY, fake_telnyx
from tests.fakes.twilio_rest import serve_phone
from tests.test_telnyx_stream import PUBLIC, signed

HUMAN = "+15550123"
DIALLED = "+15550199"
CALLER = EspeakTts(voice="en-us", words_per_minute=140)
FRAME = 160  # 20 ms of PCMU at 8 kHz


class TelnyxCaller:
    """Plays Telnyx's side of a bidirectional PCMU stream: waits for the greeting to end,
    says one line, then keeps the line open (silence every 20 ms, marks echoed) until the
    server closes the stream.

    The greeting's end is the server's word (`greeted`), not a second of silence on the line:
    a stalled event loop on a loaded machine makes a silence of its own, and the caller would
    talk over the greeting.
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, call_ref: str) -> None:
        self.ws, self.call_ref = ws, call_ref
        self.stream_id = "5f1c8e0e-2b0d-4a57-9d0e-telnyx-transfer"
        self.seq = 0
        self.speech: np.ndarray | None = None
        self.heard = asyncio.Event()  # a message came from the server

    async def send(self, message: dict[str, object]) -> None:
        self.seq += 1
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(json.dumps({**message, "sequence_number": str(self.seq)}))

    async def run(
        self, line: np.ndarray, greeted: Callable[[], Awaitable[bool]], timeout_s: float = 120.0
    ) -> None:
        await self.ws.send_str(json.dumps({"event": "connected", "version": "1.0.0"}))
        await self.send({"event": "start", "stream_id": self.stream_id, "start": {
            "call_control_id": self.call_ref,
            "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1}}})  # fmt: skip
        receiver = asyncio.create_task(self._receive())
        sender = asyncio.create_task(self._send())
        try:
            async with asyncio.timeout(timeout_s):
                while not await greeted():
                    await self.ws_event()  # the greeting plays
                self.speech = line
                await receiver  # until the server ends the stream
        finally:
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)

    async def ws_event(self) -> None:
        self.heard.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.heard.wait(), 0.1)

    async def _receive(self) -> None:
        async for msg in self.ws:
            event = json.loads(msg.data)
            self.heard.set()
            if event["event"] == "mark":
                await self.send({"event": "mark", "stream_id": self.stream_id,
                                 "mark": event["mark"]})  # fmt: skip

    async def _send(self) -> None:
        started, chunk = time.monotonic(), 0
        while not self.ws.closed:
            chunk += 1
            frame = np.zeros(FRAME, np.int16)
            if self.speech is not None and self.speech.size:
                part, self.speech = self.speech[:FRAME], self.speech[FRAME:]
                frame[: part.size] = part
            payload = base64.b64encode(mulaw_encode(frame)).decode()
            await asyncio.sleep(max(0.0, started + chunk * 0.02 - time.monotonic()))
            await self.send({"event": "media", "stream_id": self.stream_id, "media": {
                "track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * FRAME),
                "payload": payload}})  # fmt: skip


async def greeting_played(stack: AgentStack, call_ref: str) -> bool:
    """Whether the server recorded the greeting of the call `call_ref`: its agent line is
    written once it has played to the end."""
    for record in await stack.store.list_calls(1000):
        if record.parameters.get("call_sid") == call_ref:
            detail = await stack.store.get_call(record.call_id)
            return detail is not None and any(u.role == "agent" for u in detail.utterances)
    return False


async def phone_line(text: str) -> np.ndarray:
    chunks = [c async for c in CALLER.synthesize(text)]
    speech = resample(np.concatenate(chunks), CALLER.sample_rate, 8000)
    start, end = speech_bounds(speech, 8000)
    return speech[start:end]


async def test_a_telnyx_caller_asking_for_a_person_is_transferred(
    stack: AgentStack, tmp_path: Path
) -> None:
    call_ref = "v3:" + base64.urlsafe_b64encode(np.random.bytes(12)).decode()
    line = await phone_line("Please transfer me to a human.")
    # The clinic's own desk, where nobody is signed in: the handoff's route is a phone
    # transfer. A brief opening: the disclosure and the greeting have their own tests.
    async with brief_clinic(stack, tmp_path) as clinic, fake_telnyx() as telnyx:
        telnyx.calls.add(call_ref)
        settings = TelephonySettings(
            telnyx_public_key=PUBLIC,
            telnyx_api_key=API_KEY,
            telnyx_api_base_url=telnyx.url,
            transfer_number=HUMAN,
        )
        async with serve_phone(clinic, settings) as url, aiohttp.ClientSession() as http:
            body = urlencode({"CallSid": call_ref, "From": "+15550100", "To": DIALLED}).encode()
            async with http.post(
                f"{url}/v1/telnyx/incoming", data=body, headers=signed(body)
            ) as response:
                assert response.status == 200
                stream = ET.fromstring(await response.text()).find("./Connect/Stream")
            assert stream is not None
            async with http.ws_connect(stream.attrib["url"]) as ws:
                await TelnyxCaller(ws, call_ref).run(line, lambda: greeting_played(stack, call_ref))
    # Exactly one command reached Telnyx: the transfer, in its documented shape.
    assert [(c.call_control_id, c.action) for c in telnyx.commands] == [(call_ref, "transfer")]
    command = telnyx.commands[0]
    assert command.authorization == f"Bearer {API_KEY}"
    assert command.body["to"] == HUMAN and command.body["from"] == DIALLED
    assert isinstance(command.body["command_id"], str) and command.body["command_id"]
    records = [c for c in await stack.store.list_calls(1000) if c.channel == "telnyx"]
    [mine] = [c for c in records if c.parameters.get("call_sid") == call_ref]
    detail = await finished_call(stack, mine.call_id)
    assert detail.record.outcome == "transferred"
    [escalation] = [e.data for e in detail.events if e.kind == "escalation"]
    assert escalation["trigger"] == "explicit_request"
    assert [e.kind for e in detail.events if e.kind.startswith("transfer")] == ["transfer"]
