"""Request guards that hold for every route: Host and Origin allow-lists, proxy trust, and
the security headers of every response.

`Host` must name this server (the public base URL's host, or localhost/127.0.0.1/[::1] on the
listening port, or a configured extra host): anything else is a DNS-rebinding attempt or a
misrouted request and gets 421. A browser's `Origin`, when sent, must be one of those hosts
too, else 403: that covers every WebSocket (browsers always send it there) and every
cross-site form or fetch. The telephony platforms send no `Origin`, which is allowed.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from callwright.config import SecuritySettings

log = logging.getLogger(__name__)

LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Guard:
    """The allow-lists of one server.

    Args:
        settings: extra hosts and origins, trusted proxies.
        public_base_url: the platforms' and browsers' way in, if configured.
    """

    settings: SecuritySettings
    public_base_url: str | None = None

    def public_host(self) -> str | None:
        if not self.public_base_url:
            return None
        return urlsplit(self.public_base_url).netloc.lower() or None

    def host_ok(self, host: str, port: int | None, local_ip: str | None = None) -> bool:
        """Whether `Host` names this server.

        Args:
            host: the header's value.
            port: the port the connection arrived on.
            local_ip: the address it arrived on: a literal IP address is no DNS name, so it
                cannot be rebound, and is accepted on the listening port.
        """
        host = host.strip().lower()
        allowed = {h.lower() for h in self.settings.allowed_hosts}
        if local_ip and port is not None:
            literal = f"[{local_ip}]" if ":" in local_ip else local_ip
            allowed.add(f"{literal.lower()}:{port}")
        public = self.public_host()
        if public:
            allowed.add(public)
            allowed.add(public.split(":")[0] if not public.startswith("[") else public)
        if port is not None:
            allowed |= {f"{name}:{port}" for name in LOCAL_NAMES}
            if port in (80, 443):
                allowed |= set(LOCAL_NAMES)
        return host in allowed

    def origin_ok(
        self, origin: str, port: int | None, local_ip: str | None = None, https: bool = False
    ) -> bool:
        """Whether a browser's `Origin` is this server's; over https, only its https origin
        (a page served over plain http on the same name is anyone's on the network path)."""
        if origin in self.settings.allowed_origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        if https and parts.scheme != "https":
            return False
        return self.host_ok(parts.netloc, port, local_ip)

    def trusts_proxy(self, remote: str | None) -> bool:
        """Whether `X-Forwarded-*` from this peer address is believed."""
        if not remote or not self.settings.trusted_proxies:
            return False
        try:
            address = ipaddress.ip_address(remote)
        except ValueError:
            return False
        for entry in self.settings.trusted_proxies:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def client_address(self, request: web.Request) -> str:
        """The client's address: the proxy's `X-Forwarded-For` only from a trusted proxy."""
        remote = request.remote or "unknown"
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded and self.trusts_proxy(request.remote):
            return forwarded.split(",")[-1].strip() or remote
        return remote

    def is_https(self, request: web.Request) -> bool:
        if request.scheme == "https":
            return True
        proto = request.headers.get("X-Forwarded-Proto", "")
        return proto.lower() == "https" and self.trusts_proxy(request.remote)


GUARD = web.AppKey("guard", Guard)


def _local_address(request: web.Request) -> tuple[str | None, int | None]:
    """The address and port the connection arrived on."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return str(sockname[0]), int(sockname[1])
    return None, None


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """421 for a foreign `Host`, 403 for a foreign `Origin`; everything else passes."""
    guard = request.app[GUARD]
    local_ip, port = _local_address(request)
    host = request.headers.get("Host", "")
    if not guard.host_ok(host, port, local_ip):
        log.warning("refused request for host %.80r from %s", host, request.remote)
        raise web.HTTPMisdirectedRequest(
            text='{"error": "misdirected", "message": "unknown Host"}',
            content_type="application/json",
        )
    origin = request.headers.get("Origin")
    if origin is not None and not guard.origin_ok(origin, port, local_ip, guard.is_https(request)):
        log.warning("refused request from origin %.80r (%s)", origin, request.remote)
        raise web.HTTPForbidden(
            text='{"error": "forbidden_origin", "message": "cross-origin request refused"}',
            content_type="application/json",
        )
    return await handler(request)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, static files and errors included, carries the security headers."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # The pages' policy on every response: harmless on JSON, audio and scripts.
    response.headers.setdefault("Content-Security-Policy", CSP)
    # Pages and API answers hold transcripts, numbers and recordings: never kept by a browser
    # (its back button after signing out) or a cache on the way. Static files may be.
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    guard = request.app.get(GUARD)
    if guard is not None and guard.is_https(request):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
