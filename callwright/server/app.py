"""The aiohttp application: call endpoints, call records, health."""

from __future__ import annotations

import json
import logging
import time
import uuid

from aiohttp import WSCloseCode, WSMsgType, web

from callwright.agent.session import CallSession
from callwright.agent.stack import AgentStack
from callwright.core.responder import CallInfo
from callwright.server.api import register as register_api
from callwright.server.console import register as register_console
from callwright.server.pages import add_page_routes
from callwright.server.telephony import register as register_telephony
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
) -> web.Application:
    """Builds the server around an already loaded stack.

    Args:
        stack: the loaded stages, shared by every call.
        telephony: Twilio and Telnyx settings.
        console_token: what people type to sign in to the handoff console; None generates
            one (logged once, so a local operator can find it).
    """
    app = web.Application()
    app[STACK] = stack
    app[SESSIONS] = set()
    app.router.add_get("/healthz", health)
    app.router.add_get("/v1/ws", native_websocket)
    register_api(app, stack)
    token = register_console(app, stack.desk, console_token)
    if console_token is None:
        log.warning("handoff console token (set CALLWRIGHT_CONSOLE_TOKEN to choose): %s", token)
    add_page_routes(app)
    register_telephony(app, stack, telephony or TelephonySettings())
    app.on_shutdown.append(_end_active_calls)
    return app


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
