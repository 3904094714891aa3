"""The aiohttp application: call endpoints, call records, health."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import cast

from aiohttp import WSCloseCode, WSMsgType, web

from callwright.agent.session import CallSession
from callwright.agent.stack import AgentStack
from callwright.config import SecuritySettings
from callwright.llm.base import CallInfo
from callwright.server.api import register as register_api
from callwright.server.audit import audit_middleware
from callwright.server.audit import register as register_audit
from callwright.server.auth import AUTHENTICATOR, Authenticator, auth_middleware
from callwright.server.console import register as register_console
from callwright.server.guard import GUARD, Guard, add_security_headers, guard_middleware
from callwright.server.outbound import OUTBOUND, OutboundGate
from callwright.server.pages import add_page_routes
from callwright.server.signin import register as register_signin
from callwright.server.telephony import register as register_telephony
from callwright.store.access import AccessStore, SqlStore
from callwright.store.base import CallRecord
from callwright.telephony.settings import TelephonySettings
from callwright.transports.native_ws import NativeWebSocketTransport, ProtocolError, parse_start

log = logging.getLogger(__name__)

STACK = web.AppKey("stack", AgentStack)
SESSIONS = web.AppKey("sessions", set[web.WebSocketResponse])
START_TIMEOUT_S = 10.0
MAX_MESSAGE_BYTES = 256 * 1024


def create_app(
    stack: AgentStack,
    telephony: TelephonySettings | None = None,
    console_token: str | None = None,
    *,
    security: SecuritySettings | None = None,
) -> web.Application:
    """Builds the server around an already loaded stack.

    Args:
        stack: the loaded stages, shared by every call.
        telephony: Twilio and Telnyx settings.
        console_token: no longer accepted (the console signs users in); ignored if given.
        security: allow-lists, proxies, sessions, the scrape token, outbound limits.
    """
    telephony = telephony or TelephonySettings()
    security = security or SecuritySettings()
    if console_token is not None:
        log.warning("a shared console token is no longer accepted: sign in as a supervisor")
    app = web.Application(middlewares=[guard_middleware, auth_middleware, audit_middleware])
    app[STACK] = stack
    app[SESSIONS] = set()
    app[GUARD] = Guard(security, telephony.public_base_url)
    app[AUTHENTICATOR] = Authenticator(AccessStore(cast(SqlStore, stack.store)), security)
    app[OUTBOUND] = OutboundGate(security)
    app.on_startup.append(_open_access)
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/healthz", health)
    app.router.add_get("/v1/ws", native_websocket)
    register_signin(app)
    register_audit(app)
    register_api(app, stack)
    register_console(app, stack.desk)
    add_page_routes(app)
    register_telephony(app, stack, telephony)
    app.on_shutdown.append(_end_active_calls)
    return app


async def _open_access(app: web.Application) -> None:
    access = app[AUTHENTICATOR].access
    await access.ensure_schema()
    if not await access.list_users():
        log.warning("no operator accounts yet: `callwright users add admin --role admin`")


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "active_calls": len(request.app[SESSIONS])})


async def native_websocket(request: web.Request) -> web.WebSocketResponse:
    """A call over the native protocol (docs/websocket-protocol.md)."""
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE_BYTES, compress=False)
    await ws.prepare(request)
    stack = request.app[STACK]
    try:
        msg = await ws.receive(timeout=START_TIMEOUT_S)
        if msg.type != WSMsgType.TEXT:
            raise ProtocolError("start_required", 'send {"type": "start", ...} before any audio')
        start = parse_start(msg.data)
    except (TimeoutError, ProtocolError) as exc:
        code = exc.code if isinstance(exc, ProtocolError) else "start_timeout"
        await _reject(ws, stack, code, str(exc) or "no start message in time")
        return ws
    call = CallInfo(
        call_id=uuid.uuid4().hex,
        channel="websocket",
        caller=start.caller,
        parameters=start.parameters,
    )
    transport = NativeWebSocketTransport(ws, start)
    await transport.send_event(
        {
            "type": "started",
            "call_id": call.call_id,
            "sample_rate": start.sample_rate,
            "output_sample_rate": start.output_sample_rate,
            "frame_ms": 20,
        }
    )
    session = CallSession(stack, transport, call)
    request.app[SESSIONS].add(ws)
    try:
        await session.run()
    finally:
        request.app[SESSIONS].discard(ws)
    return ws


async def _reject(ws: web.WebSocketResponse, stack: AgentStack, code: str, message: str) -> None:
    """Refuses a connection that never became a valid call, and records that it happened."""
    log.warning("rejected websocket call: %s: %s", code, message)
    call_id = uuid.uuid4().hex
    await stack.store.start_call(CallRecord(call_id, "websocket", None, time.time()))
    await stack.store.add_event(call_id, "rejected", 0.0, {"code": code, "message": message})
    await stack.store.end_call(call_id, "rejected", f"{code}: {message}")
    if not ws.closed:
        await ws.send_str(json.dumps({"type": "error", "code": code, "message": message}))
        await ws.close(code=WSCloseCode.POLICY_VIOLATION)


async def _end_active_calls(app: web.Application) -> None:
    sessions = app[SESSIONS]
    for ws in list(sessions):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
