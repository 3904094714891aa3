"""Operator authentication: who is asking, and may they.

Three kinds of credential, all checked by one middleware before any operator route runs:
- a signed-in user's session cookie (`cw_session`, a random token whose SHA-256 is stored in
  the call store; signing out revokes it),
- an API key (`Authorization: Bearer cwk_<id>_<secret>`), with the same roles,
- the metrics scrape token (`Authorization: Bearer ...`), good for `GET /metrics` only.

Roles nest: viewer (calls, transcripts, KPIs; no recordings) < supervisor (+ recordings and
the handoff console) < admin (+ outbound calls, the audit log). The telephony platforms'
webhooks and media streams are outside this scheme: they keep their own signatures and stream
tokens, and an operator credential gets nothing there.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from callwright.config import SecuritySettings
from callwright.server.login_limits import Attempt, ChecksBusy, LoginLimits, PasswordChecks
from callwright.store.access import ROLES, AccessStore, ApiKey, Role

log = logging.getLogger(__name__)

SESSION_COOKIE = "cw_session"
KEY_PREFIX = "cwk_"
ROLE_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES, start=1)}
MAX_NAME = 60
MAX_PASSWORD = 1024

_KEY_RE = re.compile(r"cwk_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})")
_RECORDING_RE = re.compile(r"/v1/calls/[^/]+/recording\.wav")
# Platform routes: authenticated by the platform's signature or a stream token, never here.
PLATFORM_PREFIXES = ("/v1/twilio/", "/v1/telnyx/")
# Health probes stay open for load balancers and orchestrators (/readyz, /livez: graceful drain).
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/livez", "/signin", "/v1/auth/signin", "/favicon.ico"}
)
OPEN_PREFIXES = ("/static/",)

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs what a wrong password does.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request.

    Attributes:
        kind: "user", "api_key" or "scrape_token".
        name: the user name, or the API key's id.
        role: what it may do (None for the scrape token: metrics only).
        label: a human label (an API key's name).
    """

    kind: str
    name: str
    role: Role | None
    label: str = ""

    def may(self, needed: Role) -> bool:
        return self.role is not None and ROLE_RANK[self.role] >= ROLE_RANK[needed]


PRINCIPAL = web.RequestKey("principal", Principal)


def principal_of(request: web.Request) -> Principal | None:
    """The request's authenticated principal, if the middleware found one."""
    return request.get(PRINCIPAL)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def hash_password(password: str) -> str:
    """An argon2id hash (off the event loop: it takes tens of milliseconds by design)."""
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches (blocking: argon2). No hash costs what a wrong password does."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class SignIn:
    """How a sign-in went: a session token, or why not (the seconds to wait, or busy)."""

    token: str | None = None
    wait_s: float | None = None
    busy: bool = False


COMPLIANCE_PREFIXES = (
    "/v1/compliance/", "/v1/campaigns", "/dashboard/campaigns", "/v1/scheduled-calls",
)  # fmt: skip
# A supervisor may read the do-not-call list and consent records, add a number to the list
# and revoke a consent; importing, removing, adding consent and exporting stay with admins.
SUPERVISOR_COMPLIANCE = frozenset({
    ("GET", "/v1/compliance/dnc"), ("GET", "/v1/compliance/consent"),
    ("POST", "/v1/compliance/dnc"), ("POST", "/v1/compliance/consent/revoke"),
})  # fmt: skip


def new_api_key(role: Role, name: str) -> tuple[str, ApiKey]:
    """A fresh key: the secret to show once, and what is stored (its hash)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_with_secret(key_id, secret, role, name)


def key_with_secret(key_id: str, secret: str, role: Role, name: str) -> tuple[str, ApiKey]:
    """The key string and stored record for a given id and secret (tests pin both)."""
    full = f"{KEY_PREFIX}{key_id}_{secret}"
    if not _KEY_RE.fullmatch(full):
        raise ValueError("key id must be 16 hex digits and the secret 20-100 URL-safe characters")
    return full, ApiKey(key_id, name, role, digest(secret), time.time())


def required_role(method: str, path: str) -> Role | str | None:
    """What a route needs: a role, "metrics" (scrape token or viewer), or None (open)."""
    # Dot segments are never open: an open prefix must not lead anywhere else.
    dotted = any(segment in (".", "..") for segment in path.split("/"))
    if not dotted and (path in OPEN_PATHS or path.startswith(OPEN_PREFIXES + PLATFORM_PREFIXES)):
        return None
    if path in ("/metrics", "/v1/load"):
        return "metrics"
    if path in ("/v1/calls/outbound", "/v1/audit", "/dashboard/audit"):
        return "admin"
    if (method, path) in SUPERVISOR_COMPLIANCE:
        return "supervisor"  # reading the lists, and changes that only ever call fewer people
    if path.startswith(COMPLIANCE_PREFIXES):
        return "admin"  # the compliance log, consent records, campaigns, scheduled calls
    if _RECORDING_RE.fullmatch(path) or path == "/console" or path.startswith("/v1/console/"):
        return "supervisor"
    return "viewer"  # everything else, unknown paths included


class Authenticator:
    """Finds the principal of a request and signs users in and out.

    Args:
        access: the users, sessions and keys.
        settings: session length, login limits, the scrape token.
    """

    def __init__(self, access: AccessStore, settings: SecuritySettings) -> None:
        self.access = access
        self.settings = settings
        self._limits = LoginLimits(access, settings)
        self._checks = PasswordChecks()

    async def principal(self, request: web.Request) -> Principal | None:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return await self._bearer(header[7:].strip())
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            user = await self.access.session_user(digest(token))
            if user is not None:
                return Principal("user", user.name, user.role)
        return None

    async def _bearer(self, token: str) -> Principal | None:
        scrape = self.settings.metrics_token
        if scrape and hmac.compare_digest(token.encode(), scrape.encode()):
            return Principal("scrape_token", "metrics", None)
        match = _KEY_RE.fullmatch(token)
        if match is None:
            return None
        key = await self.access.get_key(match.group(1))
        if key is None or key.revoked_at is not None:
            return None
        if not hmac.compare_digest(key.secret_hash, digest(match.group(2))):
            return None
        return Principal("api_key", key.key_id, key.role, key.name)

    async def sign_in(self, name: str, password: str, address: str) -> SignIn:
        """A new session for a correct name and password, within the limits
        (`server/login_limits.py`): an attempt is counted before its password is checked."""
        attempt = await self._limits.begin(name, address)
        if not isinstance(attempt, Attempt):
            return SignIn(wait_s=attempt)
        user = await self.access.get_user(name)
        stored = user.password_hash if user else None
        known = await self._limits.known(attempt)
        try:
            right = await self._checks.run(lambda: _verify(stored, password), known) and user
        except ChecksBusy:
            await self._limits.not_checked(attempt)
            return SignIn(busy=True)
        if not right or user is None:
            return SignIn()  # the attempt stays counted as a failure
        await self._limits.succeeded(attempt)
        token = secrets.token_urlsafe(32)
        expires = time.time() + self.settings.session_hours * 3600
        await self.access.add_session(digest(token), user.name, expires)
        return SignIn(token=token)

    def close(self) -> None:
        self._checks.close()

    async def sign_out(self, request: web.Request) -> None:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await self.access.revoke_session(digest(token))


AUTHENTICATOR = web.AppKey("authenticator", Authenticator)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _wants_page(request: web.Request) -> bool:
    return request.method == "GET" and not request.path.startswith(("/v1/", "/metrics"))


def unauthorized(message: str = "sign in or send an API key") -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=f'{{"error": "unauthorized", "message": "{message}"}}',
        content_type="application/json",
        headers={"WWW-Authenticate": 'Bearer realm="callwright"'},
    )


def stricter(first: Role | str | None, second: Role | str | None) -> Role | str | None:
    """The need that admits fewer principals ("metrics" admits a viewer or the scrape token)."""
    rank: dict[str | None, int] = {None: 0, "metrics": 1}
    rank |= {role: n + 1 for role, n in ROLE_RANK.items()}
    if rank[first] == rank[second]:
        return first if first != "metrics" else second
    return first if rank[first] > rank[second] else second


def forbidden(needed: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(
        text=f'{{"error": "forbidden", "message": "this needs the {needed} role"}}',
        content_type="application/json",
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuses operator routes without a good enough credential (401, 403, or the sign-in page)."""
    # The router decodes each path segment after splitting ("a%2Fb" is one call id), while
    # the decoded path reads it as two: the stricter of both readings decides.
    raw = request.raw_path.split("?", 1)[0]
    needed = stricter(required_role(request.method, request.path),
                      required_role(request.method, raw))  # fmt: skip
    if needed is None:
        return await handler(request)
    found = await request.app[AUTHENTICATOR].principal(request)
    if found is None:
        if _wants_page(request):
            raise web.HTTPSeeOther(f"/signin?next={quote(request.path_qs, safe='')}")
        raise unauthorized()
    if needed == "metrics":
        if found.kind != "scrape_token" and not found.may("viewer"):
            raise forbidden("viewer")
    elif not found.may(needed):  # type: ignore[arg-type]
        raise forbidden(needed)
    request[PRINCIPAL] = found
    return await handler(request)


def role_of(value: Any) -> Role:
    """A role name checked against the three roles."""
    if value not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return value
