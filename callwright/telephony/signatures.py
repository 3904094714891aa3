"""Webhook signature checks: Twilio's X-Twilio-Signature and Telnyx's Ed25519 signatures."""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from twilio.request_validator import RequestValidator


class TwilioSignatures:
    """Checks `X-Twilio-Signature` (HMAC-SHA1 of the URL and sorted POST parameters).

    Args:
        auth_token: the account's auth token; None refuses every request.
    """

    def __init__(self, auth_token: str | None) -> None:
        self._validator = RequestValidator(auth_token) if auth_token else None

    def verify(self, url: str, params: Mapping[str, str], signature: str | None) -> str | None:
        """Returns None if the request is genuine, else why it is not."""
        if self._validator is None:
            return "no Twilio auth token configured; cannot verify"
        if not signature:
            return "missing X-Twilio-Signature"
        if not self._validator.validate(url, dict(params), signature):
            return f"X-Twilio-Signature does not match {url}"
        return None


class TelnyxSignatures:
    """Checks `telnyx-signature-ed25519` over `f"{telnyx-timestamp}|{body}"`.

    Args:
        public_key: Telnyx's base64 Ed25519 public key; None refuses every request.
        tolerance_s: oldest timestamp accepted, against replays.
    """

    def __init__(self, public_key: str | None, tolerance_s: float = 300.0) -> None:
        self._key = (
            Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key)) if public_key else None
        )
        self._tolerance_s = tolerance_s

    def verify(
        self, body: bytes, signature: str | None, timestamp: str | None, now: float | None = None
    ) -> str | None:
        """Returns None if the request is genuine, else why it is not."""
        if self._key is None:
            return "no Telnyx public key configured; cannot verify"
        if not signature or not timestamp:
            return "missing telnyx-signature-ed25519 or telnyx-timestamp"
        try:
            sent = float(timestamp)
            raw = base64.b64decode(signature, validate=True)
        except (ValueError, binascii.Error):
            return "malformed Telnyx signature headers"
        if not math.isfinite(sent):  # "nan" passes every comparison with the window
            return "malformed Telnyx signature headers"
        if abs((time.time() if now is None else now) - sent) > self._tolerance_s:
            return f"telnyx-timestamp {timestamp} is outside the {self._tolerance_s:.0f} s window"
        try:
            self._key.verify(raw, timestamp.encode() + b"|" + body)
        except InvalidSignature:
            return "telnyx-signature-ed25519 does not match"
        return None
