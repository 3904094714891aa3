"""Short-lived, single-use tokens in stream URLs: only a verified webhook can start a stream.

A token is `<ref, expiry, nonce>.<hmac>` in URL-safe base64, keyed with a secret derived from
the auth token (so every worker of a deployment accepts the others' tokens) or, without one, a
random per-process secret. `ref` names the call the webhook accepted (Twilio CallSid, or our
own id for an outbound call whose CallSid is not known yet); the random nonce makes every token
different, even for the same webhook in the same second.

A token is single-use: `redeem_once` records its use through a shared claim (the call store's
`claim_once`), so every worker of a deployment refuses a replay; `redeem` keeps the record in
this process only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

NONCE_BYTES = 12


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
        key = "stream-token:" + hashlib.sha256(token.encode()).hexdigest()
        if not await claim_once(key, claim.expires_at):
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
        if token in self._used:
            return "stream token already used"
        self._used[token] = expires_at
        return claim

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
