"""Short-lived, single-use tokens in stream URLs: only a verified webhook can start a stream.

A token is `<ref, expiry, nonce>.<hmac>` in URL-safe base64, keyed with a secret derived from
the auth token (so every worker of a deployment accepts the others' tokens) or, without one, a
random per-process secret. `ref` names the call the webhook accepted (Twilio CallSid, or our
own id for an outbound call whose CallSid is not known yet); the random nonce makes every token
different, even for the same webhook in the same second.

A token is single-use: `redeem_once` records its use through a shared claim (the call store's
`claim_once`), so every worker of a deployment refuses a replay; `redeem` keeps the record in
this process only. Only the exact text `issue` wrote is accepted: a lenient base64 decoder
drops characters outside the alphabet, so `<token>~` would verify as the token while counting
as another one for the once-only record. The record is keyed on the signed body (its nonce),
never on the text as sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

NONCE_BYTES = 12
_B64URL = re.compile(r"[A-Za-z0-9_-]+")  # unpadded URL-safe base64, the only form issued


@dataclass(frozen=True, slots=True)
class StreamClaim:
    """What a valid token says."""

    ref: str
    expires_at: float


class StreamTokens:
    """Issues and redeems stream tokens.

    Args:
        secret: key material (e.g. the auth token); None: a random one for this process.
    """

    def __init__(self, secret: str | None = None) -> None:
        material = secret.encode() if secret else secrets.token_bytes(32)
        self._key = hashlib.sha256(b"callwright stream token\0" + material).digest()
        self._used: dict[str, float] = {}  # redeemed tokens until they expire

    def issue(self, ref: str, ttl_s: float, now: float | None = None) -> str:
        """A token for `ref` valid for `ttl_s` seconds."""
        expires = int((time.time() if now is None else now) + ttl_s)
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        body = _b64(f"{ref}\0{expires}\0{nonce}".encode())
        return f"{body}.{_b64(self._mac(body))}"

    def verify(self, token: str, now: float | None = None) -> StreamClaim | str:
        """Checks a token's signature and expiry (not whether it was used)."""
        now = time.time() if now is None else now
        body, _, mac = token.partition(".")
        try:
            genuine = hmac.compare_digest(_unb64(mac), self._mac(body))
            ref, _, rest = _unb64(body).decode().partition("\0")
            expires_at = float(rest.partition("\0")[0])
        except (ValueError, UnicodeDecodeError):
            return "malformed stream token"
        if not genuine:
            return "stream token signature does not match"
        if expires_at < now:
            return "stream token expired"
        return StreamClaim(ref, expires_at)

    async def redeem_once(
        self,
        token: str,
        claim_once: Callable[[str, float], Awaitable[bool]],
        now: float | None = None,
    ) -> StreamClaim | str:
        """Checks a token and records its use through `claim_once` (shared by every worker)."""
        claim = self.verify(token, now)
        if not isinstance(claim, StreamClaim):
            return claim
        if not await claim_once(_used_key(token), claim.expires_at):
            return "stream token already used"
        return claim

    def redeem(self, token: str, now: float | None = None) -> StreamClaim | str:
        """Checks a token and marks it used in this process; returns its claim, or why not."""
        now = time.time() if now is None else now
        claim = self.verify(token, now)
        if not isinstance(claim, StreamClaim):
            return claim
        expires_at = claim.expires_at
        for used, until in list(self._used.items()):
            if until < now:
                del self._used[used]
        key = _used_key(token)
        if key in self._used:
            return "stream token already used"
        self._used[key] = expires_at
        return claim

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _used_key(token: str) -> str:
    """The once-only record of a verified token: its signed body, which holds the nonce."""
    body = token.partition(".")[0]
    return "stream-token:" + hashlib.sha256(body.encode()).hexdigest()


def _unb64(text: str) -> bytes:
    """Decodes only the canonical text `_b64` writes.

    Raises:
        ValueError: any other text, including one a lenient decoder reads as the same bytes
            (a character outside the alphabet, padding, unused low bits in the last one).
    """
    if not _B64URL.fullmatch(text):
        raise ValueError("not unpadded URL-safe base64")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical encoding")
    return data
