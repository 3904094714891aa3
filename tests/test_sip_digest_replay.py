"""Digest credentials count once: the same Authorization header sent again is refused.

A nonce is valid for minutes, and its credentials used to pass every time they were sent: whoever
saw one INVITE's Authorization header could place calls with it for the nonce's whole life. Now
each nonce's count (`nc`) must grow, a nonce without one holds once, and a refused repeat gets a
fresh challenge (stale=true) so a genuine client just answers it again. A retransmitted INVITE
is answered by its transaction before any of this, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from callwright.server.sip import SipServer
from callwright.sip.digest import (
    DigestChallenger,
    authorization,
    digest_response,
    parse_digest,
)
from callwright.sip.message import SipMessage, parse_message
from callwright.sip.sdp import AudioOffer
from callwright.sip.settings import SipSettings
from callwright.sip.transaction import InviteServer
from tests.test_sip_text import invite

URI = "sip:agent@pbx"


def test_the_same_credentials_pass_once_and_a_growing_count_passes_each_time() -> None:
    now = [1000.0]
    challenger = DigestChallenger("pbx", {"alice": "s3cret"}, nonce_ttl_s=60, clock=lambda: now[0])
    challenge = challenger.challenge()
    first = authorization(challenge, "INVITE", URI, "alice", "s3cret", nc=1)
    assert challenger.check(first, "INVITE").user == "alice"
    replayed = challenger.check(first, "INVITE")
    assert replayed.user is None and replayed.stale
    # The client's next request on the same nonce counts on: it passes, and only once.
    third = authorization(challenge, "INVITE", URI, "alice", "s3cret", nc=3)
    assert challenger.check(third, "INVITE").user == "alice"
    second = authorization(challenge, "INVITE", URI, "alice", "s3cret", nc=2)  # came late
    assert challenger.check(second, "INVITE").stale
    assert challenger.check(third, "INVITE").stale
    # Another caller challenged in the same second gets a nonce of its own, counted apart.
    other = authorization(challenger.challenge(), "INVITE", URI, "alice", "s3cret", nc=1)
    assert challenger.check(other, "INVITE").user == "alice"
    # Once the nonce expired, it is refused as expired (stale) whatever its count.
    now[0] += 61
    later = authorization(challenge, "INVITE", URI, "alice", "s3cret", nc=9)
    assert challenger.check(later, "INVITE").problem == "the nonce expired"


def test_a_wrong_password_does_not_use_up_a_count() -> None:
    challenger = DigestChallenger("pbx", {"alice": "s3cret"})
    challenge = challenger.challenge()
    guess = authorization(challenge, "INVITE", URI, "alice", "guess", nc=0xFFFFFFFF)
    assert challenger.check(guess, "INVITE").problem == "wrong password"
    good = authorization(challenge, "INVITE", URI, "alice", "s3cret", nc=1)
    assert challenger.check(good, "INVITE").user == "alice"


def test_credentials_without_a_count_hold_once() -> None:
    challenger = DigestChallenger("pbx", {"alice": "s3cret"})
    # RFC 2069 style: a client answering without qop sends no nc.
    bare = challenger.challenge().replace(', qop="auth"', "")
    header = authorization(bare, "INVITE", URI, "alice", "s3cret")
    assert "nc=" not in header
    assert challenger.check(header, "INVITE").user == "alice"
    assert challenger.check(header, "INVITE").stale


@pytest.mark.parametrize("nc", ["1", "0000000g", "000000001", "\u0661" * 8])
def test_a_count_that_is_not_8_hex_digits_is_refused(nc: str) -> None:
    challenger = DigestChallenger("pbx", {"alice": "s3cret"})
    nonce = parse_digest(challenger.challenge())["nonce"]
    # Hashed with that count, as a client that wrote it would: right but for the count.
    response = digest_response(
        "MD5", "alice", "pbx", "s3cret", "INVITE", URI, nonce, "auth", nc, "c0ffee"
    )
    header = (
        f'Digest username="alice", realm="pbx", nonce="{nonce}", uri="{URI}", '
        f'response="{response}", algorithm=MD5, qop=auth, nc={nc}, cnonce="c0ffee"'
    )
    check = challenger.check(header, "INVITE")
    assert check.user is None and check.problem == "a nonce count that is not 8 hex digits"


def test_nonces_remembered_are_bounded_and_a_forgotten_one_is_refused() -> None:
    now = [1000.0]
    challenger = DigestChallenger(
        "pbx", {"alice": "s3cret"}, nonce_ttl_s=60, clock=lambda: now[0], max_nonces=2
    )
    headers = []
    for _ in range(3):  # a nonce a second, each used once: the first is forgotten
        headers.append(authorization(challenger.challenge(), "INVITE", URI, "alice", "s3cret"))
        assert challenger.check(headers[-1], "INVITE").user == "alice"
        now[0] += 1
    assert len(challenger._counts._seen) == 2
    assert challenger.check(headers[0], "INVITE").stale  # not let through for being forgotten
    assert challenger.check(headers[2], "INVITE").stale  # still remembered
    fresh = authorization(challenger.challenge(), "INVITE", URI, "alice", "s3cret")
    assert challenger.check(fresh, "INVITE").user == "alice"
    # Used nonces leave once they expire, with no other use needed to push them out.
    now[0] += 61
    late = authorization(challenger.challenge(), "INVITE", URI, "alice", "s3cret")
    assert challenger.check(late, "INVITE").user == "alice"
    assert len(challenger._counts._seen) == 1


class Phone(asyncio.DatagramProtocol):
    """A UDP peer that keeps the responses it gets."""

    def __init__(self) -> None:
        self.responses: asyncio.Queue[SipMessage] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.responses.put_nowait(parse_message(data))

    async def final(self, call_id: str) -> SipMessage:
        """The next final response for `call_id` (provisional ones and others skipped)."""
        async with asyncio.timeout(10):
            while True:
                response = await self.responses.get()
                if response.call_id == call_id and response.status >= 200:
                    return response


@pytest.fixture
async def guarded(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[SipServer, list[str]]]:
    """A SIP server with a digest user and no allow-list; calls it would take are listed and
    answered 486 (what comes after authentication has tests of its own)."""
    taken: list[str] = []

    async def take(self: SipServer, invite: InviteServer, offer: AudioOffer, source: str) -> None:
        taken.append(invite.request.call_id)
        self.ua.answer(invite, 486, "Busy Here")

    monkeypatch.setattr(SipServer, "_take", take)
    settings = SipSettings(enabled=True, port=0, users={"alice": "s3cret"}, realm="pbx")
    server = SipServer(web.Application(), None, settings)  # type: ignore[arg-type]
    await server.start()
    try:
        yield server, taken
    finally:
        await server.close()


async def test_a_replayed_invite_is_challenged_and_a_retransmission_is_answered(
    guarded: tuple[SipServer, list[str]],
) -> None:
    server, taken = guarded
    loop = asyncio.get_running_loop()
    transport, phone = await loop.create_datagram_endpoint(Phone, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    to = ("127.0.0.1", server.ua.port)

    def request(call_id: str, branch: str, cseq: int, auth: str | None = None) -> bytes:
        via = "198.51.100.7:5060;branch=z9hG4bK776asdhds;rport"
        changes = {
            via: f"127.0.0.1:{port};branch={branch};rport",
            "a84b4c76e66710@pc33.example.com": call_id,
            "CSeq: 314159": f"CSeq: {cseq}",
        }
        if auth is not None:
            changes["Max-Forwards: 70\r\n"] = f"Max-Forwards: 70\r\nAuthorization: {auth}\r\n"
        return invite(**changes)

    try:
        transport.sendto(request("call-a", "z9hG4bKa1", 1), to)
        challenged = await phone.final("call-a")
        assert challenged.status == 401
        challenge = challenged.get("www-authenticate") or ""
        auth = authorization(challenge, "INVITE", "sip:agent@192.0.2.10", "alice", "s3cret")
        answered = request("call-a", "z9hG4bKa2", 2, auth)
        transport.sendto(answered, to)
        assert (await phone.final("call-a")).status == 486
        # The same INVITE again (its answer was lost): the same answer, and still one call.
        transport.sendto(answered, to)
        assert (await phone.final("call-a")).status == 486
        # The same credentials on another INVITE: a fresh challenge, no call.
        transport.sendto(request("call-b", "z9hG4bKb1", 1, auth), to)
        refused = await phone.final("call-b")
        assert refused.status == 401
        again = parse_digest(refused.get("www-authenticate") or "")
        assert again.get("stale") == "true"
        assert again["nonce"] != parse_digest(challenge)["nonce"]
        # Answered with the fresh nonce, it is a call.
        auth = authorization(
            refused.get("www-authenticate") or "", "INVITE", "sip:agent@192.0.2.10", "alice",
            "s3cret",
        )  # fmt: skip
        transport.sendto(request("call-b", "z9hG4bKb2", 2, auth), to)
        assert (await phone.final("call-b")).status == 486
    finally:
        transport.close()
    assert taken == ["call-a", "call-b"]
