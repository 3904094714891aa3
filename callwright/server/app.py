"""The aiohttp application: call endpoints, call records, health.

`/livez` answers 200 while the process runs; `/readyz` answers 503 once the worker drains (a
load balancer stops sending it calls) and 200 otherwise; `/healthz` is kept for old probes.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import cast

from aiohttp import WSCloseCode, WSMsgType, web

from callwright.agent.session import CallSession
from callwright.agent.stack import AgentStack
from callwright.compliance.settings import ComplianceSettings
from callwright.config import DrainSettings, LimitSettings, SecuritySettings, WorkerSettings
from callwright.core.responder import CallInfo
from callwright.server.admission import ADMISSION, Admission, Refusal, record_rejection
from callwright.server.agents import install_agents
from callwright.server.api import register as register_api
from callwright.server.audit import audit_middleware
from callwright.server.audit import register as register_audit
from callwright.server.auth import AUTHENTICATOR, Authenticator, auth_middleware
from callwright.server.campaigns import register as register_campaigns
from callwright.server.compliance import COMPLIANCE, ServerCompliance
from callwright.server.compliance import register as register_compliance
from callwright.server.compliance_lists import register as register_compliance_lists
from callwright.server.console import register as register_console
from callwright.server.guard import GUARD, Guard, add_security_headers, guard_middleware
from callwright.server.load import WORKER_LOAD
from callwright.server.load import register as register_load
from callwright.server.outbound import OUTBOUND, OutboundGate
from callwright.server.pages import add_page_routes
from callwright.server.scheduled import register as register_scheduled
from callwright.server.signin import register as register_signin
from callwright.server.sip import register as register_sip
from callwright.server.telephony import register as register_telephony
from callwright.server.twilio_transfer import register as register_twilio_transfer
from callwright.server.webrtc import register as register_webrtc
from callwright.sip.settings import SipSettings
from callwright.store.access import AccessStore, SqlStore
from callwright.telephony.settings import TelephonySettings
from callwright.transports.native_ws import NativeWebSocketTransport, ProtocolError, parse_start

log = logging.getLogger(__name__)

STACK = web.AppKey("stack", AgentStack)
SESSIONS = web.AppKey("sessions", set[web.WebSocketResponse])
START_TIMEOUT_S = 10.0
TRY_AGAIN_LATER = 1013  # WebSocket close code: the server is overloaded or going away
MAX_MESSAGE_BYTES = 256 * 1024


def create_app(
    stack: AgentStack,
    telephony: TelephonySettings | None = None,
    console_token: str | None = None,
    *,
    limits: LimitSettings | None = None,
    drain: DrainSettings | None = None,
    worker: WorkerSettings | None = None,
    security: SecuritySettings | None = None,
    compliance: ComplianceSettings | None = None,
    sip: SipSettings | None = None,
    agents: Mapping[str, AgentStack] | None = None,
) -> web.Application:
    """Builds the server around an already loaded stack.

    Args:
        stack: the loaded stages, shared by every call.
        telephony: Twilio and Telnyx settings.
        console_token: no longer accepted (the console signs users in); ignored if given.
        limits: admission caps (live calls, per address) and readiness thresholds; None: no
            caps, and readiness follows only the drain.
        drain: given, SIGTERM drains the worker (see `server.drain`) and the store is closed
            at the end; the server then owns the stack's store.
        worker: given, the worker keeps a heartbeat in the store and marks the calls of dead
            workers cut off.
        security: allow-lists, proxies, sessions, the scrape token, outbound limits.
        compliance: how numbers are read, opt-out, the do-not-call list (docs/compliance.md).
        sip: the SIP user agent (docs/sip.md); None or disabled: no SIP.
        agents: named agents a campaign may pick for its calls (`server/agents.py`).
    """
    telephony = telephony or TelephonySettings()
    security = security or SecuritySettings()
    if console_token is not None:
        log.warning("a shared console token is no longer accepted: sign in as a supervisor")
    app = web.Application(middlewares=[guard_middleware, auth_middleware, audit_middleware])
    app[STACK] = stack
    app[SESSIONS] = set()
    caps = limits or LimitSettings(
        max_calls=None,
        max_calls_per_address=None,
        ready_max_loop_lag_ms=None,
        ready_max_stt_wait_ms=None,
    )
    app[ADMISSION] = Admission(caps.max_calls, caps.max_calls_per_address)
    # First at shutdown, before any socket is closed under a call (phone calls included).
    app.on_shutdown.append(_end_active_calls)
    app[GUARD] = Guard(security, telephony.public_base_url)
    app[AUTHENTICATOR] = Authenticator(AccessStore(cast(SqlStore, stack.store)), security)
    app[OUTBOUND] = OutboundGate(security, stack.store)
    app[COMPLIANCE] = ServerCompliance(compliance or ComplianceSettings(), stack.store)
    install_agents(app, agents)
    app.on_startup.append(_open_access)
    app.on_cleanup.append(_close_access)
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/healthz", health)
    app.router.add_get("/livez", live)
    app.router.add_get("/readyz", ready)
    app.router.add_get("/v1/ws", native_websocket)
    register_signin(app)
    register_audit(app)
    register_compliance(app)
    register_compliance_lists(app)
    register_api(app, stack)
    register_console(app, stack.desk)
    add_page_routes(app)
    register_scheduled(app, stack.store)
    register_telephony(app, stack, telephony)
    register_twilio_transfer(app)
    register_webrtc(app, stack)
    register_sip(app, stack, sip or SipSettings())
    register_campaigns(app)
    register_load(app, caps, stack.observability.metrics, stack.store, stack.stt)
    if drain is not None:
        from callwright.server.drain import install_drain

        install_drain(app, stack, drain)
    if worker is not None:
        from callwright.server.drain import install_heartbeat

        install_heartbeat(app, stack.store, worker)
    return app


async def _close_access(app: web.Application) -> None:
    app[AUTHENTICATOR].close()


async def _open_access(app: web.Application) -> None:
    access = app[AUTHENTICATOR].access
    await access.ensure_schema()
    if not await access.list_users():
        log.warning("no operator accounts yet: `callwright users add admin --role admin`")


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "active_calls": len(request.app[SESSIONS])})


async def live(request: web.Request) -> web.Response:
    """The process is up (even while draining)."""
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """The worker takes new calls: 503 while it drains or is full (`server/load.py`)."""
    admission = request.app[ADMISSION]
    full = request.app[WORKER_LOAD].full_reasons()
    body = {"live_calls": admission.live, "draining": admission.draining, "full": full}
    if admission.draining:
        return web.json_response({"status": "draining", **body}, status=503)
    if full:
        return web.json_response({"status": "full", **body}, status=503)
    return web.json_response({"status": "ok", **body})


async def native_websocket(request: web.Request) -> web.WebSocketResponse:
    """A call over the native protocol (docs/websocket-protocol.md)."""
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE_BYTES, compress=False)
    await ws.prepare(request)
    stack, admission = request.app[STACK], request.app[ADMISSION]
    # Behind a trusted proxy the caller's own address counts, not the proxy's.
    address = request.app[GUARD].client_address(request)
    refusal = admission.refusal(address)
    if refusal is not None:
        await _refuse(ws, stack, refusal)
        return ws
    with admission.connection(address):
        await _serve_websocket_call(request, ws)
    return ws


async def _serve_websocket_call(request: web.Request, ws: web.WebSocketResponse) -> None:
    stack, admission = request.app[STACK], request.app[ADMISSION]
    try:
        msg = await ws.receive(timeout=START_TIMEOUT_S)
        if msg.type != WSMsgType.TEXT:
            raise ProtocolError("start_required", 'send {"type": "start", ...} before any audio')
        start = parse_start(msg.data)
    except (TimeoutError, ProtocolError) as exc:
        code = exc.code if isinstance(exc, ProtocolError) else "start_timeout"
        await _reject(ws, stack, code, str(exc) or "no start message in time")
        return
    # Checked again: the start message may have taken a while (the worker may be draining now).
    refusal = admission.refusal()
    if refusal is not None:
        await _refuse(ws, stack, refusal)
        return
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
        with admission.call(session):
            await session.run()
    finally:
        request.app[SESSIONS].discard(ws)


async def _reject(
    ws: web.WebSocketResponse,
    stack: AgentStack,
    code: str,
    message: str,
    close_code: int = WSCloseCode.POLICY_VIOLATION,
) -> None:
    """Refuses a connection that never became a valid call, and records that it happened."""
    await record_rejection(stack.store, "websocket", code, message)
    if not ws.closed:
        await ws.send_str(json.dumps({"type": "error", "code": code, "message": message}))
        await ws.close(code=close_code, message=code.encode()[:120])


async def _refuse(ws: web.WebSocketResponse, stack: AgentStack, refusal: Refusal) -> None:
    """A call turned away by admission: an error event, then 1013 (try again later)."""
    await _reject(ws, stack, refusal.code, refusal.message, TRY_AGAIN_LATER)


async def _end_active_calls(app: web.Application) -> None:
    """At shutdown, calls still live end now, recorded as "server_shutdown"."""
    admission = app[ADMISSION]
    admission.draining = True
    await admission.end_all(None, "server_shutdown")
    sessions = app[SESSIONS]
    for ws in list(sessions):  # any socket that was not a call yet
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
