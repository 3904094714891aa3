"""Bad input on the native WebSocket: clear errors, a clean end of that call only, a record."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import numpy as np
import pytest

from callwright.agent.stack import AgentStack
from callwright.sim.caller import CallerSimulator, ScriptLine
from callwright.tts.espeak import EspeakTts
from tests.conftest import finished_call, operator_http, word_overlap

START = json.dumps({"type": "start", "sample_rate": 16000})
SILENCE_20MS = np.zeros(320, dtype="<i2").tobytes()


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """Skips audio and other events until one of `kind` arrives."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), 10.0)
        if msg.type == aiohttp.WSMsgType.TEXT:
            event = json.loads(msg.data)
            if event.get("type") == kind:
                return event
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            raise AssertionError(f"socket closed before a {kind!r} event")


async def test_audio_before_start_is_refused_and_recorded(
    stack: AgentStack, server_url: str
) -> None:
    before = {c.call_id for c in await stack.store.list_calls(1000)}
    async with operator_http() as http, http.ws_connect(server_url) as ws:
        await ws.send_bytes(SILENCE_20MS)
        error = await next_event(ws, "error")
        assert error["code"] == "start_required"
        closing = await ws.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    new = [c for c in await stack.store.list_calls(1000) if c.call_id not in before]
    assert [c.outcome for c in new] == ["rejected"]


async def test_a_start_nested_past_pythons_recursion_is_refused_and_recorded(
    stack: AgentStack, server_url: str
) -> None:
    before = {c.call_id for c in await stack.store.list_calls(1000)}
    async with operator_http() as http, http.ws_connect(server_url) as ws:
        await ws.send_str("[" * 100_000)
        assert (await next_event(ws, "error"))["code"] == "bad_json"
    new = [c for c in await stack.store.list_calls(1000) if c.call_id not in before]
    assert [c.outcome for c in new] == ["rejected"]


async def test_bad_start_messages(server_url: str) -> None:
    cases = {
        "not json": "bad_json",
        json.dumps({"type": "hello"}): "start_required",
        json.dumps({"type": "start", "sample_rate": 44100}): "bad_sample_rate",
        json.dumps({"type": "start", "parameters": [1, 2]}): "bad_start",
    }
    async with operator_http() as http:
        for message, code in cases.items():
            async with http.ws_connect(server_url) as ws:
                await ws.send_str(message)
                assert (await next_event(ws, "error"))["code"] == code


async def test_recoverable_errors_keep_the_call_going(
    stack: AgentStack, server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with operator_http() as http, http.ws_connect(server_url) as ws:
        await ws.send_str(START)
        call_id = (await next_event(ws, "started"))["call_id"]
        await ws.send_bytes(b"\x01\x02\x03")
        assert (await next_event(ws, "error"))["code"] == "bad_frame"
        with caplog.at_level(logging.WARNING, logger="callwright.transports.native_ws"):
            for _ in range(20):  # each answered; the log has it once
                await ws.send_str("{not json")
                assert (await next_event(ws, "error"))["code"] == "bad_json"
        logged = [r for r in caplog.records if "bad_json" in r.getMessage()]
        assert len(logged) == 1, logged
        await ws.send_str(json.dumps({"type": "launch_rockets"}))
        assert (await next_event(ws, "error"))["code"] == "unknown_type"
        # Nested past Python's recursion, or a type whose repr would recurse that deep.
        await ws.send_str('{"type": ' + "[" * 100_000)
        assert (await next_event(ws, "error"))["code"] == "bad_json"
        await ws.send_str('{"type": ' + "[" * 900 + "]" * 900 + "}")
        assert (await next_event(ws, "error"))["code"] == "unknown_type"
        await ws.send_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(16))
        assert (await next_event(ws, "error"))["code"] == "unsupported_encoding"
        await ws.send_str(json.dumps({"type": "dtmf", "digit": "x"}))
        assert (await next_event(ws, "error"))["code"] == "bad_dtmf"
        await ws.send_str(json.dumps({"type": "ping"}))
        await next_event(ws, "pong")  # still alive after all that
        await ws.send_str(json.dumps({"type": "end"}))
    detail = await finished_call(stack, call_id)
    assert detail.record.outcome == "caller_ended"


async def test_oversized_frame_ends_only_that_call(stack: AgentStack, server_url: str) -> None:
    async with operator_http() as http, http.ws_connect(server_url) as ws:
        await ws.send_str(START)
        call_id = (await next_event(ws, "started"))["call_id"]
        await ws.send_bytes(bytes(2 * 16000 * 2))  # two seconds in one frame
        assert (await next_event(ws, "error"))["code"] == "frame_too_large"
    detail = await finished_call(stack, call_id)
    assert detail.record.outcome == "protocol_error"


async def test_client_vanishing_mid_reply_leaves_a_record(
    stack: AgentStack, server_url: str
) -> None:
    async with operator_http() as http:
        ws = await http.ws_connect(server_url)
        await ws.send_str(START)
        call_id = (await next_event(ws, "started"))["call_id"]
        # Wait for the greeting's audio to start, listen a little, then drop the connection.
        while (await ws.receive()).type != aiohttp.WSMsgType.BINARY:
            pass
        for _ in range(40):
            await ws.send_bytes(SILENCE_20MS)
            await asyncio.sleep(0.02)
        ws._response.connection.transport.abort()  # type: ignore[union-attr]  # no close frame
    detail = await finished_call(stack, call_id)
    assert detail.record.outcome == "caller_hung_up"
    greeting = [u for u in detail.utterances if u.role == "agent"]
    assert len(greeting) == 1 and greeting[0].interrupted
    assert greeting[0].text and "Hello" in greeting[0].text


async def test_a_misbehaving_client_does_not_disturb_another_call(
    stack: AgentStack, server_url: str
) -> None:
    async def misbehave() -> None:
        async with operator_http() as http, http.ws_connect(server_url) as ws:
            await ws.send_str(START)
            await next_event(ws, "started")
            for _ in range(30):
                await ws.send_bytes(b"\xff" * 3)
                await ws.send_str("garbage")
                await asyncio.sleep(0.05)
            await ws.send_bytes(bytes(200_000))

    simulator = CallerSimulator(server_url, EspeakTts(voice="en-us", words_per_minute=160))
    report, _ = await asyncio.gather(
        simulator.run([ScriptLine("What is your address?")]), misbehave()
    )
    transcripts = [e["text"] for e in report.of_type("transcript")]
    assert len(transcripts) == 1 and word_overlap("What is your address?", transcripts[0]) >= 0.75
    assert any("Maple Street" in e["text"] for e in report.of_type("agent_text"))
