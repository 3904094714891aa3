"""A browser call's data channel: control messages read within a pace, mistakes logged once."""

from __future__ import annotations

import json
import logging

import pytest

from callwright.agent.stack import AgentStack
from callwright.sim.webrtc_caller import WebRtcCallerSimulator
from callwright.transports.base import DtmfIn, HangupIn
from callwright.transports.webrtc_control import (
    CONTROL_BURST,
    CONTROL_PER_S,
    MAX_DROPPED,
    ControlMessages,
)
from tests.conftest import finished_call
from tests.test_webrtc import CALLER, webrtc_server


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_messages_past_the_pace_are_dropped_and_a_flood_ends_the_call() -> None:
    clock, replies = Clock(), list[str]()
    control = ControlMessages(replies.append, clock)
    ping = json.dumps({"type": "ping"})
    # A burst is answered in full, then nothing more until time passes.
    answered = [control.read(ping, 0.0) for _ in range(int(CONTROL_BURST) + 5)]
    assert answered == [None] * (int(CONTROL_BURST) + 5)
    assert len(replies) == int(CONTROL_BURST) and control.dropped == 5
    clock.now += 1.0  # a second later: that second's share of messages again
    for _ in range(int(CONTROL_PER_S) + 1):
        control.read(ping, 0.0)
    assert len(replies) == int(CONTROL_BURST + CONTROL_PER_S) and control.dropped == 6
    # A key within the pace is a key, stamped where the caller's audio has reached.
    clock.now += 10.0
    assert control.read(json.dumps({"type": "dtmf", "digit": "#"}), 1234.0) == DtmfIn("#", 1234.0)
    assert control.read(json.dumps({"type": "end"}), 0.0) == HangupIn("caller_ended")
    # A sender that keeps going past the pace ends its call, once.
    ended = [control.read(ping, 0.0) for _ in range(MAX_DROPPED + int(CONTROL_BURST) + 50)]
    assert ended.count(HangupIn("protocol_error")) == 1


def test_each_mistake_is_answered_but_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    clock, replies = Clock(), list[str]()
    control = ControlMessages(replies.append, clock)
    dtmf, shout = '{"type": "dtmf", "digit": "55"}', '{"type": "shout"}'
    mistakes: list[str | bytes] = [b"\x00", "x" * 5000, "{not json", "[" * 4000, dtmf, shout]
    with caplog.at_level(logging.WARNING, logger="callwright.transports.webrtc_control"):
        for _ in range(3):
            for message in mistakes:
                clock.now += 1.0
                assert control.read(message, 0.0) is None
    codes = [json.loads(r)["code"] for r in replies]
    assert codes == ["bad_message", "bad_message", "bad_json", "bad_json", "bad_dtmf",
                     "unknown_type"] * 3  # fmt: skip
    logged = [r.getMessage().split(": ")[1] for r in caplog.records]
    assert sorted(logged) == ["bad_dtmf", "bad_json", "bad_message", "unknown_type"]


async def test_a_peer_flooding_the_data_channel_has_its_call_ended(stack: AgentStack) -> None:
    async with webrtc_server(stack) as (_app, base):
        caller = WebRtcCallerSimulator(base, CALLER, codec="pcmu", turn_timeout_s=10.0)
        flooded: list[int] = []

        async def flood() -> None:
            if flooded:
                return None
            channel = caller._ws
            assert channel is not None
            for _ in range(MAX_DROPPED * 3):
                await channel.send_str(json.dumps({"type": "ping"}))
            flooded.append(1)
            return None

        report = await caller.converse(flood, hang_up=False)
        assert flooded and report.ended_by_agent
        pongs = [e for e in report.events if e.get("type") == "pong"]
        assert 0 < len(pongs) < MAX_DROPPED  # most were dropped unread
        detail = await finished_call(stack, report.call_id)
        assert detail.record.outcome == "protocol_error", detail.record
