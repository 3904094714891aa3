"""Telephony settings, read from CALLWRIGHT_TWILIO_*, CALLWRIGHT_TELNYX_* and friends."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

TWILIO_API_BASE_URL = "https://api.twilio.com"


@dataclass(frozen=True, slots=True)
class TelephonySettings:
    """How callwright talks to telephony platforms.

    Attributes:
        twilio_account_sid: account SID for the REST API (hang-up, transfer, outbound calls).
        twilio_auth_token: signs every Twilio webhook (and the REST API's basic auth). Without
            it, Twilio webhooks are refused: nothing can be verified.
        twilio_api_base_url: REST API root; point it at a proxy, a regional edge or a fake.
        public_base_url: the https:// address the platforms reach this server at (signatures
            are computed over it; stream URLs are built from it). None: taken from the request.
        transfer_number: the human a `TransferCall` goes to when it names no number.
        telnyx_public_key: base64 Ed25519 public key of Telnyx's webhook signatures.
        stream_token_ttl_s: how long a stream URL handed out by a webhook stays valid.
        outbound_token_ttl_s: the same for outbound calls (they ring before the stream starts).
        signature_tolerance_s: oldest Telnyx webhook timestamp accepted (replays).
    """

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_base_url: str = TWILIO_API_BASE_URL
    public_base_url: str | None = None
    transfer_number: str | None = None
    telnyx_public_key: str | None = None
    stream_token_ttl_s: float = 30.0
    outbound_token_ttl_s: float = 120.0
    signature_tolerance_s: float = 300.0

    @property
    def twilio_rest_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelephonySettings:
        """Reads the telephony variables; unset ones keep their defaults."""
        env = os.environ if env is None else env
        base = cls()
        return cls(
            twilio_account_sid=env.get("CALLWRIGHT_TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("CALLWRIGHT_TWILIO_AUTH_TOKEN") or None,
            twilio_api_base_url=env.get("CALLWRIGHT_TWILIO_API_BASE_URL")
            or base.twilio_api_base_url,
            public_base_url=env.get("CALLWRIGHT_PUBLIC_BASE_URL") or None,
            transfer_number=env.get("CALLWRIGHT_TRANSFER_NUMBER") or None,
            telnyx_public_key=env.get("CALLWRIGHT_TELNYX_PUBLIC_KEY") or None,
        )
