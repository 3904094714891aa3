"""The SIP parser, SDP offer/answer, digest authentication and RTP packets, on text and bytes
(fast, no sockets). Expected values come from the RFCs, not from the code under test."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest

from callwright.audio.alaw import alaw_decode, alaw_encode
from callwright.sip.digest import (
    MAX_DIGEST_CHARS,
    DigestChallenger,
    authorization,
    digest_response,
    parse_digest,
)
from callwright.sip.message import (
    MAX_HEADER_PARAMS,
    MAX_MESSAGE_BYTES,
    SipParseError,
    address_uri,
    header_params,
    parse_message,
    response_to,
    uri_user_host,
)
from callwright.sip.sdp import SdpError, answer_sdp, parse_offer
from callwright.sip.transaction import response_address
from callwright.transports.base import AudioIn, DtmfIn, InboundEvent
from callwright.transports.rtp import RtpPeer, RtpStream, parse_rtp

INVITE = (
    "INVITE sip:agent@192.0.2.10 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    'f: "Alice" <sip:+15551234567@example.com>;tag=1928301774\r\n'
    "To: <sip:agent@192.0.2.10>\r\n"
    "i: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@198.51.100.7:5060>\r\n"
    "Subject: folded\r\n  continuation\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {length}\r\n\r\n"
)
OFFER = (
    "v=0\r\no=alice 2890844526 2890844526 IN IP4 198.51.100.7\r\ns=-\r\n"
    "c=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 49170 RTP/AVP 18 8 0 101\r\n"
    "a=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
)


def invite(body: str = OFFER, **replace: str) -> bytes:
    text = INVITE.format(length=len(body.encode())) + body
    for old, new in replace.items():
        text = text.replace(old, new)
    return text.encode()


def test_an_invite_parses_with_compact_and_folded_headers() -> None:
    msg = parse_message(invite())
    assert (msg.method, msg.uri) == ("INVITE", "sip:agent@192.0.2.10")
    assert msg.call_id == "a84b4c76e66710@pc33.example.com"
    assert msg.cseq == (314159, "INVITE")
    assert header_params(msg.get("from") or "")["tag"] == "1928301774"
    assert address_uri(msg.get("from") or "") == "sip:+15551234567@example.com"
    assert uri_user_host("sip:+15551234567@example.com:5080;user=phone") == (
        "+15551234567",
        "example.com",
        5080,
    )
    assert msg.get("subject") == "folded continuation"
    assert msg.body == OFFER.encode()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"hello world", 400),
        (invite().replace(b"CSeq: 314159 INVITE", b"CSeq: x INVITE"), 400),
        (invite().replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"), 400),
        (invite().replace(b"i: a84b4c76e66710@pc33.example.com\r\n", b""), 400),
        (invite().replace(b"Content-Length: 256", b"Content-Length: 9999"), 400),
        (invite().replace(b"Max-Forwards: 70", b"Max Forwards 70"), 400),
        (b"GARBAGE\r\n\r\n", 0),
        (invite() + b"x" * MAX_MESSAGE_BYTES, 513),
        # Digits `int` refuses though `str.isdigit` takes them: a clear 400, not a ValueError.
        (invite().replace(b"CSeq: 314159", "CSeq: 31415²".encode()), 400),
        (invite().replace(b"Content-Length: 256", "Content-Length: 25⁶".encode()), 400),
        # A lone LF or CR, or an ESC, in a value: echoed, it adds header or log lines.
        (invite().replace(b"pc33.example.com", b"pc33\nX-Injected: yes"), 400),
        (invite().replace(b"pc33.example.com", b"pc33\rX-Injected: yes"), 400),
        (invite().replace(b"Max-Forwards: 70", b"Max-Forwards: 70\x1b[2K"), 400),
    ],
)
def test_malformed_and_oversized_messages_are_refused_with_a_status(
    data: bytes, status: int
) -> None:
    assert len(OFFER.encode()) == 256  # the replaced Content-Length above
    with pytest.raises(SipParseError) as err:
        parse_message(data)
    assert err.value.status == status


def test_only_the_first_parameters_of_a_header_are_read() -> None:
    """Reading thousands of parameters a stranger packs into one Via cost milliseconds of the
    event loop a datagram: only the first MAX_HEADER_PARAMS are read."""
    flood = "".join(f";p{n}={n}" for n in range(4000))
    params = header_params(f"SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKx{flood}")
    assert len(params) == MAX_HEADER_PARAMS and params["branch"] == "z9hG4bKx"


def test_ports_in_other_scripts_digits_are_no_ports() -> None:
    assert uri_user_host("sip:alice@198.51.100.7:5²60") == ("alice", "198.51.100.7", None)
    assert uri_user_host("sip:alice@198.51.100.7:5060") == ("alice", "198.51.100.7", 5060)
    request = parse_message(
        invite()
        .replace(b"198.51.100.7:5060;branch", "198.51.100.7:5²60;branch".encode())
        .replace(b";rport", b"")
    )
    assert response_address(request, ("198.51.100.7", 5070)) == ("198.51.100.7", 5060)


def test_a_response_copies_the_transaction_headers_and_adds_our_tag() -> None:
    msg = parse_message(invite())
    text = response_to(msg, 180, "Ringing", "abc").to_bytes().decode()
    assert text.startswith("SIP/2.0 180 Ringing\r\n")
    assert "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK776asdhds;rport\r\n" in text
    assert "To: <sip:agent@192.0.2.10>;tag=abc\r\n" in text
    assert "CSeq: 314159 INVITE\r\n" in text and text.endswith("Content-Length: 0\r\n\r\n")


def test_sdp_takes_the_first_codec_we_support_and_answers_only_it() -> None:
    offer = parse_offer(OFFER.encode())
    assert (offer.host, offer.port, offer.codec, offer.payload_type) == (
        "198.51.100.7",
        49170,
        "PCMA",
        8,
    )
    assert offer.dtmf_payload == 101
    answer = answer_sdp(offer, "192.0.2.10", 40000, 40001, 1, 1).decode()
    assert "m=audio 40000 RTP/AVP 8 101\r\n" in answer
    assert "c=IN IP4 192.0.2.10\r\n" in answer and "a=rtpmap:8 PCMA/8000" in answer


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (OFFER.replace("18 8 0 101", "18 101"), 488),  # G.729 only: no common codec
        (OFFER.replace("m=audio", "m=video"), 488),
        (OFFER.replace("c=IN IP4 198.51.100.7", "c=IN IP4 host.example"), 488),
        (OFFER.replace("49170", "99999"), 400),
        (OFFER.replace("v=0", "x"), 400),
        ("v=0\r\nm=audio 1 RTP/AVP 0\r\n", 400),  # no connection address
        (OFFER.replace("RTP/AVP", "RTP/SAVP"), 488),
        (OFFER.replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:8 PCMA/8000\r\x1b[1A"), 400),
    ],
)
def test_unusable_sdp_is_refused_with_the_right_status(body: str, status: int) -> None:
    with pytest.raises(SdpError) as err:
        parse_offer(body.encode())
    assert err.value.status == status


def test_digest_matches_rfc_2617_and_our_challenges_check_credentials() -> None:
    # RFC 2617 section 3.5's worked example.
    assert (
        digest_response(
            "MD5",
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "auth",
            "00000001",
            "0a4f113b",
        )
        == "6629fae49393a05397450978507c4ef1"
    )
    now = [1000.0]
    challenger = DigestChallenger("pbx", {"alice": "s3cret"}, nonce_ttl_s=60, clock=lambda: now[0])
    challenge = challenger.challenge()
    good = authorization(challenge, "INVITE", "sip:agent@pbx", "alice", "s3cret")
    assert challenger.check(good, "INVITE").user == "alice"
    assert challenger.check(good, "BYE").user is None  # the method is part of the hash
    bad = authorization(challenge, "INVITE", "sip:agent@pbx", "alice", "guess")
    assert challenger.check(bad, "INVITE").problem == "wrong password"
    forged = good.replace(parse_digest(good)["nonce"], "5f5e100.00000000000000000000000000000000")
    assert challenger.check(forged, "INVITE").problem == "a nonce we did not issue"
    now[0] += 61
    assert challenger.check(good, "INVITE").stale


def test_digest_credentials_a_stranger_pads_are_refused_unparsed_and_padding_hides_nothing() -> (
    None
):
    challenger = DigestChallenger("pbx", {"alice": "s3cret"})
    good = authorization(challenger.challenge(), "INVITE", "sip:agent@pbx", "alice", "s3cret")
    # A run of name characters with no "=" (the shape that made an unanchored pattern scan
    # it again from every position) before real parameters: the parameters are still found.
    padded = good.replace("Digest ", "Digest " + "a" * 1000 + " ", 1)
    assert len(padded) <= MAX_DIGEST_CHARS
    assert parse_digest(padded)["username"] == "alice"
    assert challenger.check(padded, "INVITE").user == "alice"
    # Longer than any real credentials: refused without being parsed.
    oversized = good + ", x=" + "a" * MAX_DIGEST_CHARS
    assert parse_digest(oversized) == {}
    assert challenger.check(oversized, "INVITE").user is None
    assert challenger.check("Digest " + "a" * 8000, "INVITE").user is None


def rtp(pt: int, seq: int, stamp: int, payload: bytes, ssrc: int = 0x1234) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, stamp, ssrc) + payload


def test_rtp_parsing_and_g711_a_law_reference_values() -> None:
    packet = rtp(0, 65535, 4294967200, b"\xff" * 160)
    assert parse_rtp(packet) == (0, 65535, 4294967200, 0x1234, False, b"\xff" * 160)
    assert parse_rtp(b"\x40" + packet[1:]) is None  # version 1
    # G.711 A-law: 0xD5 is +8 and 0x55 is -8 (the smallest steps), 0xAA is +32256.
    assert alaw_decode(b"\xd5\x55\xaa").tolist() == [8, -8, 32256]
    assert alaw_encode(np.array([0, -1, 32767], np.int16)) == b"\xd5\x55\xaa"


async def test_rtp_from_the_wrong_address_never_reaches_the_call_and_keys_are_read() -> None:
    events: list[InboundEvent] = []
    stream = RtpStream(events.append)
    stream.start(RtpPeer("192.0.2.1", 4000, "PCMU", 0, 101))
    stream.datagram_received(rtp(0, 1, 0, b"\xff" * 160), ("192.0.2.66", 4000))
    stream.datagram_received(rtp(0, 1, 0, b"\xff" * 160), ("192.0.2.1", 4001))
    assert events == [] and stream.stats.wrong_source == 2
    # Wrapping sequence numbers and timestamps stay in order on one timeline.
    stream.datagram_received(rtp(0, 65535, 4294967136, b"\xff" * 160), ("192.0.2.1", 4000))
    stream.datagram_received(rtp(0, 0, 0, b"\xff" * 160), ("192.0.2.1", 4000))
    stream.datagram_received(rtp(9, 1, 160, b"\xff" * 160), ("192.0.2.1", 4000))  # not ours
    # RFC 4733: key 5, three end packets with the same timestamp: one key.
    for end in (0x00, 0x80, 0x80, 0x80):
        stream.datagram_received(
            rtp(101, 2, 320, bytes([5, end | 10, 0, 160])), ("192.0.2.1", 4000)
        )
    stream.close()
    audio = [e.frame.timestamp_ms for e in events if isinstance(e, AudioIn)]
    assert audio == [0.0, 20.0]
    assert [e.digit for e in events if isinstance(e, DtmfIn)] == ["5"]
    assert stream.stats.bad == 1


def options(port: int, branch: str) -> bytes:
    return (
        f"OPTIONS sip:agent@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{branch};rport\r\n"
        "From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:agent@127.0.0.1>\r\n"
        f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def test_a_flood_from_one_address_is_dropped_and_others_are_still_answered() -> None:
    import asyncio
    import socket

    from callwright.sip.settings import SipSettings
    from callwright.sip.ua import InviteServer, SipUserAgent

    async def no_calls(invite: InviteServer) -> None:
        raise AssertionError("no INVITE expected")

    ua = SipUserAgent(SipSettings(enabled=True, port=0, requests_per_s=20), no_calls)
    await ua.start()
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        flood.bind(("127.0.0.1", 0))
        other.bind(("127.0.0.2", 0))  # another address on loopback
        for n in range(300):
            flood.sendto(options(ua.port, f"f{n}"), ("127.0.0.1", ua.port))
            if n % 25 == 0:
                # Let the loop read: this is about the limiter, not the kernel's socket buffer.
                await asyncio.sleep(0.001)
        other.sendto(options(ua.port, "other"), ("127.0.0.1", ua.port))
        other.settimeout(0.0)
        flood.settimeout(0.0)
        answered_other = b""
        for _ in range(100):
            await asyncio.sleep(0.02)
            try:
                answered_other = other.recv(4096)
                break
            except BlockingIOError:
                continue
        assert answered_other.startswith(b"SIP/2.0 200 OK")
        answered_flood = 0
        while True:
            try:
                flood.recv(4096)
                answered_flood += 1
            except BlockingIOError:
                break
        # A burst of twice the rate is answered; the rest were dropped unread.
        assert 40 <= answered_flood < 60 and ua._limit.dropped >= 240
    finally:
        flood.close()
        other.close()
        ua.close()


def test_only_a_response_that_may_set_up_a_dialog_carries_the_record_route() -> None:
    routed = invite(**{"Max-Forwards: 70\r\n": "Max-Forwards: 70\r\nRecord-Route: <sip:p1;lr>\r\n"})
    request = parse_message(routed)
    assert response_to(request, 180, "Ringing").get("record-route") == "<sip:p1;lr>"
    assert response_to(request, 200, "OK").get("record-route") == "<sip:p1;lr>"
    for status in (100, 401, 403, 486):  # RFC 3261 12.1.1: only 101-299 set up a dialog
        response = response_to(request, status, "x")
        assert response.get("record-route") is None
        assert response.get("via") == request.get("via")


async def test_a_refused_invite_from_a_stranger_is_answered_once_and_never_with_more_bytes() -> (
    None
):
    import asyncio
    import socket

    from aiohttp import web

    from callwright.server.sip import SipServer
    from callwright.sip.settings import SipSettings
    from callwright.sip.transaction import T1

    # Digest users, so an INVITE without credentials is challenged (401); the stack is never
    # reached by a request that does not authenticate.
    settings = SipSettings(enabled=True, port=0, users={"alice": "s3cret"})
    server = SipServer(web.Application(), None, settings)  # type: ignore[arg-type]
    await server.start()
    victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        victim.bind(("127.0.0.1", 0))
        victim.settimeout(0.0)
        port = victim.getsockname()[1]
        # As large as a request may be: Record-Route headers a response could copy back.
        route = ",".join(f"<sip:proxy{n}.example.com;lr>" for n in range(60))
        padding = "".join(f"Record-Route: {route}\r\n" for _ in range(3))
        via = "198.51.100.7:5060;branch=z9hG4bK776asdhds;rport"
        request = invite(
            **{
                via: f"127.0.0.1:{port};branch=z9hG4bKamp",
                "Max-Forwards: 70\r\n": "Max-Forwards: 70\r\n" + padding,
            }
        )
        victim.sendto(request, ("127.0.0.1", server.ua.port))
        received: list[bytes] = []
        # Timer G would retransmit a final answer after T1, 2 T1, 4 T1...: wait past two.
        for _ in range(int(3.5 * T1 / 0.05)):
            await asyncio.sleep(0.05)
            while True:
                try:
                    received.append(victim.recv(65535))
                except BlockingIOError:
                    break
        statuses = [parse_message(data).status for data in received]
        assert statuses == [401]  # no 100 Trying to a stranger first: the refusal only
        assert sum(map(len, received)) < len(request)
    finally:
        victim.close()
        await server.close()


async def test_a_request_with_a_control_character_is_not_echoed_in_an_answer() -> None:
    import asyncio
    import contextlib
    import socket

    from aiohttp import web

    from callwright.server.sip import SipServer
    from callwright.sip.settings import SipSettings

    settings = SipSettings(enabled=True, port=0)
    server = SipServer(web.Application(), None, settings)  # type: ignore[arg-type]
    await server.start()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(0.0)
        via = f"127.0.0.1:{peer.getsockname()[1]};branch=z9hG4bKctl"
        sent = {"198.51.100.7:5060;branch=z9hG4bK776asdhds;rport": via}
        for call_id in ("ok1", "o2\nX-Injected: yes"):
            call = b"Call-ID: " + call_id.encode()  # in full (and From): a refusal copies them
            request = invite(**sent).replace(b"i: a84b4c76e66710@pc33.example.com", call)
            request = request.replace(b"\nf: ", b"\nFrom: ")
            request = request.replace(b"INVITE sip:", b"OPTIONS sip:").replace(
                b"314159 INVITE", b"314159 OPTIONS"
            )
            peer.sendto(request, ("127.0.0.1", server.ua.port))
        received: list[bytes] = []
        for _ in range(20):
            await asyncio.sleep(0.05)
            with contextlib.suppress(BlockingIOError):
                received.append(peer.recv(65535))
        # The clean request is answered (the server is there); the other gets no answer at all.
        assert received and all(b"Call-ID: ok1" in data for data in received), received
        assert not any(b"X-Injected" in data for data in received)
    finally:
        peer.close()
        await server.close()


async def test_a_call_that_cannot_be_set_up_is_refused_and_keeps_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure while a call is being set up (here: building our SDP answer) ends in a 500,
    with its RTP sockets closed and no dialog kept, not in an answered call with no session."""
    import asyncio
    import ipaddress
    import socket

    from aiohttp import web

    from callwright.server.sip import CallMedia, SipServer
    from callwright.sip.settings import SipSettings

    def broken(self: CallMedia, offer: object) -> bytes:
        raise RuntimeError("cannot build the answer")

    monkeypatch.setattr(CallMedia, "answer", broken)
    opened: list[RtpStream] = []
    open_media = SipServer.open_media

    async def tracked(self: SipServer) -> CallMedia:
        media = await open_media(self)
        opened.append(media.rtp)
        return media

    monkeypatch.setattr(SipServer, "open_media", tracked)
    allowed = (ipaddress.ip_network("127.0.0.0/8"),)
    settings = SipSettings(enabled=True, port=0, allow_from=allowed)
    server = SipServer(web.Application(), None, settings)  # type: ignore[arg-type]
    await server.start()
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        phone.bind(("127.0.0.1", 0))
        phone.settimeout(0.0)
        via = "198.51.100.7:5060;branch=z9hG4bK776asdhds;rport"
        phone.sendto(
            invite(**{via: f"127.0.0.1:{phone.getsockname()[1]};branch=z9hG4bKsetup"}),
            ("127.0.0.1", server.ua.port),
        )
        statuses: list[int] = []
        for _ in range(100):
            await asyncio.sleep(0.02)
            try:
                statuses.append(parse_message(phone.recv(65535)).status)
            except BlockingIOError:
                continue
            if statuses[-1] >= 200:
                break
        assert statuses[-1:] == [500]
        assert server.ua.dialogs == 0 and server.answered == 0
        assert len(opened) == 1
        sockets = [opened[0]._transport, opened[0]._rtcp]
        assert all(t is not None and t.is_closing() for t in sockets)
    finally:
        phone.close()
        await server.close()


def in_dialog(method: str, port: int, call_id: str, branch: str) -> bytes:
    return (
        f"{method} sip:agent@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{branch};rport\r\n"
        "From: <sip:alice@198.51.100.7>;tag=theirs\r\nTo: <sip:agent@127.0.0.1>;tag=ours\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 2 {method}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def test_requests_in_a_dialog_come_only_from_its_peer() -> None:
    """Whoever learned a call's Call-ID and tags could move its media with a re-INVITE: a
    request in a dialog from an address that is not the peer's (nor on the allow-list) is
    refused; the peer's own is answered."""
    import asyncio
    import socket

    from aiohttp import web

    from callwright.server.sip import SipServer
    from callwright.sip.dialog import SipDialog
    from callwright.sip.settings import SipSettings

    settings = SipSettings(enabled=True, port=0, users={"alice": "s3cret"})  # no allow-list
    server = SipServer(web.Application(), None, settings)  # type: ignore[arg-type]
    await server.start()
    ua = server.ua
    dialogs = {}
    for call_id, peer in (("far", "198.51.100.7"), ("near", "127.0.0.1")):
        dialog = SipDialog(ua, call_id, local="<sip:agent@127.0.0.1>;tag=ours",
                           remote="<sip:alice@198.51.100.7>;tag=theirs",
                           remote_target="sip:alice@198.51.100.7:5060", route_set=[])  # fmt: skip
        dialog.trust(peer)
        ua.add_dialog(dialog)
        dialogs[call_id] = dialog
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.0)
        statuses = {}
        for call_id in dialogs:
            sock.sendto(in_dialog("BYE", ua.port, call_id, call_id), ("127.0.0.1", ua.port))
            for _ in range(100):
                await asyncio.sleep(0.02)
                try:
                    statuses[call_id] = parse_message(sock.recv(65535)).status
                    break
                except BlockingIOError:
                    continue
        assert statuses == {"far": 403, "near": 200}
        assert not dialogs["far"].ended.is_set() and dialogs["near"].ended.is_set()
    finally:
        sock.close()
        await server.close()


@pytest.mark.parametrize(
    ("connection", "status"),
    [("c=IN IP4 224.0.0.9", 488), ("c=IN IP4 255.255.255.255", 488), ("c=IN IP4 169.254.1.1", 488)],
)
def test_media_goes_to_one_peer_never_to_a_group(connection: str, status: int) -> None:
    with pytest.raises(SdpError) as err:
        parse_offer(OFFER.replace("c=IN IP4 198.51.100.7", connection).encode())
    assert err.value.status == status


def test_the_loopback_takes_media_only_from_a_peer_on_it() -> None:
    from callwright.server.sip import media_address_allowed

    with pytest.raises(SdpError):
        media_address_allowed("127.0.0.1", "198.51.100.7")
    media_address_allowed("127.0.0.1", "127.0.0.1")  # a peer on this host: its own loopback
    media_address_allowed("198.51.100.7", "198.51.100.7")


async def test_nothing_is_sent_on_hold_and_no_report_to_a_well_known_port() -> None:
    """A peer on hold (a=inactive, a=sendonly, or the old c=0.0.0.0) gets no audio; reports
    never go to port 0 + 1 or a well-known port an offer names."""
    import socket

    from callwright.server.sip import rtp_peer

    victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    victim.bind(("127.0.0.1", 0))
    victim.settimeout(0.0)
    port = victim.getsockname()[1]
    stream = RtpStream(lambda _event: None)
    await stream.open("127.0.0.1")
    audio = np.zeros(160, dtype=np.int16)
    received = []
    try:
        for direction in ("inactive", "sendonly", "sendrecv"):
            body = OFFER.replace("c=IN IP4 198.51.100.7", "c=IN IP4 127.0.0.1")
            body = body.replace("m=audio 49170", f"m=audio {port}")
            body += f"a={direction}\r\n"
            stream.start(rtp_peer(parse_offer(body.encode())))
            stream.send(audio)
            await asyncio.sleep(0.05)
            try:
                received.append((direction, len(victim.recv(2048))))
            except BlockingIOError:
                received.append((direction, 0))
        assert [d for d, n in received if n] == ["sendrecv"]
        held = parse_offer(OFFER.replace("c=IN IP4 198.51.100.7", "c=IN IP4 0.0.0.0").encode())
        assert not rtp_peer(held).reachable and rtp_peer(held).report_port is None
        low = parse_offer((OFFER + "a=rtcp:9\r\n").encode())
        assert low.rtcp_port is None and rtp_peer(low).report_port == 49171
        rejected = parse_offer(OFFER.replace("m=audio 49170", "m=audio 0").encode())
        assert rtp_peer(rejected).report_port is None
    finally:
        stream.close()
        victim.close()


def test_a_dialog_with_a_hop_known_by_name_checks_no_address() -> None:
    """A proxy reached by name cannot be told by its address: its BYE is not refused."""
    from callwright.sip.dialog import SipDialog

    def dialog(route: list[str]) -> SipDialog:
        made = SipDialog(None, "c", local="<sip:a@127.0.0.1>;tag=o", remote="<sip:b@x>;tag=t",  # type: ignore[arg-type]
                         remote_target="sip:bob@198.51.100.7:5060", route_set=route)  # fmt: skip
        made.trust("203.0.113.5")
        return made

    by_address = dialog(["sip:192.0.2.9;lr"])
    assert by_address.trusted("192.0.2.9") and by_address.trusted("203.0.113.5")
    assert by_address.trusted("198.51.100.7") and not by_address.trusted("198.51.100.66")
    by_name = dialog(["sip:proxy.example.com;lr"])
    assert by_name.trusted("198.51.100.66")


def test_each_source_has_its_own_pace_and_the_oldest_are_forgotten() -> None:
    from callwright.sip.transaction import SourceLimit

    limit = SourceLimit(rate=5.0, max_sources=2)
    assert [limit.allow("198.51.100.7") for _ in range(11)] == [True] * 10 + [False]
    assert limit.allow("198.51.100.8") and limit.dropped == 1  # another source: its own burst
    limit.allow("198.51.100.9")  # a third: the first, heard longest ago, is forgotten
    assert limit.allow("198.51.100.7")  # (a fresh burst: at most 2 sources are remembered)
