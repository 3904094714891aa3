"""Telnyx: Ed25519-signed TeXML webhook, then a spoken call over its media streaming protocol."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlencode

import aiohttp
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from callwright.agent.stack import AgentStack
from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.audio.resample import resample
from callwright.sim.caller import speech_bounds
from callwright.stt.whisper import WhisperStt
from callwright.telephony.settings import TelephonySettings
from callwright.tts.espeak import EspeakTts
from examples.clinic.front_desk import DemoResponderFactory
from tests.conftest import word_overlap
from tests.fakes.twilio_rest import serve_phone

KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


@pytest.fixture(scope="module")
async def telnyx_url(stack: AgentStack) -> AsyncIterator[str]:
    demo = dataclasses.replace(stack, responders=DemoResponderFactory())  # known answers
    async with serve_phone(demo, TelephonySettings(telnyx_public_key=PUBLIC)) as url:
        yield url


def signed(body: bytes, key: Ed25519PrivateKey = KEY, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    signature = base64.b64encode(key.sign(stamp.encode() + b"|" + body)).decode()
    return {
        "telnyx-signature-ed25519": signature,
        "telnyx-timestamp": stamp,
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def test_unsigned_or_stale_telnyx_webhooks_get_403(telnyx_url: str) -> None:
    body = urlencode({"CallSid": "v3:abc", "From": "+15550100"}).encode()
    url = f"{telnyx_url}/v1/telnyx/incoming"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with aiohttp.ClientSession() as http:
        cases = [
            form,  # unsigned
            signed(body, Ed25519PrivateKey.generate()),  # someone else's key
            signed(body, at=time.time() - 3600),  # a replay from an hour ago
        ]
        for headers in cases:
            async with http.post(url, data=body, headers=headers) as response:
                assert response.status == 403
        tampered = signed(body)
        async with http.post(url, data=body + b"&To=1", headers=tampered) as response:
            assert response.status == 403
        # A timestamp of "nan" is signed like any other, but lies outside every window.
        stamp = "nan"
        forever = base64.b64encode(KEY.sign(stamp.encode() + b"|" + body)).decode()
        headers = {**form, "telnyx-signature-ed25519": forever, "telnyx-timestamp": stamp}
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 403


async def test_spoken_call_over_telnyx(
    stack: AgentStack, telnyx_url: str, oracle_stt: WhisperStt
) -> None:
    call_ref = "v3:" + base64.urlsafe_b64encode(np.random.bytes(12)).decode()
    body = urlencode({"CallSid": call_ref, "From": "+15550100", "To": "+15550199"}).encode()
    voice = EspeakTts(voice="en-us", words_per_minute=140)
    chunks = [c async for c in voice.synthesize("What are your opening hours?")]
    speech = resample(np.concatenate(chunks), voice.sample_rate, 8000)
    start, end = speech_bounds(speech, 8000)
    speech = speech[start:end]
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{telnyx_url}/v1/telnyx/incoming", data=body, headers=signed(body)
        ) as response:
            assert response.status == 200
            stream = ET.fromstring(await response.text()).find("./Connect/Stream")
        assert stream is not None
        assert stream.attrib["bidirectionalMode"] == "rtp"
        assert stream.attrib["bidirectionalCodec"] == "PCMU"
        async with http.ws_connect(stream.attrib["url"]) as ws:
            agent = await TelnyxPhone(ws, call_ref).talk(speech)
    records = [c for c in await stack.store.list_calls(1000) if c.channel == "telnyx"]
    mine = [c for c in records if c.parameters.get("call_sid") == call_ref]
    assert mine
    for _ in range(50):
        detail = await stack.store.get_call(mine[0].call_id)
        if detail is not None and detail.record.status != "active":
            break
        await asyncio.sleep(0.1)
    assert detail is not None
    said = [u.text for u in detail.utterances if u.role == "caller"]
    assert len(said) == 1 and word_overlap("What are your opening hours?", said[0]) >= 0.75
    heard = await oracle_stt.transcribe(resample(agent, 8000, 16000))
    assert word_overlap("open eight morning six evening Monday Friday", heard.text) >= 0.6


class TelnyxPhone:
    """Plays Telnyx: 20 ms PCMU frames (delivered in swapped pairs), collects the agent."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, call_ref: str) -> None:
        self.ws, self.call_ref = ws, call_ref
        self.stream_id = "32de0dea-53cb-4b21-89a4-9e1819c043bc"
        self.seq = 0
        self.received: list[np.ndarray] = []
        self.after_speech: list[np.ndarray] = []
        self.spoke = False

    async def send(self, message: Mapping[str, object]) -> None:
        self.seq += 1
        await self.ws.send_str(json.dumps({**message, "sequence_number": str(self.seq)}))

    async def talk(self, speech: np.ndarray) -> np.ndarray:
        await self.ws.send_str(json.dumps({"event": "connected", "version": "1.0.0"}))
        await self.send({"event": "start", "stream_id": self.stream_id, "start": {
            "user_id": "u-1", "call_control_id": self.call_ref, "client_state": "aGk=",
            "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1}}})  # fmt: skip
        receiver = asyncio.create_task(self._receive())
        silence = np.zeros(160, np.int16)
        # Greeting (2.5 s of silence), the question, then 6 s for the answer.
        frames = [silence] * 125 + [speech[i : i + 160] for i in range(0, speech.size, 160)]
        question_end = len(frames)
        frames += [silence] * 300
        held = None
        started = time.monotonic()
        for chunk, frame in enumerate(frames, start=1):
            frame = np.concatenate([frame, silence[: 160 - frame.size]])
            payload = base64.b64encode(mulaw_encode(frame)).decode()
            message = {"event": "media", "stream_id": self.stream_id, "media": {
                "track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * 160),
                "payload": payload}}  # fmt: skip
            await asyncio.sleep(max(0.0, started + chunk * 0.02 - time.monotonic()))
            if chunk == question_end:
                self.spoke = True
            if held is None and chunk % 2:
                held = message  # Telnyx does not promise order: this one comes second
                continue
            await self.send(message)
            if held is not None:
                await self.send(held)
                held = None
        await self.send({"event": "stop", "stream_id": self.stream_id,
                         "stop": {"call_control_id": self.call_ref}})  # fmt: skip
        await asyncio.wait_for(receiver, 10)
        return np.concatenate(self.after_speech) if self.after_speech else np.zeros(0, np.int16)

    async def _receive(self) -> None:
        async for msg in self.ws:
            event = json.loads(msg.data)
            assert "stream_id" not in event  # our messages to Telnyx do not name the stream
            if event["event"] == "media":
                samples = mulaw_decode(base64.b64decode(event["media"]["payload"]))
                (self.after_speech if self.spoke else self.received).append(samples)
