"""Admission and per-call limits: nothing a caller sends makes a call unbounded.

A worker at its live-call cap refuses a WebSocket call with 1013 and an error event, a Twilio
call with a polite `<Say>` and `<Hangup/>`, and records each refusal; one address cannot hold
more than its share of connections; a call that sends `start` and then nothing ends on the wall
clock; a call reaching its maximum length hears a goodbye; a sender flooding audio is held to
1.5x real time; a forged timestamp jump is not allocated as silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from xml.etree import ElementTree

import aiohttp
import pytest

from callwright.agent.limits import CallLimits, RealTimePacer, WallClockWatch
from callwright.agent.stack import AgentStack
from callwright.config import LimitSettings
from callwright.server.admission import BUSY_LINE
from callwright.server.app import create_app
from callwright.sim.twilio_caller import new_sid, post_signed
from callwright.store.base import CallRecord
from callwright.telephony.settings import TelephonySettings
from callwright.transports.jitter import WallClockClamp
from tests.conftest import finished_call, operator_http, provision_operators, serving
from tests.fakes.twilio_rest import AUTH_TOKEN
from tests.security.worker_process import SILENCE_20MS, SilentCaller, refused_call
from tests.test_twilio_bad_input import ACCOUNT, finished, open_stream


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def serve(stack: AgentStack, limits: LimitSettings) -> AsyncIterator[str]:
    """A server with these limits on a free port; yields its http:// root."""
    await provision_operators(stack.store)
    app = create_app(
        dataclasses.replace(stack, limits=limits.call),
        TelephonySettings(twilio_auth_token=AUTH_TOKEN),
        limits=limits,
    )
    async with serving(app, access_log=None) as base:
        yield base


async def rejected_since(stack: AgentStack, started: float) -> list[CallRecord]:
    calls = await stack.store.list_calls(1000)
    return [c for c in calls if c.outcome == "rejected" and c.started_at >= started]


def test_pacer_holds_a_flood_to_the_factor() -> None:
    clock = FakeClock()
    pacer = RealTimePacer(1.5, burst_ms=1000.0, clock=clock)
    assert pacer.delay_s(20.0) == 0.0
    # 30 s of audio at once: all but the burst waits for 1.5x real time.
    delay = 0.0
    for _ in range(1500):
        delay = pacer.delay_s(20.0)
    expected = (20.0 * 1501 - 1000.0) / 1500.0
    assert abs(delay - expected) < 1e-9
    clock.now += expected  # once that time has passed, the sender may go on at 1.5x
    assert pacer.delay_s(0.0) < 1e-9


def test_watch_uses_the_wall_clock() -> None:
    clock = FakeClock()
    watch = WallClockWatch(CallLimits(max_call_s=60.0, idle_timeout_s=5.0), clock=clock)
    clock.now += 4.0
    assert watch.expired() is None
    watch.inbound()
    clock.now += 4.9
    assert watch.expired() is None
    clock.now += 0.2
    assert watch.expired() == "idle_timeout"
    watch.inbound()
    clock.now += 52.0
    watch.inbound()
    assert watch.expired() == "max_duration"


def test_timestamp_jump_is_pulled_back_to_the_wall_clock() -> None:
    clock = FakeClock()
    clamp = WallClockClamp(ahead_ms=1000.0, clock=clock)
    assert clamp(0.0) == 0.0
    clock.now += 0.02
    assert clamp(20.0) == 20.0
    clock.now += 0.02
    # An hour ahead: no more than the allowance; later frames follow on contiguously.
    assert clamp(3_600_000.0) == pytest.approx(1040.0)
    clock.now += 0.02
    assert clamp(3_600_020.0) == pytest.approx(1060.0)


async def test_live_call_cap_refuses_websocket_and_twilio_calls(stack: AgentStack) -> None:
    limits = LimitSettings(max_calls=2, max_calls_per_address=None)
    started = time.time() - 1
    async with serve(stack, limits) as base, operator_http() as http:
        ws_url = base.replace("http", "ws", 1) + "/v1/ws"
        callers = [SilentCaller(ws_url) for _ in range(2)]
        running = [asyncio.create_task(c.run()) for c in callers]
        for caller in callers:
            await asyncio.wait_for(caller.started.wait(), 30)
        code, events = await refused_call(ws_url)
        params = {"CallSid": new_sid("CA"), "AccountSid": ACCOUNT, "From": "+15550100"}
        response = await post_signed(http, f"{base}/v1/twilio/incoming", params, AUTH_TOKEN)
        twiml = ElementTree.fromstring(await response.text())
        for caller in callers:
            caller.hang_up.set()
        await asyncio.gather(*running)
        # With the lines free again, a call comes in.
        free = SilentCaller(ws_url)
        task = asyncio.create_task(free.run())
        await asyncio.wait_for(free.started.wait(), 30)
        free.hang_up.set()
        await task
    assert code == 1013 and [e["code"] for e in events] == ["busy"]
    assert [child.tag for child in twiml] == ["Say", "Hangup"]
    assert twiml[0].text == BUSY_LINE
    rejected = await rejected_since(stack, started)
    assert sorted(c.channel for c in rejected) == ["twilio", "websocket"]
    assert all((c.end_reason or "").startswith("busy:") for c in rejected)
    assert [c.parameters.get("call_sid") for c in rejected if c.channel == "twilio"] == [
        params["CallSid"]
    ]


async def test_one_address_cannot_hold_every_line(stack: AgentStack) -> None:
    limits = LimitSettings(max_calls=None, max_calls_per_address=1)
    async with serve(stack, limits) as base:
        ws_url = base.replace("http", "ws", 1) + "/v1/ws"
        first = SilentCaller(ws_url)
        task = asyncio.create_task(first.run())
        await asyncio.wait_for(first.started.wait(), 30)
        code, events = await refused_call(ws_url)
        first.hang_up.set()
        await task
    assert code == 1013 and [e["code"] for e in events] == ["too_many_connections"]


async def test_start_then_nothing_ends_on_the_wall_clock(stack: AgentStack) -> None:
    limits = LimitSettings(None, None, CallLimits(idle_timeout_s=2.0))
    async with serve(stack, limits) as base, operator_http() as http:
        async with http.ws_connect(base.replace("http", "ws", 1) + "/v1/ws") as ws:
            await ws.send_str(json.dumps({"type": "start", "sample_rate": 16000}))
            events = []
            async with asyncio.timeout(30):
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        events.append(json.loads(msg.data))
    call_id = events[0]["call_id"]
    assert events[-1]["type"] == "end"
    detail = await finished_call(stack, call_id)
    assert detail.record.outcome == "idle_timeout"


async def test_call_at_its_maximum_length_hears_goodbye(stack: AgentStack) -> None:
    limits = LimitSettings(None, None, CallLimits(max_call_s=6.0))
    async with serve(stack, limits) as base:
        caller = SilentCaller(base.replace("http", "ws", 1) + "/v1/ws")
        await asyncio.wait_for(caller.run(), 40)
    assert caller.call_id is not None
    assert CallLimits().max_duration_line in caller.agent_text()
    detail = await finished_call(stack, caller.call_id)
    assert detail.record.outcome == "max_duration"
    assert detail.utterances[-1].text == CallLimits().max_duration_line


async def test_flooded_audio_is_held_to_one_and_a_half_times_real_time(stack: AgentStack) -> None:
    audio_s = 9.0
    call = CallLimits(max_realtime_factor=1.5, burst_ms=1000.0)
    async with serve(stack, LimitSettings(None, None, call)) as base:
        async with operator_http() as http:
            async with http.ws_connect(base.replace("http", "ws", 1) + "/v1/ws") as ws:
                await ws.send_str(json.dumps({"type": "start", "sample_rate": 16000}))
                started = json.loads((await ws.receive()).data)
                for _ in range(int(audio_s / 0.02)):  # as fast as the socket takes it
                    await ws.send_bytes(SILENCE_20MS)
                await ws.send_str(json.dumps({"type": "end"}))
                async for _msg in ws:
                    pass
    detail = await finished_call(stack, started["call_id"])
    assert detail.record.ended_at is not None
    took = detail.record.ended_at - detail.record.started_at
    # The server may not have taken the audio faster than 1.5x real time after the burst.
    assert took >= (audio_s * 1000.0 - call.burst_ms) / 1500.0


async def test_forged_timestamp_jump_allocates_no_silence(stack: AgentStack) -> None:
    async with serve(stack, LimitSettings(None, None)) as base, operator_http() as http:
        stream = await open_stream(http, base)
        for _ in range(10):
            await stream.send(stream.media())
            await asyncio.sleep(0.02)
        jump = stream.media()
        jump["media"]["timestamp"] = str(3_600_000)  # an hour later, after 200 ms
        await stream.send(jump)
        for _ in range(10):
            message = stream.media()
            message["media"]["timestamp"] = str(3_600_000 + 20 * (stream.chunk - 11))
            await stream.send(message)
            await asyncio.sleep(0.02)
        await stream.send({"event": "stop", "streamSid": stream.stream_sid})
        detail = await finished(stack, stream.call_sid)
        await stream.ws.close()
    recording = await stack.store.get_recording(detail.record.call_id)
    assert recording is not None
    seconds = len(recording.pcm) / (2 * recording.channels * recording.sample_rate)
    assert seconds < 60.0, f"{seconds:.0f} s recorded for under a second of audio"


async def test_answered_phone_calls_hold_their_line_until_the_stream(stack: AgentStack) -> None:
    """A burst of webhooks cannot exceed the cap while their streams are still connecting."""
    async with serve(stack, LimitSettings(1, None)) as base, aiohttp.ClientSession() as http:
        sids = [new_sid("CA"), new_sid("CA"), None]
        sids[2] = sids[0]  # a retry of the first webhook: the call that holds the line
        answers = []
        for sid in sids:
            params = {"CallSid": sid or "", "AccountSid": ACCOUNT, "From": "+15550100"}
            response = await post_signed(http, f"{base}/v1/twilio/incoming", params, AUTH_TOKEN)
            answers.append([child.tag for child in ElementTree.fromstring(await response.text())])
    assert answers == [["Connect", "Redirect"], ["Say", "Hangup"], ["Connect", "Redirect"]]
