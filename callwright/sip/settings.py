"""How callwright's SIP user agent listens, whom it answers, and where it registers."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from callwright.core import env as read

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class SipSettings:
    """The SIP side of one worker.

    Attributes:
        enabled: listen for SIP at all (`CALLWRIGHT_SIP_PORT` set).
        host: the address to bind SIP and RTP to (one interface).
        port: the UDP port for SIP (0: one from the OS, for tests).
        advertise: the address put in Contact and SDP (default `host`): a public address
            behind a static NAT.
        allow_from: networks whose INVITEs are answered without credentials (a trunk's or
            an edge proxy's addresses). Empty and no users: no call is answered.
        users: digest credentials callers must present (user → password).
        realm: the digest realm.
        ring_s: how long a call rings (180 Ringing) before we answer.
        transfer_target: where a transfer that names no number goes (a SIP URI or a number).
        transfer_mode: "blind" (REFER) or "attended" (a consultation call to the target
            first, then REFER with Replaces).
        register_uri: registrar to register with (e.g. `sip:pbx.example.com`), or None.
        register_user / register_password: credentials for the registrar and outbound calls.
        register_expires_s: the registration's requested lifetime.
        outbound_proxy: `host:port` every call we place goes through (a trunk's edge).
        min_session_expires_s: our Min-SE (RFC 4028): the shortest session-timer interval
            we accept. A caller asking for less gets 422 (or, without timer support, this).
            Refreshes from the caller are expected before the interval runs out.
        requests_per_s: requests one source address may send per second (burst: twice it);
            beyond it, datagrams are dropped unread, so a flood cannot starve the event loop.
        latch_media: `CALLWRIGHT_SIP_LATCH_MEDIA` (on): a call whose SDP names another IP
            than its SIP came from (a phone behind NAT) sends its media back to where its RTP
            comes from, if that is the SIP's IP (`transports/rtp_peer.py`). Off: RTP only
            from, and to, the SDP's address.
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5060
    advertise: str | None = None
    allow_from: tuple[Network, ...] = ()
    users: Mapping[str, str] = field(default_factory=dict)
    realm: str = "callwright"
    ring_s: float = 0.0
    transfer_target: str | None = None
    transfer_mode: str = "blind"
    register_uri: str | None = None
    register_user: str | None = None
    register_password: str | None = None
    register_expires_s: int = 600
    outbound_proxy: str | None = None
    min_session_expires_s: int = 90
    requests_per_s: float = 50.0
    latch_media: bool = True

    @property
    def contact_host(self) -> str:
        return self.advertise or self.host

    def allowed(self, address: str) -> bool:
        """Whether `address` is on the allow-list."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.allow_from)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SipSettings:
        """Reads `CALLWRIGHT_SIP_*`; SIP is off unless `CALLWRIGHT_SIP_PORT` is set.

        Raises:
            ValueError: a malformed network in `CALLWRIGHT_SIP_ALLOW_FROM` or user entry, or
                a `CALLWRIGHT_SIP_LATCH_MEDIA` that is no boolean.
        """
        env = os.environ if env is None else env
        port = env.get("CALLWRIGHT_SIP_PORT")
        users: dict[str, str] = {}
        for entry in (env.get("CALLWRIGHT_SIP_USERS") or "").split(","):
            if entry.strip():
                name, sep, password = entry.strip().partition(":")
                if not sep or not name or not password:
                    raise ValueError("CALLWRIGHT_SIP_USERS is user:password,user:password")
                users[name] = password
        nets = tuple(
            ipaddress.ip_network(n.strip(), strict=False)
            for n in (env.get("CALLWRIGHT_SIP_ALLOW_FROM") or "").split(",")
            if n.strip()
        )
        mode = env.get("CALLWRIGHT_SIP_TRANSFER_MODE") or "blind"
        if mode not in ("blind", "attended"):
            raise ValueError("CALLWRIGHT_SIP_TRANSFER_MODE is blind or attended")
        return cls(
            enabled=bool(port),
            host=env.get("CALLWRIGHT_SIP_HOST") or "127.0.0.1",
            port=int(port) if port else 5060,
            advertise=env.get("CALLWRIGHT_SIP_ADVERTISE") or None,
            allow_from=nets,
            users=users,
            realm=env.get("CALLWRIGHT_SIP_REALM") or "callwright",
            ring_s=float(env.get("CALLWRIGHT_SIP_RING_S") or 0.0),
            transfer_target=env.get("CALLWRIGHT_SIP_TRANSFER_TARGET") or None,
            transfer_mode=mode,
            register_uri=env.get("CALLWRIGHT_SIP_REGISTER_URI") or None,
            register_user=env.get("CALLWRIGHT_SIP_REGISTER_USER") or None,
            register_password=env.get("CALLWRIGHT_SIP_REGISTER_PASSWORD") or None,
            outbound_proxy=env.get("CALLWRIGHT_SIP_OUTBOUND_PROXY") or None,
            min_session_expires_s=int(env.get("CALLWRIGHT_SIP_MIN_SE") or 90),
            latch_media=read.flag(env, "CALLWRIGHT_SIP_LATCH_MEDIA", True),
        )
