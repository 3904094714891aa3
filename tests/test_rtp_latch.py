"""Media latching (symmetric RTP): a caller behind NAT is heard, and hears the agent, at the
address its RTP really comes from, and only when that is the IP its SIP came from.

Real UDP sockets on loopback addresses play the parts: 127.0.0.1 is the private address the
phone's SDP names, 127.0.0.2 its NAT's public address (where its SIP and its RTP come from),
127.0.0.3 a stranger on the internet.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
from aiohttp import web

from callwright.server.sip import CallMedia, SipServer
from callwright.sip.message import parse_message
from callwright.sip.sdp import AudioOffer, parse_offer
from callwright.sip.settings import SipSettings
from callwright.transports.base import AudioIn
from callwright.transports.rtp import RtpStream
from callwright.transports.rtp_peer import MediaLatch, RtpPeer
from tests.conftest import wait_until
from tests.test_sip_text import OFFER, invite, rtp

SDP_HOST, NAT_HOST, STRANGER = "127.0.0.1", "127.0.0.2", "127.0.0.3"
PCMA = 8  # OFFER's first codec we take
SILENCE = np.zeros(160, dtype=np.int16)


def offer(port: int, host: str = SDP_HOST) -> AudioOffer:
    """OFFER naming `host:port` for its audio."""
    body = OFFER.replace("198.51.100.7", host).replace("m=audio 49170", f"m=audio {port}")
    return parse_offer(body.encode())


class Udp:
    """One end's UDP socket on a loopback address."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.0)
        self.address: tuple[str, int] = self.sock.getsockname()
        self.seq = 0

    def speak(self, media: CallMedia, payload_type: int = PCMA) -> None:
        """One 20 ms RTP packet to the agent's side."""
        self.seq += 1
        packet = rtp(payload_type, self.seq, 160 * self.seq, b"\xd5" * 160, ssrc=self.address[1])
        self.sock.sendto(packet, (SDP_HOST, media.rtp_port))

    def heard(self) -> int:
        """How many datagrams arrived since the last look."""
        count = 0
        with contextlib.suppress(BlockingIOError):
            while self.sock.recv(4096):
                count += 1
        return count


@contextlib.contextmanager
def udp(*hosts: str) -> Iterator[list[Udp]]:
    ends = [Udp(host) for host in hosts]
    try:
        yield ends
    finally:
        for end in ends:
            end.sock.close()


@contextlib.asynccontextmanager
async def call_media(signalling: str, latch_media: bool = True) -> AsyncIterator[CallMedia]:
    """A call's media as the SIP server opens it, for a peer whose SIP came from `signalling`."""
    settings = SipSettings(enabled=True, port=0, latch_media=latch_media)
    server = SipServer(web.Application(), None, settings)  # type: ignore[arg-type]
    media = await server.open_media()
    media.peer_source = signalling
    try:
        yield media
    finally:
        media.rtp.close()


def audio_frames(media: CallMedia) -> int:
    count = 0
    while not media.queue.empty():
        count += isinstance(media.queue.get_nowait(), AudioIn)
    return count


async def settle() -> None:
    """Time for datagrams sent to cross the loopback and be read."""
    await asyncio.sleep(0.1)


async def test_rtp_from_the_nat_mapping_of_the_signalling_address_is_heard_and_answered() -> None:
    async with call_media(NAT_HOST) as media:
        with udp(SDP_HOST, NAT_HOST, STRANGER) as (private, mapped, stranger):
            media.answer(offer(private.address[1]))
            stranger.speak(media)  # the right payload type, from a third party's address
            await settle()
            assert media.rtp.stats.wrong_source == 1 and audio_frames(media) == 0
            assert media.rtp.stats.latched == 0
            mapped.speak(media)
            await settle()
            # Heard, and the agent's audio (and its RTCP reports) now go to the mapping.
            assert media.rtp.stats.latched == 1 and audio_frames(media) == 1
            assert media.rtp.peer is not None
            assert (media.rtp.peer.host, media.rtp.peer.port) == mapped.address
            assert media.rtp.peer.report_port == mapped.address[1] + 1
            media.rtp.send(SILENCE)
            await settle()
            assert (mapped.heard(), private.heard()) == (1, 0)
            # Latched once: neither the stranger, nor the SDP's own address, nor another port
            # of the caller's IP moves the media again.
            with udp(NAT_HOST) as (other_port,):
                for end in (stranger, private, other_port):
                    end.speak(media)
                await settle()
            assert media.rtp.stats.latched == 1 and media.rtp.stats.wrong_source == 4
            mapped.speak(media)
            await settle()
            assert audio_frames(media) == 1


async def test_only_a_valid_packet_of_the_call_latches() -> None:
    async with call_media(NAT_HOST) as media:
        with udp(SDP_HOST, NAT_HOST) as (private, mapped):
            media.answer(offer(private.address[1]))
            port = ("127.0.0.1", media.rtp_port)
            mapped.speak(media, payload_type=18)  # G.729: offered, not negotiated
            mapped.sock.sendto(b"\x40" + rtp(PCMA, 1, 0, b"\xd5" * 160)[1:], port)  # version 1
            mapped.sock.sendto(rtp(PCMA, 1, 0, b"\xd5" * 2000), port)  # no phone's packet
            await settle()
            assert media.rtp.stats.wrong_source == 3 and media.rtp.stats.latched == 0
            mapped.speak(media, payload_type=101)  # a key press is the call's too
            await settle()
            assert media.rtp.stats.latched == 1


async def test_an_sdp_naming_the_signalling_address_is_kept_strictly() -> None:
    """A trunk or PBX whose SDP names the address it signals from said where its media is: RTP
    from another port there (another call's stream, a stale one) is dropped, never latched."""
    async with call_media(SDP_HOST) as media:
        with udp(SDP_HOST, SDP_HOST) as (named, other):
            media.answer(offer(named.address[1]))
            other.speak(media)
            named.speak(media)
            await settle()
            assert media.rtp.stats.latched == 0 and media.rtp.stats.wrong_source == 1
            assert audio_frames(media) == 1
            media.rtp.send(SILENCE)
            await settle()
            assert (named.heard(), other.heard()) == (1, 0)


async def test_latching_is_off_when_the_setting_says_so() -> None:
    assert SipSettings.from_env({}).latch_media
    assert not SipSettings.from_env({"CALLWRIGHT_SIP_LATCH_MEDIA": "off"}).latch_media
    with pytest.raises(ValueError, match="CALLWRIGHT_SIP_LATCH_MEDIA"):
        SipSettings.from_env({"CALLWRIGHT_SIP_LATCH_MEDIA": "maybe"})
    async with call_media(NAT_HOST, latch_media=False) as media:
        with udp(SDP_HOST, NAT_HOST) as (private, mapped):
            media.answer(offer(private.address[1]))
            mapped.speak(media)
            await settle()
            assert media.rtp.stats.latched == 0 and media.rtp.stats.wrong_source == 1
            assert audio_frames(media) == 0
            media.rtp.send(SILENCE)
            await settle()
            assert (private.heard(), mapped.heard()) == (1, 0)


async def test_a_reinvite_keeps_the_latch_for_the_same_address_and_resets_it_for_a_new_one() -> (
    None
):
    async with call_media(NAT_HOST) as media:
        with udp(SDP_HOST, NAT_HOST, SDP_HOST, NAT_HOST) as (private, mapped, moved, remapped):
            media.answer(offer(private.address[1]))
            mapped.speak(media)
            await settle()
            assert media.rtp.stats.latched == 1
            # A session refresh offering the same address: still latched.
            media.answer(offer(private.address[1]))
            media.rtp.send(SILENCE)
            await settle()
            assert (mapped.heard(), private.heard()) == (1, 0)
            # The phone moves (a new SDP address): that address is taken again...
            media.answer(offer(moved.address[1]))
            media.rtp.send(SILENCE)
            moved.speak(media)
            await settle()
            assert (moved.heard(), mapped.heard()) == (1, 0) and audio_frames(media) == 2
            # ...and its RTP from a new mapping latches once more.
            remapped.speak(media)
            await settle()
            assert media.rtp.stats.latched == 2 and audio_frames(media) == 1
            media.rtp.send(SILENCE)
            mapped.speak(media)
            await settle()
            assert (remapped.heard(), moved.heard()) == (1, 0)
            assert media.rtp.stats.wrong_source == 1 and audio_frames(media) == 0


async def test_an_answered_invite_latches_to_the_address_its_sip_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end through the user agent: the INVITE's source is the IP latching may go to."""
    taken: asyncio.Queue[CallMedia] = asyncio.Queue()

    async def run_call(
        self: SipServer, call: object, dialog: object, media: CallMedia, *_: object
    ) -> None:
        taken.put_nowait(media)
        try:
            await asyncio.Event().wait()
        finally:
            media.rtp.close()

    monkeypatch.setattr(SipServer, "run_call", run_call)
    settings = SipSettings(enabled=True, port=0, allow_from=(ipaddress.ip_network("127.0.0.0/8"),))
    server = SipServer(web.Application(), None, settings)  # type: ignore[arg-type]
    await server.start()
    try:
        with udp(NAT_HOST, SDP_HOST, NAT_HOST, STRANGER) as (phone, private, mapped, stranger):
            body = OFFER.replace("198.51.100.7", SDP_HOST)
            body = body.replace("m=audio 49170", f"m=audio {private.address[1]}")
            via = "198.51.100.7:5060;branch=z9hG4bK776asdhds;rport"
            request = invite(body, **{via: f"{NAT_HOST}:{phone.address[1]};branch=z9hG4bKnat"})
            phone.sock.sendto(request, ("127.0.0.1", server.ua.port))
            media = await asyncio.wait_for(taken.get(), 5)
            answered: list[int] = []

            async def ok() -> bool:
                with contextlib.suppress(BlockingIOError):
                    answered.append(parse_message(phone.sock.recv(65535)).status)
                return 200 in answered

            await wait_until(ok, within_s=5)
            stranger.speak(media)
            mapped.speak(media)
            await settle()
            assert media.rtp.stats.latched == 1 and media.rtp.stats.wrong_source == 1
            assert audio_frames(media) == 1
            media.rtp.send(SILENCE)
            await settle()
            assert (mapped.heard(), private.heard(), stranger.heard()) == (1, 0, 0)
    finally:
        await server.close()


@pytest.mark.parametrize(
    ("sdp", "signalling", "source", "latches"),
    [
        (("192.168.1.20", 4000), "203.0.113.7", ("203.0.113.7", 61234), True),  # NAT
        (("192.168.1.20", 4000), "203.0.113.7", ("203.0.113.8", 61234), False),  # a stranger
        (("192.168.1.20", 4000), "::ffff:203.0.113.7", ("203.0.113.7", 61234), True),
        (("203.0.113.7", 4000), "203.0.113.7", ("203.0.113.7", 61234), False),  # no NAT
        (("0.0.0.0", 4000), "203.0.113.7", ("203.0.113.7", 61234), False),  # hold
        (("192.168.1.20", 0), "203.0.113.7", ("203.0.113.7", 61234), False),  # refused
        (("192.168.1.20", 4000), "sbc.example.com", ("203.0.113.7", 61234), False),  # a name
        (("192.168.1.20", 4000), None, ("203.0.113.7", 61234), False),  # latching off
    ],
)
def test_what_may_latch(
    sdp: tuple[str, int], signalling: str | None, source: tuple[str, int], latches: bool
) -> None:
    latch = MediaLatch()
    peer = latch.follow(RtpPeer(*sdp, "PCMU", 0, 101, rtcp_port=4001), signalling)
    assert peer == RtpPeer(*sdp, "PCMU", 0, 101, rtcp_port=4001)
    assert latch.admits(peer, source) is latches
    if latches:
        moved = latch.latch(peer, source)
        assert (moved.host, moved.port, moved.report_port) == (*source, source[1] + 1)
        assert not latch.admits(moved, ("203.0.113.7", 61236))  # once per offer/answer


@pytest.mark.parametrize(
    ("sdp_host", "signalling", "held"),
    [
        ("192.168.1.20", "8.8.4.4", True),  # a phone behind NAT: its mapping is not known yet
        ("10.0.0.5", "8.8.4.4", True),  # or a stranger aiming our RTP into our own network
        ("100.64.1.2", "8.8.4.4", True),  # carrier-grade NAT's shared space is no public host
        ("8.8.4.4", "8.8.4.4", False),  # public SDP: sent where it says, as before
        ("192.168.1.20", "192.168.1.1", False),  # a PBX on the same private network
        ("192.168.1.20", None, False),  # latching off: the operator's SBC handles NAT
        ("192.168.1.20", "sbc.example.com", False),
    ],
)
def test_a_private_address_named_from_the_internet_is_sent_nothing_until_latched(
    sdp_host: str, signalling: str | None, held: bool
) -> None:
    latch = MediaLatch()
    peer = latch.follow(RtpPeer(sdp_host, 4000, "PCMU", 0, 101), signalling)
    assert latch.holds(peer) is held
    if held:
        assert signalling is not None
        moved = latch.latch(peer, (signalling, 61234))
        assert not latch.holds(moved)  # its mapping is known: audio goes there


class SentTo:
    """Stands in for the stream's socket: where each datagram went (no packet leaves here)."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []

    def sendto(self, _data: bytes, target: tuple[str, int]) -> None:
        self.targets.append(target)

    def is_closing(self) -> bool:
        return False


def test_the_stream_sends_a_private_address_named_from_the_internet_nothing_until_latched() -> None:
    stream = RtpStream(lambda _event: None)
    socket_ = SentTo()
    stream._transport = socket_  # type: ignore[assignment]
    stream.peer = stream.latch.follow(RtpPeer("192.168.1.20", 4000, "PCMU", 0, 101), "8.8.4.4")
    stream.send(SILENCE)
    assert socket_.targets == [] and stream.stats.sent == 0
    stream.datagram_received(rtp(0, 1, 160, b"\xff" * 160), ("8.8.4.4", 61234))  # its first
    stream.send(SILENCE)
    assert socket_.targets == [("8.8.4.4", 61234)] and stream.stats.latched == 1
