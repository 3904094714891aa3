"""Checks of a browser's or app's SDP offer before any peer connection is built for it.

A WebRTC offer is text from a stranger: it is size-capped, parsed with aiortc's own SDP
parser, and must offer audio we can carry (Opus at 48 kHz or PCMU at 8 kHz, RFC 7587 and
RFC 3551) with ICE credentials and a DTLS fingerprint. Anything else gets a clear refusal
(`OfferProblem`) that the server turns into a 400; no peer connection, no task, nothing that
could disturb another call.

The offer's ICE candidates are removed before it is answered. Each one is an address the
server would send connectivity checks to, and a stranger's offer may name any host and port
(loopback, the internal network): the server would probe or flood them for the caller. The
browser's own checks reach the server's candidates (in the answer) anyway, and each one that
does is a peer-reflexive candidate of the address it really came from (RFC 8445 7.3.1.3).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc.sdp import SessionDescription

MAX_OFFER_BYTES = 32 * 1024  # a browser's offer is 3-6 KB; far more is not an offer
# Media sections at most: each unbundled one would get its own ICE gathering and sockets.
MAX_MEDIA_SECTIONS = 8
# The audio codecs this transport carries, as (MIME subtype, clock rate), in preference order.
AUDIO_CODECS = (("opus", 48000), ("pcmu", 8000))


class OfferProblem(Exception):
    """Why an offer is refused (`code` is machine-readable, the message is for people)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class CheckedOffer:
    """An offer that passed the checks.

    Attributes:
        sdp: the offer's text.
        codecs: the offered audio codecs we carry, in our preference order ("opus", "pcmu").
        data_channel: whether the offer opens a data channel (DTMF and events travel there).
    """

    sdp: str
    codecs: tuple[str, ...]
    data_channel: bool


def check_offer(sdp: object) -> CheckedOffer:
    """Validates an SDP offer's text.

    Raises:
        OfferProblem: `bad_sdp` (not SDP, too large, over 8 m-lines, no ICE credentials or
            fingerprint),
            `no_audio` (no active audio m-line) or `no_common_codec` (neither Opus nor PCMU).
    """
    if not isinstance(sdp, str) or not sdp.strip():
        raise OfferProblem("bad_sdp", '"sdp" must be the offer\'s SDP text')
    if len(sdp.encode()) > MAX_OFFER_BYTES:
        raise OfferProblem("bad_sdp", f"the offer is larger than {MAX_OFFER_BYTES} bytes")
    if not sdp.lstrip().startswith("v=0"):
        raise OfferProblem("bad_sdp", "SDP starts with v=0")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises whatever the bad line triggers
        raise OfferProblem("bad_sdp", f"the offer is not valid SDP: {exc!r:.200}") from exc
    if len(parsed.media) > MAX_MEDIA_SECTIONS:
        raise OfferProblem("bad_sdp", f"more than {MAX_MEDIA_SECTIONS} m-lines")
    audio = [m for m in parsed.media if m.kind == "audio" and m.port != 0]
    if not audio:
        raise OfferProblem("no_audio", "the offer has no active audio m-line")
    offered = {(c.mimeType.split("/")[-1], c.clockRate) for c in audio[0].rtp.codecs}
    lowered = {(name.lower(), rate) for name, rate in offered}
    codecs = tuple(name for name, rate in AUDIO_CODECS if (name, rate) in lowered)
    if not codecs:
        names = sorted(f"{n}/{r}" for n, r in offered) or ["none"]
        raise OfferProblem(
            "no_common_codec",
            f"offered audio codecs {', '.join(names)}; this server takes opus/48000 or PCMU/8000",
        )
    media = audio[0]
    if media.ice is None or not (media.ice.usernameFragment and media.ice.password):
        raise OfferProblem("bad_sdp", "the audio m-line has no ICE credentials")
    if media.dtls is None or not media.dtls.fingerprints:
        raise OfferProblem("bad_sdp", "the audio m-line has no DTLS fingerprint")
    data_channel = any(m.kind == "application" and m.port != 0 for m in parsed.media)
    return CheckedOffer(sdp=without_candidates(sdp), codecs=codecs, data_channel=data_channel)


def without_candidates(sdp: str) -> str:
    """`sdp` without its ICE candidate lines (`a=candidate`, `a=end-of-candidates`)."""
    lines = sdp.replace("\r\n", "\n").split("\n")
    kept = [line for line in lines if not line.startswith(_CANDIDATE_LINES)]
    return "\r\n".join(kept)


_CANDIDATE_LINES = ("a=candidate:", "a=end-of-candidates")
