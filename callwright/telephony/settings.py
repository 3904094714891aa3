"""Telephony settings, read from CALLWRIGHT_TWILIO_*, CALLWRIGHT_TELNYX_* and friends."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from callwright.core import env as read

TWILIO_API_BASE_URL = "https://api.twilio.com"
TELNYX_API_BASE_URL = "https://api.telnyx.com/v2"


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
        telnyx_api_key: Telnyx API key for its Call Control API (transfer, hang-up).
        telnyx_api_base_url: Call Control API root; point it at a proxy or a fake.
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
    telnyx_api_key: str | None = None
    telnyx_api_base_url: str = TELNYX_API_BASE_URL
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
            twilio_account_sid=read.text(env, "CALLWRIGHT_TWILIO_ACCOUNT_SID"),
            twilio_auth_token=read.text(env, "CALLWRIGHT_TWILIO_AUTH_TOKEN"),
            twilio_api_base_url=read.text(
                env, "CALLWRIGHT_TWILIO_API_BASE_URL", base.twilio_api_base_url
            )
            or base.twilio_api_base_url,
            public_base_url=read.text(env, "CALLWRIGHT_PUBLIC_BASE_URL"),
            transfer_number=read.text(env, "CALLWRIGHT_TRANSFER_NUMBER"),
            telnyx_public_key=read.text(env, "CALLWRIGHT_TELNYX_PUBLIC_KEY"),
            telnyx_api_key=read.text(env, "CALLWRIGHT_TELNYX_API_KEY"),
            telnyx_api_base_url=read.text(env, "CALLWRIGHT_TELNYX_API_BASE_URL")
            or base.telnyx_api_base_url,
        )
