"""Signing operators in and out: `POST /v1/auth/signin`, `POST /v1/auth/signout`,
`GET /v1/auth/me`, and the sign-in page (`/signin`) the dashboard, /talk and the console send
people to.

A successful sign-in sets `cw_session`: HttpOnly, SameSite=Strict, Secure when served over
https (or when configured). Failures are counted per user name and per address; past the
limit, sign-in answers 429 without checking the password (`server/login_limits.py`).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from aiohttp import web

from callwright.server.audit import REPEATS, record
from callwright.server.auth import (
    AUTHENTICATOR,
    MAX_NAME,
    MAX_PASSWORD,
    PRINCIPAL,
    SESSION_COOKIE,
    Principal,
    principal_of,
)
from callwright.server.guard import GUARD
from callwright.server.login_limits import address_key

log = logging.getLogger(__name__)

SIGNIN_PAGE = Path(__file__).resolve().parent / "web" / "signin.html"


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what was wrong."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested past Python's limit
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": "the body must be JSON"}),
            content_type="application/json",
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": "the body must be a JSON object"}),
            content_type="application/json",
        )
    return body


async def sign_in(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        return _error(400, "bad_request", 'send {"name": ..., "password": ...} (strings)')
    name = name.strip()
    if not 0 < len(name) <= MAX_NAME or len(password) > MAX_PASSWORD:
        return _error(400, "bad_request", "a name of 1 to 60 characters is required")
    auth = request.app[AUTHENTICATOR]
    address = request.app[GUARD].client_address(request)
    outcome = await auth.sign_in(name, password, address)
    if outcome.wait_s is not None:
        # Once per address and window, not per request: a flood would fill the audit log.
        if request.app[REPEATS].fresh((address_key(address), "signin.refused", None)):
            await record(request, "signin.refused", None, reason="too many failures")
        return _error(
            429, "too_many_attempts", "too many failed sign-ins; try again later",
            **{"Retry-After": str(max(1, math.ceil(outcome.wait_s)))},
        )  # fmt: skip
    if outcome.busy:
        return _error(
            503, "busy", "too many sign-ins at once; try again shortly", **{"Retry-After": "1"}
        )
    token = outcome.token
    if token is None:
        # Only a real user's name is kept: what else was typed may be a password.
        known = name if await auth.access.get_user(name) is not None else "(unknown user)"
        request[PRINCIPAL] = Principal("anonymous", known, None)
        await record(request, "signin.failed", known)
        log.warning("sign-in failed from %s", address)  # never the name: it may be a password
        return _error(401, "bad_credentials", "wrong name or password")
    user = await auth.access.get_user(name)
    assert user is not None
    request[PRINCIPAL] = Principal("user", user.name, user.role)
    await record(request, "signin.ok", user.name)
    response = web.json_response({"name": user.name, "role": user.role})
    secure = auth.settings.cookie_secure
    if secure is None:
        guard = request.app[GUARD]
        secure = guard.is_https(request) or (guard.public_base_url or "").startswith("https://")
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(auth.settings.session_hours * 3600),
        httponly=True,
        secure=secure,
        samesite="Strict",
        path="/",
    )
    return response


async def sign_out(request: web.Request) -> web.Response:
    """Revokes the session server-side (the cookie is useless afterwards) and clears it."""
    await request.app[AUTHENTICATOR].sign_out(request)
    principal = principal_of(request)
    if principal is not None:
        await record(request, "signout", principal.name)
    response = web.json_response({"signed_out": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    principal = principal_of(request)
    if principal is None:  # pragma: no cover - the middleware answers 401 first
        return _error(401, "not_signed_in", "sign in first")
    return web.json_response(
        {"name": principal.name, "role": principal.role, "kind": principal.kind}
    )


async def signin_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(SIGNIN_PAGE, headers={"Cache-Control": "no-store"})


def register(app: web.Application) -> None:
    app.router.add_get("/signin", signin_page)
    app.router.add_post("/v1/auth/signin", sign_in)
    app.router.add_post("/v1/auth/signout", sign_out)
    app.router.add_get("/v1/auth/me", me)
