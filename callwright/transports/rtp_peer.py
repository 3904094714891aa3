"""Where one call's RTP goes and may come from: the SDP's address, or the one it latched to.

A phone behind NAT names its private address in its SDP (`c=IN IP4 192.168.1.20`, port 4000)
but its RTP reaches us from its router's public mapping (203.0.113.7:61234), and only RTP sent
back to that mapping reaches the phone. `MediaLatch` does what an SBC does for it (symmetric
RTP, "comedia", RFC 4961 practice): the first valid packet from the mapping moves the stream's
peer there, for sending and receiving alike (RTCP then goes to its port + 1).

It is deliberately narrow, because an address media may come from is an address audio goes to:

- only a packet from the IP address the call's SIP came from (the INVITE's source; for a call
  we placed, where we sent ours) latches, never one from a third party: the agent's audio is
  then only ever sent to a host that is already a party to the call, so a stranger who learns
  or guesses the RTP port can neither take the call's audio nor aim it at someone else;
- only while the SDP names another IP than that (the NAT case). A trunk, PBX or phone whose SDP
  names the address it signals from has said where its media is, from where we reach it: a
  packet from another port there is far more likely another stream (a stale call's RTP still
  arriving at a port number reused by this one, the "RTP bleed" failure of SBCs that latch on
  anything) than this caller, so that case stays strict;
- once per offer/answer: after the first latch, packets from any other address are dropped
  until a re-INVITE or UPDATE names a new SDP address (then that address is taken again, and
  may latch again); an offer repeating the same address (a session refresh, a hold) keeps it;
- never on hold (`c=0.0.0.0`) or for a refused stream (port 0): nothing is to be sent there.

Until it latches, a call whose SIP comes from a public address but whose SDP names a private
one (a phone behind NAT, or a stranger aiming our media into the server's own network) is sent
nothing (`holds`): RTP to a private address a remote party named would reach hosts near the
server, never that party. Its first packet, which a phone sends as soon as it is answered,
latches the stream and the audio goes out.

The loopback rule of SIP media stays whole: the latched IP is the signalling IP, so loopback
media still only goes to a peer that signals from the loopback.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class RtpPeer:
    """Where the far end wants media, and what was negotiated."""

    host: str
    port: int
    codec: str  # "PCMU" or "PCMA"
    payload_type: int
    dtmf_payload: int | None
    rtcp_port: int | None = None
    sends: bool = True  # we send it audio: it receives (sendrecv or recvonly), not on hold

    @property
    def reachable(self) -> bool:
        """An address media may go to: not unspecified (0.0.0.0, an old-style hold)."""
        return not ipaddress.ip_address(self.host).is_unspecified

    @property
    def report_port(self) -> int | None:
        """Where RTCP reports go (RFC 3605, else the RTP port + 1); None: nowhere."""
        port = self.rtcp_port or self.port + 1
        return port if 1024 <= port <= 65535 and self.port and self.reachable else None


class MediaLatch:
    """Moves one stream's peer to where its RTP comes from, under the rules above.

    Attributes:
        latched: the address the stream latched to for the current offer/answer, if any.
    """

    def __init__(self) -> None:
        self.latched: Address | None = None
        self._signalling: str | None = None
        self._sdp: Address | None = None

    def follow(self, peer: RtpPeer, signalling_host: str | None) -> RtpPeer:
        """The peer an offer or answer names, as the stream should use it: still latched if
        the SDP address is the one already latched away from, else the SDP's own.

        Args:
            peer: what the SDP says.
            signalling_host: the IP address the call's SIP comes from; None (or a host
                known only by name): the stream never latches.
        """
        if (peer.host, peer.port) != self._sdp:
            self._sdp, self.latched = (peer.host, peer.port), None
        self._signalling = _ip(signalling_host)
        return peer if self.latched is None else _moved(peer, self.latched)

    def admits(self, peer: RtpPeer, source: Address) -> bool:
        """Whether a valid packet from `source` (not `peer`'s address) may latch the stream."""
        if self.latched is not None or self._signalling is None:
            return False
        if not (peer.port and peer.reachable):
            return False
        return _ip(source[0]) == self._signalling != _ip(peer.host)

    def holds(self, peer: RtpPeer) -> bool:
        """Whether nothing may be sent to `peer` yet: a private SDP address named from a public
        signalling address, before the stream latched to where the caller's RTP comes from."""
        if self.latched is not None or self._signalling is None:
            return False
        return _is_global(self._signalling) and not _is_global(peer.host)

    def latch(self, peer: RtpPeer, source: Address) -> RtpPeer:
        """`peer` moved to `source` (which `admits` allowed), until the SDP address changes."""
        self.latched = source
        return _moved(peer, source)


def _moved(peer: RtpPeer, source: Address) -> RtpPeer:
    # The SDP's `a=rtcp` port is the private side's: reports go to the latched port + 1.
    return dataclasses.replace(peer, host=source[0], port=source[1], rtcp_port=None)


def _ip(host: str | None) -> str | None:
    """`host` as one spelling of its IP address (IPv4-mapped IPv6 as IPv4); None if no IP."""
    try:
        ip = ipaddress.ip_address((host or "").strip("[]"))
    except ValueError:
        return None
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return str(mapped or ip)


def _is_global(host: str | None) -> bool:
    """A public internet address (a private, shared, loopback or reserved one is not)."""
    ip = _ip(host)
    return ip is not None and ipaddress.ip_address(ip).is_global
