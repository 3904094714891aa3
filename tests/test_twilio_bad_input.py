"""Bad input on a Twilio stream ends that call only, with a clear log line and its record."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import numpy as np
import pytest

from callwright.agent.stack import AgentStack
from callwright.audio.mulaw import mulaw_encode
from callwright.sim.twilio_caller import new_sid, parse_stream_twiml, post_signed, start_message
from callwright.store.base import CallDetail
from callwright.telephony.settings import TelephonySettings
from tests.fakes.twilio_rest import AUTH_TOKEN, serve_phone

ACCOUNT = "AC" + "1" * 32
SILENCE = base64.b64encode(mulaw_encode(np.zeros(160, np.int16))).decode()


@pytest.fixture(scope="module")
async def phone_url(stack: AgentStack) -> AsyncIterator[str]:
    async with serve_phone(stack, TelephonySettings(twilio_auth_token=AUTH_TOKEN)) as url:
        yield url


class Stream:
    """A raw Twilio stream: the test plays Twilio, message by message."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, call_sid: str, stream_sid: str):
        self.ws, self.call_sid, self.stream_sid = ws, call_sid, stream_sid
        self.chunk = 0

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send_str(message if isinstance(message, str) else json.dumps(message))

    def media(self, payload: str = SILENCE, stream_sid: str | None = None) -> dict[str, Any]:
        self.chunk += 1
        return {
            "event": "media",
            "sequenceNumber": str(self.chunk + 1),
            "streamSid": stream_sid or self.stream_sid,
            "media": {"track": "inbound", "chunk": str(self.chunk),
                      "timestamp": str(20 * (self.chunk - 1)), "payload": payload},
        }  # fmt: skip

    async def closed_by_server(self) -> int | None:
        """Reads until the server closes the socket; returns the close code."""
        async with asyncio.timeout(15):
            while True:
                msg = await self.ws.receive()
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    return self.ws.close_code


async def open_stream(http: aiohttp.ClientSession, base: str, send_start: bool = True) -> Stream:
    call_sid, stream_sid = new_sid("CA"), new_sid("MZ")
    params = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+15550100", "To": "+15550199"}
    response = await post_signed(http, f"{base}/v1/twilio/incoming", params, AUTH_TOKEN)
    url, custom = parse_stream_twiml(await response.text())
    stream = Stream(await http.ws_connect(url), call_sid, stream_sid)
    await stream.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    if send_start:
        await stream.send(start_message(stream_sid, call_sid, ACCOUNT, custom))
    return stream


async def finished(stack: AgentStack, call_sid: str) -> CallDetail:
    for _ in range(150):
        for record in await stack.store.list_calls(1000):
            if record.parameters.get("call_sid") == call_sid and record.status != "active":
                detail = await stack.store.get_call(record.call_id)
                assert detail is not None
                return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_sid} has no finished record")


CASES: dict[str, tuple[str, Any]] = {
    "unknown_event": ("unknown_event", {"event": "launch_rockets"}),
    "bad_base64": ("bad_base64", "media:!!not base64!!"),
    "payload_too_large": ("payload_too_large", "media:" + "A" * 20000),
    "truncated_json": ("bad_json", '{"event":"media","streamSid":"MZ'),
    "wrong_stream": ("wrong_stream", "media-other-stream"),
    "second_start": ("already_started", "start"),
    "binary_frame": ("binary_frame", b"\x00\x01"),
    "mark_as_string": ("bad_mark", {"event": "mark", "mark": "cw-1"}),
    "dtmf_as_list": ("bad_dtmf", {"event": "dtmf", "dtmf": ["5"]}),
    "huge_timestamp": (
        "bad_media",
        '{"event":"media","media":{"chunk":"9","payload":"//8=","timestamp":1' + "0" * 400 + "}}",
    ),
    "nested_too_deeply": ("bad_json", '{"event":' + "[" * 20000 + "]" * 20000 + "}"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_input_ends_only_that_call(
    stack: AgentStack, phone_url: str, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    code, bad = CASES[case]
    async with aiohttp.ClientSession() as http:
        bystander = await open_stream(http, phone_url)
        victim = await open_stream(http, phone_url)
        for _ in range(5):
            await victim.send(victim.media())
            await bystander.send(bystander.media())
        with caplog.at_level(logging.WARNING, logger="callwright.transports.media_stream"):
            if isinstance(bad, bytes):
                await victim.ws.send_bytes(bad)
            elif bad == "start":
                await victim.send(start_message(victim.stream_sid, victim.call_sid, ACCOUNT, {}))
            elif bad == "media-other-stream":
                await victim.send(victim.media(stream_sid=new_sid("MZ")))
            elif isinstance(bad, str) and bad.startswith("media:"):
                await victim.send(victim.media(payload=bad[len("media:") :]))
            else:
                await victim.send(bad)
            assert await victim.closed_by_server() == 1008
            detail = await finished(stack, victim.call_sid)
        assert detail.record.outcome == "protocol_error"
        lines = [r.getMessage() for r in caplog.records if victim.call_sid in r.getMessage()]
        assert any(f"protocol error {code}" in line for line in lines), lines
        # The other call goes on: it still takes audio, and is still open.
        for _ in range(5):
            await bystander.send(bystander.media())
        await asyncio.sleep(0.2)
        assert not bystander.ws.closed
        record = [c for c in await stack.store.list_calls(1000)
                  if c.parameters.get("call_sid") == bystander.call_sid]  # fmt: skip
        assert record and record[0].status == "active"
        await bystander.send({"event": "stop", "streamSid": bystander.stream_sid,
                              "stop": {"callSid": bystander.call_sid}})  # fmt: skip
        await bystander.closed_by_server()
        assert (await finished(stack, bystander.call_sid)).record.outcome == "caller_hung_up"


async def test_a_stream_is_recorded_before_its_start_message(
    stack: AgentStack, phone_url: str
) -> None:
    # A worker that died right after the upgrade would still leave this record (active, so a
    # survivor marks it cut off); once the start message comes, the same record is the call's.
    async with aiohttp.ClientSession() as http:
        stream = await open_stream(http, phone_url, send_start=False)
        early = [c for c in await stack.store.list_calls(1000)
                 if c.parameters.get("call_sid") == stream.call_sid]  # fmt: skip
        assert [(c.status, c.channel) for c in early] == [("active", "twilio")]
        assert "stream_sid" not in early[0].parameters  # nothing the start message says yet
        await stream.send(start_message(stream.stream_sid, stream.call_sid, ACCOUNT, {}))
        await stream.send({"event": "stop", "streamSid": stream.stream_sid,
                           "stop": {"callSid": stream.call_sid}})  # fmt: skip
        await stream.closed_by_server()
    detail = await finished(stack, stream.call_sid)
    assert detail.record.call_id == early[0].call_id
    assert detail.record.parameters["stream_sid"] == stream.stream_sid
    assert detail.record.outcome == "caller_hung_up"
    mine = [c for c in await stack.store.list_calls(1000)
            if c.parameters.get("call_sid") == stream.call_sid]  # fmt: skip
    assert len(mine) == 1  # one record per call, not an early one and a late one


async def test_media_before_start_is_rejected_and_recorded(
    stack: AgentStack, phone_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with aiohttp.ClientSession() as http:
        with caplog.at_level(logging.WARNING, logger="callwright.server.telephony"):
            stream = await open_stream(http, phone_url, send_start=False)
            await stream.send(stream.media())
            assert await stream.closed_by_server() == 1008
    detail = await finished(stack, stream.call_sid)
    assert detail.record.outcome == "rejected"
    assert [e.data["code"] for e in detail.events if e.kind == "rejected"] == ["start_required"]
    assert any("start_required" in r.getMessage() for r in caplog.records)


async def test_start_with_a_media_format_of_the_wrong_shape_is_rejected(
    stack: AgentStack, phone_url: str
) -> None:
    async with aiohttp.ClientSession() as http:
        stream = await open_stream(http, phone_url, send_start=False)
        start = start_message(stream.stream_sid, stream.call_sid, ACCOUNT, {})
        start["start"]["mediaFormat"] = "audio/x-mulaw"
        await stream.send(start)
        assert await stream.closed_by_server() == 1008
    detail = await finished(stack, stream.call_sid)
    assert detail.record.outcome == "rejected"
    assert [e.data["code"] for e in detail.events if e.kind == "rejected"] == ["bad_media_format"]


async def test_socket_dropping_mid_call_keeps_the_record(
    stack: AgentStack, phone_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with aiohttp.ClientSession() as http:
        stream = await open_stream(http, phone_url)
        for _ in range(10):
            await stream.send(stream.media())
        with caplog.at_level(logging.WARNING, logger="callwright.transports.media_stream"):
            await stream.ws.close()  # no stop message: the line just went dead
            detail = await finished(stack, stream.call_sid)
    assert detail.record.outcome == "connection_lost"
    assert any("dropped without a stop" in r.getMessage() for r in caplog.records)
    assert "call_ended" in [e.kind for e in detail.events]
    # This "phone" never echoed a mark, so by the marks the caller heard none of the greeting.
    assert not [u for u in detail.utterances if u.role == "agent"]


class StoreFailingAtStreamClaims:
    """The call store, except that claiming a call's one stream fails (a lost connection)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def claim_once(self, key: str, expires_at: float) -> bool:
        if key.startswith("stream-call:"):
            raise ConnectionError("the database went away")
        result: bool = await self._inner.claim_once(key, expires_at)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_a_stream_whose_setup_fails_ends_its_early_record(stack: AgentStack) -> None:
    import dataclasses

    failing = dataclasses.replace(stack, store=StoreFailingAtStreamClaims(stack.store))
    settings = TelephonySettings(twilio_auth_token=AUTH_TOKEN)
    async with serve_phone(failing, settings) as url, aiohttp.ClientSession() as http:
        stream = await open_stream(http, url)
        assert await stream.closed_by_server() == 1008
    # Not left "active" for good on a worker that lives on: ended, and why.
    detail = await finished(stack, stream.call_sid)
    assert detail.record.outcome == "rejected"
    assert [e.data["code"] for e in detail.events if e.kind == "rejected"] == ["setup_failed"]
