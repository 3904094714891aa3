"""WebRTC calls: offer checks (text), refusals over HTTP, and spoken calls from an aiortc peer.

The offers come from a real aiortc peer connection (what an app would send), and the bad ones
are edits of it, so each refusal is about exactly one thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

from callwright.agent.stack import AgentStack
from callwright.audio.mulaw import mulaw_encode
from callwright.audio.resample import resample
from callwright.config import LimitSettings
from callwright.flows.slots import extract_date
from callwright.server.app import create_app
from callwright.server.webrtc import MAX_UNCONNECTED_PER_CREDENTIAL, WEBRTC
from callwright.sim.caller import ScriptLine
from callwright.sim.voices import VoiceAsTts, parse_voice
from callwright.sim.webrtc_caller import MicrophoneTrack, OfferRefused, WebRtcCallerSimulator
from callwright.transports.webrtc import WebRtcTransport
from callwright.transports.webrtc_sdp import OfferProblem, check_offer
from examples.clinic.factory import ClinicResponderFactory
from examples.clinic.front_desk import CLINIC_FACTS
from tests.conftest import (
    ADMIN_HEADERS,
    brief_clinic,
    finished_call,
    provision_operators,
    serving,
    word_overlap,
)

CALLER = VoiceAsTts(parse_voice("espeak:en-us@160"))
PHONE_CALLER = VoiceAsTts(parse_voice("festival:slt_hts"))  # clearer than espeak at 8 kHz
QUESTION = "What are your opening hours?"


@contextlib.asynccontextmanager
async def webrtc_server(
    stack: AgentStack, per_address: int | None = None
) -> AsyncIterator[tuple[web.Application, str]]:
    """A server of its own on a free port (its app, to look at its calls), and its base URL."""
    await provision_operators(stack.store)
    limits = LimitSettings(max_calls=None, max_calls_per_address=per_address)
    app = create_app(stack, limits=limits)
    async with serving(app) as base:
        yield app, base


async def app_offer(codecs: tuple[str, ...] = ("opus", "pcmu"), data: bool = True) -> str:
    """A real offer from an aiortc peer (audio with `codecs`, a data channel)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver(MicrophoneTrack(16000), direction="sendrecv")
        caps = RTCRtpSender.getCapabilities("audio").codecs
        wanted = [f"audio/{c}" for c in codecs]
        transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() in wanted])
        if data:
            pc.createDataChannel("control")
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


def with_only_codec(sdp: str, name: str, rate: int) -> str:
    """The offer with its audio codecs replaced by one the server does not carry."""
    lines = sdp.split("\r\n")
    out = []
    for line in lines:
        if line.startswith("m=audio"):
            parts = line.split(" ")
            line = " ".join([*parts[:3], "96"])
        elif line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")):
            continue
        out.append(line)
        if line.startswith("m=audio"):
            out.append(f"a=rtpmap:96 {name}/{rate}")
    return "\r\n".join(out)


# --- the offer, as text ----------------------------------------------------------------------


async def test_a_real_offer_passes_with_both_codecs_in_our_order() -> None:
    checked = check_offer(await app_offer(("pcmu", "opus")))
    assert checked.codecs == ("opus", "pcmu")
    assert checked.data_channel


@pytest.mark.parametrize(
    ("sdp", "code"),
    [
        (None, "bad_sdp"),
        ("", "bad_sdp"),
        ("hello, this is not SDP", "bad_sdp"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n", "bad_sdp"),
        ("v=0\r\n" + "a=x\r\n" * 10000, "bad_sdp"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no_audio"),
    ],
)
def test_malformed_offers_are_refused_with_a_reason(sdp: Any, code: str) -> None:
    with pytest.raises(OfferProblem) as refused:
        check_offer(sdp)
    assert refused.value.code == code


async def test_offers_without_audio_or_with_unknown_codecs_only() -> None:
    offer = await app_offer()
    with pytest.raises(OfferProblem) as refused:
        check_offer(with_only_codec(offer, "AMR-WB", 16000))
    assert refused.value.code == "no_common_codec"
    assert "AMR-WB/16000" in str(refused.value)
    no_audio = re.sub(r"m=audio (\d+)", "m=audio 0", offer)  # the audio m-line rejected
    with pytest.raises(OfferProblem) as refused:
        check_offer(no_audio)
    assert refused.value.code == "no_audio"
    audio_section = offer[offer.index("m=audio") :].split("m=application")[0]
    with pytest.raises(OfferProblem) as refused:
        check_offer(offer + audio_section * 8)  # m-lines by the dozen, each its own sockets
    assert refused.value.code == "bad_sdp" and "m-lines" in str(refused.value)
    without_ice = re.sub(r"a=ice-(ufrag|pwd):[^\r]*\r\n", "", offer)
    with pytest.raises(OfferProblem) as refused:
        check_offer(without_ice)
    assert refused.value.code == "bad_sdp"


# --- the endpoint ------------------------------------------------------------------------------


async def test_bad_offers_get_a_400_and_a_rejected_record(stack: AgentStack) -> None:
    offer = await app_offer()
    cases = [
        ({"type": "offer", "sdp": "garbage"}, "bad_sdp"),
        ({"type": "offer", "sdp": with_only_codec(offer, "G729", 8000)}, "no_common_codec"),
        ({"type": "answer", "sdp": offer}, "bad_request"),
        ({"type": "offer", "sdp": offer, "parameters": ["x"]}, "bad_request"),
    ]
    async with webrtc_server(stack) as (app, base):
        async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
            for body, code in cases:
                async with http.post(f"{base}/v1/webrtc/offer", json=body) as response:
                    assert response.status == 400, body
                    assert (await response.json())["error"] == code
            async with http.post(f"{base}/v1/webrtc/offer", data=b"{not json") as response:
                assert response.status == 400
        # Without a credential the offer never reaches the code that answers it.
        async with (
            aiohttp.ClientSession() as anonymous,
            anonymous.post(f"{base}/v1/webrtc/offer", json={"type": "offer", "sdp": offer}) as r,
        ):
            assert r.status == 401
        assert not app[WEBRTC].transports and not app[WEBRTC].tasks
    calls = await stack.store.list_calls(limit=200)
    reasons = [str(c.end_reason).split(":")[0] for c in calls if c.channel == "webrtc"]
    assert {"bad_sdp", "no_common_codec", "bad_request"} <= set(reasons)


# --- spoken calls ------------------------------------------------------------------------------


async def test_pcmu_call_keys_admission_and_a_closed_peer_connection(stack: AgentStack) -> None:
    async with webrtc_server(stack, per_address=1) as (app, base):
        caller = WebRtcCallerSimulator(base, CALLER, codec="pcmu")
        second: list[int] = []

        async def press_then_try_a_second_call() -> ScriptLine | None:
            if second:
                return None
            # This address already holds its one call: a second offer is turned away.
            with pytest.raises(OfferRefused) as refused:
                await WebRtcCallerSimulator(base, CALLER)._post_offer(await app_offer())
            second.append(refused.value.status)
            assert '"too_many_connections"' in refused.value.body
            return ScriptLine("5", keys="5", expect_reply=False)

        report = await caller.converse(press_then_try_a_second_call)
        assert second == [503]
        assert caller.answer["codec"] == "pcmu"
        assert re.search(r"a=rtpmap:0 PCMU/8000", caller.answer["sdp"])
        assert "opus" not in caller.answer["sdp"].lower()
        assert sum(a.size for a in report.greeting_audio) > 16000  # over a second of speech
        detail = await finished_call(stack, report.call_id)
        assert detail.record.channel == "webrtc"
        assert [e.data["digit"] for e in detail.events if e.kind == "dtmf"] == ["5"]
        greeting = next(u.text for u in detail.utterances if u.role == "agent")
        assert greeting == CLINIC_FACTS["greeting"]
        # The call is over: its task finished and its peer connection is closed.
        for _ in range(50):
            if not app[WEBRTC].tasks:
                break
            await asyncio.sleep(0.1)
        assert not app[WEBRTC].tasks and not app[WEBRTC].transports


@pytest.fixture(scope="module")
async def clinic(
    stack: AgentStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AgentStack]:
    """The process's models with this module's own clinic (its database, a one-word greeting),
    for the calls that do not check the greeting."""
    async with brief_clinic(stack, tmp_path_factory.mktemp("webrtc-clinic")) as own:
        yield own


async def test_a_spoken_booking_over_webrtc(clinic: AgentStack) -> None:
    stack = clinic
    async with webrtc_server(stack) as (_, base):
        caller = WebRtcCallerSimulator(base, CALLER, turn_timeout_s=30.0, trim=False)
        report = await caller.run(
            [
                ScriptLine("I would like to book an appointment with Doctor Patel."),
                ScriptLine(
                    "My name is Sarah Thompson and I was born on October first, two thousand."
                ),
                ScriptLine("Please make it Friday at three in the afternoon."),
                ScriptLine("Yes, that is correct."),
                ScriptLine("Thank you, goodbye."),
            ],
            hang_up=False,
        )
    assert caller.answer["codec"] == "opus"
    factory = stack.responders
    assert isinstance(factory, ClinicResponderFactory)
    friday = extract_date("Friday", dt.date.today())
    assert friday is not None
    detail = await finished_call(stack, report.call_id)
    said = "\n".join(f"{u.role}: {u.text}" for u in detail.utterances)
    appointments = await factory.data.store.appointments("pat_sarah")
    booked = [(a.doctor_id, a.start, a.status) for a in appointments]
    assert ("patel", dt.datetime.combine(friday, dt.time(15, 0)), "booked") in booked, said
    assert detail.record.channel == "webrtc"
    assert report.ended_by_agent and detail.record.outcome == "completed"
    # Every reply reached the caller as audio over the peer connection.
    assert all(t.ttfa_ms is not None and t.agent_audio for t in report.turns[:4])
    assert len([t for t in detail.timelines if t.turn_index > 0]) >= 4


def host_candidates(sdp: str) -> list[tuple[str, int]]:
    """The UDP host candidates an answer names (where its ICE agent listens)."""
    found = re.findall(r"a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host", sdp, re.I)
    return [(host, int(port)) for host, port in found if ":" not in host]


async def send_stray_packets(targets: list[tuple[str, int]], speech: np.ndarray) -> int:
    """From an address that is no peer: RTP carrying PCMU speech (the call's codec), and
    garbage, to every port of the server's ICE agent, in real time; how many were sent."""
    payload = mulaw_encode(resample(speech, 16000, 8000).astype(np.int16))
    rng = np.random.default_rng(3)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for seq in range(len(payload) // 160):
            rtp = (
                struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0x5EED)
                + payload[seq * 160 : (seq + 1) * 160]
            )
            for target in targets:
                for datagram in (rtp, rng.bytes(200), bytes([22]) + rng.bytes(60)):
                    with contextlib.suppress(OSError):
                        sock.sendto(datagram, target)
                        sent += 1
            await asyncio.sleep(0.02)
    return sent


async def test_stray_packets_and_a_burst_of_offers_leave_a_call_undisturbed(
    clinic: AgentStack,
) -> None:
    stack = clinic
    # A stranger sends RTP with speech the call's decoder would understand, to the ports of
    # the call's ICE agent, and a burst of bad and surplus offers arrives; the call goes on and
    # hears only its own caller.
    stray = await PHONE_CALLER.synthesize("Please cancel all of my appointments.").__anext__()
    async with webrtc_server(stack, per_address=1) as (app, base):
        caller = WebRtcCallerSimulator(base, PHONE_CALLER, codec="pcmu", turn_timeout_s=30.0)
        statuses: list[int] = []

        async def hostile_traffic_then_ask() -> ScriptLine | None:
            if statuses:
                return None
            targets = host_candidates(caller.answer["sdp"])
            assert targets, caller.answer["sdp"]
            offer = await app_offer()
            bodies = [{"type": "offer", "sdp": "garbage"}] * 5 + [
                {"type": "offer", "sdp": offer}
            ] * 5
            async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:

                async def post(body: dict[str, Any]) -> int:
                    async with http.post(f"{base}/v1/webrtc/offer", json=body) as response:
                        return response.status

                sent, *codes = await asyncio.gather(
                    send_stray_packets(targets, stray), *(post(b) for b in bodies)
                )
            statuses.extend(codes)
            assert sent > 0 and len(app[WEBRTC].tasks) == 1
            return ScriptLine(QUESTION)

        report = await caller.converse(hostile_traffic_then_ask)
    # Malformed offers: 400; good ones over this address's one call: 503.
    assert sorted(statuses) == [400] * 5 + [503] * 5
    detail = await finished_call(stack, report.call_id)
    caller_lines = [u.text for u in detail.utterances if u.role == "caller"]
    # One caller turn: the caller's own question (Whisper may miss a word of it at 8 kHz),
    # never the stranger's words; and the agent answered it.
    assert len(caller_lines) == 1, caller_lines
    assert word_overlap(QUESTION, caller_lines[0]) >= 0.6, caller_lines
    assert "cancel" not in caller_lines[0].lower(), caller_lines
    assert len([u for u in detail.utterances if u.role == "agent"]) >= 2


async def test_the_offers_candidates_are_never_probed() -> None:
    """An offer may name any host and port as its candidates (loopback, the internal network):
    they are removed before it is answered, so the server sends no check to any of them."""
    offer = await app_offer()
    planted = "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"
    lines = offer.split("\r\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("m=audio")) + 1
    hostile = "\r\n".join([*lines[:at], planted, "a=end-of-candidates", *lines[at:]])
    checked = check_offer(hostile)
    assert "a=candidate" not in checked.sdp and "end-of-candidates" not in checked.sdp
    # Everything else of the offer is kept, line for line.
    kept = [
        line for line in hostile.split("\r\n") if not line.startswith(("a=candidate", "a=end-of"))
    ]
    assert checked.sdp.split("\r\n") == kept


async def test_one_credential_cannot_hold_every_line_with_offers_that_never_connect(
    stack: AgentStack,
) -> None:
    """Each answered offer holds a line until it connects (up to 30 s): one credential's
    offers, never connected, are capped, so they cannot keep the worker's lines busy."""
    async with webrtc_server(stack) as (app, base):
        offers = [await app_offer() for _ in range(MAX_UNCONNECTED_PER_CREDENTIAL + 2)]
        async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
            statuses = []
            for offer in offers:  # answered, then never connected: no peer answers back
                body = {"type": "offer", "sdp": offer}
                async with http.post(f"{base}/v1/webrtc/offer", json=body) as response:
                    statuses.append(response.status)
                    refused = await response.json()
        assert statuses == [200] * MAX_UNCONNECTED_PER_CREDENTIAL + [429, 429]
        assert refused["error"] == "too_many_offers"
        assert sum(app[WEBRTC].unconnected.values()) == MAX_UNCONNECTED_PER_CREDENTIAL


# --- the outgoing track ----------------------------------------------------------------------


async def test_the_agent_track_paces_frames_and_counts_only_what_it_released() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transport = WebRtcTransport(pc, "opus")
    try:
        rate = transport.output_sample_rate
        tone = (8000 * np.sin(np.arange(rate // 2) * 2 * np.pi * 440 / rate)).astype(np.int16)
        for start in range(0, tone.size, rate // 50):  # 500 ms in 20 ms frames, as playout does
            await transport.send_audio(tone[start : start + rate // 50])
        frames = [await transport.track.recv() for _ in range(10)]
        assert {(f.sample_rate, f.samples, f.layout.name) for f in frames} == {(48000, 960, "mono")}
        assert [f.pts for f in frames] == [960 * i for i in range(10)]
        played = transport.confirmed_played_samples()
        assert played is not None
        # 200 ms released of 500 ms sent: what was heard is about 200 ms (the resampler's
        # start-up delay of a few ms shifts it slightly), never what was only queued.
        assert abs(played - rate // 5) <= rate // 100
        await transport.clear_audio()  # barge-in: the rest is never sent
        after = [await transport.track.recv() for _ in range(3)]
        assert all(not f.to_ndarray().any() for f in after)
        assert transport.confirmed_played_samples() == played
    finally:
        await transport.shutdown()
