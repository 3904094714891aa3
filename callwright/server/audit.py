"""The access audit log: who read which call, heard or downloaded which recording, exported
what, placed which outbound call, signed in or failed to.

Successful operator reads are recorded by a middleware from the route they hit, so the API
handlers stay unaware of it; sign-ins and outbound calls record themselves (they know more).
Entries are appended to the call store (`callwright.store.access`), never changed; admins read
them at `GET /v1/audit?limit=&since=&actor=&action=` and on the dashboard's audit page.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from callwright.server.auth import AUTHENTICATOR, principal_of
from callwright.server.guard import GUARD

log = logging.getLogger(__name__)

MAX_LIMIT = 1000
# The dashboard re-reads the calls list every 15 s: the same list read by the same credential
# is recorded once per this many seconds, so the log says who looked without drowning in polls.
REPEAT_S = 600.0
MAX_REMEMBERED = 10_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _action(request: web.Request) -> tuple[str, str | None] | None:
    """The audited action of a successful request and its target, or None."""
    if request.method != "GET":
        return None
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else ""
    call_id = request.match_info.get("call_id")
    if canonical == "/v1/calls/{call_id}/recording.wav":
        # A browser's <audio> element asks with Range or a media destination: listening.
        dest = request.headers.get("Sec-Fetch-Dest", "")
        listening = dest in ("audio", "video") or "Range" in request.headers
        return ("recording.listen" if listening else "recording.download"), call_id
    if canonical == "/v1/calls/{call_id}":
        return "call.read", call_id
    if canonical == "/v1/calls":
        return "calls.export", request.query_string or None
    if canonical == "/v1/audit":
        return "audit.read", None
    return None  # KPIs (aggregates without personal data), pages, health: not audited


async def record(
    request: web.Request, action: str, target: str | None = None, **detail: Any
) -> None:
    """Appends an entry for the request's principal (or the anonymous caller)."""
    principal = principal_of(request)
    actor, kind = (principal.name, principal.kind) if principal else ("anonymous", "anonymous")
    address = request.app[GUARD].client_address(request)
    try:
        await request.app[AUTHENTICATOR].access.audit(actor, kind, action, target, address, detail)
    except Exception:  # the store is down: the read already happened, say so in the log
        log.exception("could not write the audit entry %s %s by %s", action, target, actor)


class RepeatFilter:
    """Remembers recent (actor, action, target) list reads, bounded in memory."""

    def __init__(self) -> None:
        self._seen: OrderedDict[tuple[str, str, str | None], float] = OrderedDict()

    def fresh(self, key: tuple[str, str, str | None], now: float | None = None) -> bool:
        """True if `key` was not recorded in the last REPEAT_S seconds (and notes it now)."""
        now = time.monotonic() if now is None else now
        last = self._seen.get(key)
        if last is not None and now - last < REPEAT_S:
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > MAX_REMEMBERED:
            self._seen.popitem(last=False)
        return True


REPEATS = web.AppKey("audit_repeats", RepeatFilter)


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if response.status < 400:
        found = _action(request)
        if found is not None:
            action, target = found
            principal = principal_of(request)
            actor = f"{principal.kind}:{principal.name}" if principal else "anonymous"
            if action != "calls.export" or request.app[REPEATS].fresh((actor, action, target)):
                await record(request, action, target)
    return response


async def list_audit(request: web.Request) -> web.Response:
    """`GET /v1/audit`: entries newest first (admins only, by the auth middleware)."""
    try:
        limit = min(int(request.query.get("limit", "200")), MAX_LIMIT)
        since = float(request.query["since"]) if request.query.get("since") else None
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "message": "limit and since are numbers"}),
            content_type="application/json",
        ) from None
    entries = await request.app[AUTHENTICATOR].access.audit_entries(
        limit, since, request.query.get("actor") or None, request.query.get("action") or None
    )
    return web.json_response({"entries": [asdict(e) for e in entries]})


def register(app: web.Application) -> None:
    app[REPEATS] = RepeatFilter()
    app.router.add_get("/v1/audit", list_audit)
