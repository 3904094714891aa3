"""SDP offer/answer (RFC 3264, RFC 4566) for one audio stream.

We take PCMU (payload type 0) or PCMA (8) at 8 kHz, and RFC 4733 telephone-event for keys.
The offer's first codec we support wins (the offerer's preference). An offer we cannot take
raises `SdpError` with the SIP status to answer: 400 for a malformed body, 488 Not Acceptable
Here for one without audio we can decode.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from callwright.sip.message import CONTROL_IN_LINE, is_number

CODECS = {"PCMU": 0, "PCMA": 8}  # encoding name → static payload type (8 kHz, RFC 3551)
STATIC_NAMES = {0: "PCMU", 8: "PCMA"}
MAX_SDP_BYTES = 4096


class SdpError(Exception):
    """An SDP body we cannot answer; `status` is the SIP response."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AudioOffer:
    """What the far end offered (or answered) for audio.

    Attributes:
        host: the address it wants RTP sent to.
        port: its RTP port (0: the stream is refused or removed).
        codec: the codec chosen ("PCMU" or "PCMA") and its payload type.
        dtmf_payload: the payload type of telephone-event at 8 kHz, if offered.
        direction: sendrecv, sendonly, recvonly or inactive (hold).
        rtcp_port: RTCP port from `a=rtcp` (RFC 3605), else port + 1.
    """

    host: str
    port: int
    codec: str
    payload_type: int
    dtmf_payload: int | None
    direction: str = "sendrecv"
    rtcp_port: int | None = None


def parse_offer(body: bytes) -> AudioOffer:
    """Reads the first audio stream of an SDP body and picks our codec.

    Raises:
        SdpError: malformed (400) or nothing we can take (488).
    """
    if len(body) > MAX_SDP_BYTES:
        raise SdpError(400, "SDP Too Large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError(400, "SDP Not UTF-8") from exc
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if any(CONTROL_IN_LINE.search(line) for line in lines):  # a lone CR, an ESC: to the log
        raise SdpError(400, "Control Character In SDP")
    if not lines or not lines[0].startswith("v=0"):
        raise SdpError(400, "SDP Must Start With v=0")
    session_host: str | None = None
    media: list[list[str]] = []
    for line in lines:
        if len(line) < 2 or line[1] != "=":
            raise SdpError(400, "Malformed SDP Line")
        if line.startswith("m="):
            media.append([line])
        elif media:
            media[-1].append(line)
        elif line.startswith("c="):
            session_host = _connection(line)
    for block in media:
        fields = block[0][2:].split()
        if len(fields) < 4 or fields[0] != "audio":
            continue
        return _audio(block, fields, session_host)
    raise SdpError(488, "No Audio Stream Offered")


def _connection(line: str) -> str:
    parts = line[2:].split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(400, "Bad c= Line")
    host = parts[2].split("/", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError as exc:
        raise SdpError(488, "c= Must Be An IP Address") from exc
    # Media goes to one peer: never to a group, everyone on a link, or a link-local address
    # (0.0.0.0, the old way to hold a call, is kept: nothing is sent to it).
    broadcast = ip == ipaddress.IPv4Address("255.255.255.255")
    if ip.is_multicast or broadcast or ip.is_link_local:
        raise SdpError(488, "c= Must Be A Unicast Address")
    return host


def _audio(block: list[str], fields: list[str], session_host: str | None) -> AudioOffer:
    if not is_number(fields[1]) or int(fields[1]) > 65535:
        raise SdpError(400, "Bad Media Port")
    port = int(fields[1])
    if fields[2] not in ("RTP/AVP", "RTP/AVPF"):
        raise SdpError(488, f"Transport {fields[2][:20]} Not Supported")
    if not all(is_number(pt) and int(pt) < 128 for pt in fields[3:]):
        raise SdpError(400, "Bad Payload Type")
    payloads = [int(pt) for pt in fields[3:]]
    names = {pt: STATIC_NAMES[pt] for pt in payloads if pt in STATIC_NAMES}
    host, direction, rtcp = session_host, "sendrecv", None
    for line in block[1:]:
        if line.startswith("c="):
            host = _connection(line)
        elif line.startswith("a=rtpmap:"):
            pt_text, _, encoding = line[9:].partition(" ")
            if is_number(pt_text):
                names[int(pt_text)] = encoding.strip()
        elif line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive"):
            direction = line[2:]
        elif line.startswith("a=rtcp:"):
            value = line[7:].split()[0] if line[7:].split() else ""
            # A well-known port is no RTCP port: reports go to the RTP port + 1 instead.
            rtcp = int(value) if is_number(value) and 1024 <= int(value) <= 65535 else None
    if host is None:
        raise SdpError(400, "No Connection Address")
    chosen: tuple[str, int] | None = None
    dtmf = None
    for pt in payloads:
        name, _, rate = names.get(pt, "").partition("/")
        if name.upper() in CODECS and rate in ("", "8000") and chosen is None:
            chosen = (name.upper(), pt)
        if name.lower() == "telephone-event" and rate == "8000" and dtmf is None:
            dtmf = pt
    if chosen is None:
        offered = ", ".join(names.get(pt, str(pt)) for pt in payloads)[:80]
        raise SdpError(488, f"No Common Codec (offered {offered}; we take PCMU, PCMA)")
    return AudioOffer(host, port, chosen[0], chosen[1], dtmf, direction, rtcp)


_ANSWER_DIRECTION = {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}


def build_sdp(
    host: str,
    port: int,
    rtcp_port: int,
    codecs: list[tuple[str, int]],
    dtmf_payload: int | None,
    session_id: int,
    version: int,
    direction: str = "sendrecv",
) -> bytes:
    """An SDP body offering or answering one audio stream."""
    family = "IP6" if ":" in host else "IP4"
    payloads = [pt for _, pt in codecs] + ([dtmf_payload] if dtmf_payload is not None else [])
    lines = [
        "v=0",
        f"o=callwright {session_id} {version} IN {family} {host}",
        "s=callwright",
        f"c=IN {family} {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(pt) for pt in payloads)}",
    ]
    lines += [f"a=rtpmap:{pt} {name}/8000" for name, pt in codecs]
    if dtmf_payload is not None:
        lines += [f"a=rtpmap:{dtmf_payload} telephone-event/8000", f"a=fmtp:{dtmf_payload} 0-15"]
    lines += ["a=ptime:20", f"a=rtcp:{rtcp_port}", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


def answer_sdp(
    offer: AudioOffer, host: str, port: int, rtcp_port: int, session_id: int, version: int
) -> bytes:
    """Our answer to `offer`: its chosen codec, its telephone-event, the mirrored direction."""
    direction = _ANSWER_DIRECTION.get(offer.direction, "sendrecv")
    codecs = [(offer.codec, offer.payload_type)]
    return build_sdp(
        host, port, rtcp_port, codecs, offer.dtmf_payload, session_id, version, direction
    )


def offer_sdp(host: str, port: int, rtcp_port: int) -> tuple[bytes, int]:
    """Our offer (PCMU, PCMA, telephone-event 101) and its session id."""
    session_id = int(time.time())
    body = build_sdp(host, port, rtcp_port, list(CODECS.items()), 101, session_id, 1)
    return body, session_id
