"""RTP media for one SIP call (RFC 3550): G.711 both ways, RFC 4733 keys, RTCP reports.

Inbound packets are checked before anything else: only from the address and port the far end
gave in its SDP, or the one its RTP latched the stream to (`MediaLatch`: a NAT's public mapping
at the IP the call's SIP came from), version 2, a payload type the call negotiated, at most
`MAX_PAYLOAD_BYTES`; anything else is counted and dropped, never played. Audio goes through
the shared `JitterBuffer` by extended sequence number and is stamped from the RTP timestamp,
clamped to the wall clock (`WallClockClamp`), so a forged timestamp jump costs nothing. A new
SSRC (the far end switched source, e.g. after a re-INVITE) continues the timeline where the
last one ended.

Outbound: the session hands over paced 20 ms frames; each becomes one packet at once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from callwright.audio.alaw import alaw_decode, alaw_encode
from callwright.audio.frame import AudioFrame
from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.transports.base import AudioIn, DtmfIn, InboundEvent
from callwright.transports.jitter import JitterBuffer, WallClockClamp
from callwright.transports.rtp_peer import Address, MediaLatch, RtpPeer

log = logging.getLogger(__name__)

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms
MAX_PAYLOAD_BYTES = 1600  # 200 ms of G.711: more is not a phone's packet
DTMF_EVENTS = "0123456789*#ABCD"
RTCP_INTERVAL_S = 5.0
NTP_EPOCH_OFFSET = 2208988800


@dataclass(slots=True)
class RtpStats:
    """What the stream saw; `wrong_source` and `bad` never reached the call; `latched`: times
    the peer moved to where its RTP came from (`MediaLatch`)."""

    received: int = 0
    sent: int = 0
    wrong_source: int = 0
    latched: int = 0
    bad: int = 0
    overflow: int = 0
    keys: int = 0


def parse_rtp(data: bytes) -> tuple[int, int, int, int, bool, bytes] | None:
    """(payload type, sequence, timestamp, ssrc, marker, payload), or None if not RTP v2."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    first, second, seq, stamp, ssrc = struct.unpack("!BBHII", data[:12])
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack("!H", data[offset + 2 : offset + 4])[0]
    end = len(data)
    if first & 0x20:  # padding: the last byte says how much
        end -= data[-1] if data[-1] else end
    if end <= offset:
        return None
    return second & 0x7F, seq, stamp, ssrc, bool(second & 0x80), data[offset:end]


def build_rtp(pt: int, seq: int, stamp: int, ssrc: int, payload: bytes, marker: bool) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, stamp, ssrc) + payload


class _Unwrap:
    """Extends a wrapping counter (16-bit sequence, 32-bit timestamp) to a monotonic one."""

    def __init__(self, bits: int) -> None:
        self._mod = 1 << bits
        self._last: int | None = None
        self._value = 0

    def __call__(self, raw: int) -> int:
        if self._last is None:
            self._value = raw
        else:
            delta = (raw - self._last) % self._mod
            if delta >= self._mod // 2:
                delta -= self._mod
            self._value += delta
        self._last = raw
        return self._value


class RtpStream(asyncio.DatagramProtocol):
    """One call's RTP and RTCP sockets.

    Args:
        sink: receives every inbound event (audio, keys), in order.
        jitter_depth: packets held while waiting for a missing one.
    """

    def __init__(self, sink: Callable[[InboundEvent], None], jitter_depth: int = 3) -> None:
        self._sink = sink
        self._depth = jitter_depth
        self.stats = RtpStats()
        self.peer: RtpPeer | None = None
        self.latch = MediaLatch()
        self._transport: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._stamp = secrets.randbits(32)
        self._octets = 0
        self._marker = True
        self._clamp = WallClockClamp()
        self._reset_source(None)
        self.heard_until_ms = 0.0
        self._last_key_stamp: int | None = None
        self._rtcp_task: asyncio.Task[None] | None = None
        self._warned = False

    def _reset_source(self, ssrc: int | None) -> None:
        self._source = ssrc
        self._jitter: JitterBuffer[tuple[int, bytes]] = JitterBuffer(self._depth)
        self._seq_unwrap, self._ts_unwrap = _Unwrap(16), _Unwrap(32)
        self._first_stamp: int | None = None
        self._base_ms = getattr(self, "heard_until_ms", 0.0)

    async def open(self, host: str) -> tuple[int, int]:
        """Binds the RTP and RTCP sockets on `host` (ports from the OS); their ports."""
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        self._rtcp, _ = await loop.create_datagram_endpoint(
            lambda: _RtcpSink(self), local_addr=(host, 0)
        )
        return self._transport.get_extra_info("sockname")[1], self._rtcp.get_extra_info("sockname")[
            1
        ]

    def start(self, peer: RtpPeer, signalling_host: str | None = None) -> None:
        """Sends to (and accepts from) `peer` from now on, or where its RTP latches the stream
        to (only from `signalling_host`, the IP its SIP came from; None: never); starts RTCP."""
        self.peer = self.latch.follow(peer, signalling_host)
        if self._rtcp_task is None:
            self._rtcp_task = asyncio.create_task(self._report())

    # --- inbound -------------------------------------------------------------------------

    def datagram_received(
        self, data: bytes, addr: tuple[str, int] | tuple[str, int, int, int]
    ) -> None:
        peer, source = self.peer, (addr[0], addr[1])
        if peer is not None and source != (peer.host, peer.port):
            peer = self._latch(peer, source, data)
        if peer is None:
            self.stats.wrong_source += 1
            if not self._warned:
                self._warned = True
                log.warning("rtp: dropped a packet from %s:%s, not the negotiated peer", *source)
            return
        packet = parse_rtp(data) if len(data) <= MAX_PAYLOAD_BYTES + 64 else None
        if packet is None:
            self.stats.bad += 1
            return
        pt, seq, stamp, ssrc, _, payload = packet
        if pt == peer.dtmf_payload:
            self._on_key(stamp, payload)
            return
        if pt != peer.payload_type:
            self.stats.bad += 1
            return
        self.stats.received += 1
        if ssrc != self._source:
            for item in self._jitter.flush():
                self._emit(*item)
            self._reset_source(ssrc)
        ext_stamp = self._ts_unwrap(stamp)
        for item in self._jitter.push(self._seq_unwrap(seq), (ext_stamp, payload)):
            self._emit(*item)

    def _latch(self, peer: RtpPeer, source: Address, data: bytes) -> RtpPeer | None:
        """The stream's peer moved to `source`, if the latch admits it and `data` is a valid
        packet of the call; None: the packet is from the wrong source."""
        if not self.latch.admits(peer, source):
            return None
        packet = parse_rtp(data) if len(data) <= MAX_PAYLOAD_BYTES + 64 else None
        if packet is None or packet[0] not in (peer.payload_type, peer.dtmf_payload):
            return None
        self.peer = self.latch.latch(peer, source)
        self.stats.latched += 1
        log.info("rtp: latched to %s:%s (the SDP named %s:%s)", *source, peer.host, peer.port)
        return self.peer

    def _emit(self, ext_stamp: int, payload: bytes) -> None:
        if self._first_stamp is None:
            self._first_stamp = ext_stamp
        at_ms = self._base_ms + (ext_stamp - self._first_stamp) / (RATE / 1000)
        assert self.peer is not None
        samples = alaw_decode(payload) if self.peer.codec == "PCMA" else mulaw_decode(payload)
        frame = AudioFrame(samples, RATE, self._clamp(at_ms))
        self.heard_until_ms = max(self.heard_until_ms, frame.end_ms)
        self._sink(AudioIn(frame))

    def _on_key(self, stamp: int, payload: bytes) -> None:
        if len(payload) < 4 or payload[0] >= len(DTMF_EVENTS):
            self.stats.bad += 1
            return
        # One key is many packets with the same timestamp (and three end packets): report the
        # first end packet of each timestamp.
        if not payload[1] & 0x80 or stamp == self._last_key_stamp:
            return
        self._last_key_stamp = stamp
        self.stats.keys += 1
        self._sink(DtmfIn(DTMF_EVENTS[payload[0]], self.heard_until_ms))

    # --- outbound ------------------------------------------------------------------------

    def send(self, samples: np.ndarray) -> None:
        """Sends agent audio (int16 at 8 kHz) as 20 ms packets."""
        peer, transport = self.peer, self._transport
        if peer is None or transport is None or transport.is_closing() or peer.port == 0:
            return
        if not (peer.sends and peer.reachable):  # on hold (RFC 3264 6.1)
            return
        if self.latch.holds(peer):  # a private address named from the internet: not yet
            return
        encode = alaw_encode if peer.codec == "PCMA" else mulaw_encode
        for start in range(0, samples.size, FRAME_SAMPLES):
            chunk = samples[start : start + FRAME_SAMPLES]
            payload = encode(chunk.astype(np.int16, copy=False))
            packet = build_rtp(
                peer.payload_type, self._seq, self._stamp, self._ssrc, payload, self._marker
            )
            transport.sendto(packet, (peer.host, peer.port))
            self._marker = False
            self._seq = (self._seq + 1) & 0xFFFF
            self._stamp = (self._stamp + chunk.size) & 0xFFFFFFFF
            self.stats.sent += 1
            self._octets += len(payload)

    def talk_spurt(self) -> None:
        """The next packet starts a talk spurt (marker bit), e.g. after a barge-in."""
        self._marker = True

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(RTCP_INTERVAL_S)
            peer, rtcp = self.peer, self._rtcp
            if peer is None or rtcp is None or rtcp.is_closing():
                return
            target = peer.report_port
            if target is None or self.latch.holds(peer):
                continue
            now = time.time() + NTP_EPOCH_OFFSET
            ntp_hi, ntp_lo = int(now), int((now % 1) * (1 << 32))
            report = struct.pack(
                "!BBHIIIIII",
                0x80,
                200,
                6,
                self._ssrc,
                ntp_hi,
                ntp_lo,
                self._stamp,
                self.stats.sent & 0xFFFFFFFF,
                self._octets,
            )
            rtcp.sendto(report, (peer.host, target))

    def close(self) -> None:
        """Flushes held audio, stops reports, closes both sockets."""
        if self.peer is not None:
            for item in self._jitter.flush():
                self._emit(*item)
        if self._rtcp_task is not None:
            self._rtcp_task.cancel()
        for transport in (self._transport, self._rtcp):
            if transport is not None:
                transport.close()


class _RtcpSink(asyncio.DatagramProtocol):
    """Inbound RTCP: counted (from the peer only) and otherwise unused."""

    def __init__(self, stream: RtpStream) -> None:
        self._stream = stream
        self.reports = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        peer = self._stream.peer
        if peer is not None and addr[0] == peer.host and len(data) >= 8 and data[0] >> 6 == 2:
            self.reports += 1
