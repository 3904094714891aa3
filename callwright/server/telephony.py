"""Telephony routes: signed webhooks, media stream endpoints, outbound calls.

- `POST /v1/twilio/incoming`: incoming-call webhook; answers `<Connect><Stream>`
- `POST /v1/twilio/status`: call status callbacks, recorded on the call
- `POST /v1/twilio/after-stream`: the `<Redirect>` after the stream (transfer, hang-up)
- `POST /v1/twilio/dial-done`, `/v1/twilio/callback-answer`: a transfer's outcome, and the
  callback offered when nobody answered it (`server/twilio_transfer.py`)
- `GET  /v1/twilio/stream/{token}`: Twilio Media Streams WebSocket
- `POST /v1/telnyx/incoming`: TeXML incoming-call webhook (Ed25519 signed)
- `GET  /v1/telnyx/stream/{token}`: Telnyx media streaming WebSocket
- `POST /v1/calls/outbound`: `{"to", "from", "parameters", "purpose", "schedule"}` places a
  call through Twilio (`"transport": "sip"`: through the SIP trunk, docs/sip.md; outside calling
  hours: schedules it, `server/scheduled.py`)

Every webhook is verified before anything else; a bad or missing signature gets 403 and a log
line. A stream is accepted only with a token a verified webhook issued, once, within its TTL,
and only for the call that webhook was about.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import aiohttp
from aiohttp import WSCloseCode, web
from twilio.base.exceptions import TwilioRestException

from callwright.agent.session import CallSession
from callwright.agent.stack import AgentStack
from callwright.compliance.numbers import NumberError, e164_or_as_given, to_e164
from callwright.core.responder import CallInfo
from callwright.server.admission import (
    ADMISSION,
    BUSY_LINE,
    STREAM_STARTED,
    Admission,
    record_rejection,
)
from callwright.server.agents import stack_for
from callwright.server.audit import record
from callwright.server.compliance import compliance_of, outbound_refusal
from callwright.server.early_record import end_rejected, record_before_upgrade
from callwright.server.guard import GUARD
from callwright.server.outbound import admit_outbound, outbound_error, release_outbound
from callwright.server.scheduled import schedule_outbound
from callwright.server.signin import read_json_object
from callwright.server.sip import SIP
from callwright.server.sip_outbound import dial as dial_sip
from callwright.store.access import SqlStore
from callwright.store.base import CallStore
from callwright.telephony import twiml
from callwright.telephony.calls import TelephonyCalls
from callwright.telephony.control import TwilioCallControl, TwilioRest
from callwright.telephony.pending import PendingCalls, SqlPendingCalls
from callwright.telephony.settings import TelephonySettings
from callwright.telephony.signatures import TelnyxSignatures, TwilioSignatures
from callwright.telephony.telnyx_control import TelnyxCallControl, TelnyxRest
from callwright.telephony.tokens import StreamClaim, StreamTokens
from callwright.transports.media_stream import (
    MediaStreamDialect,
    MediaStreamTransport,
    StreamCallControl,
    StreamProtocolError,
    StreamStart,
    accept_stream,
)
from callwright.transports.telnyx import TELNYX
from callwright.transports.twilio import TWILIO

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
ONE_STREAM_PER_CALL_S = 86400.0  # how long a call's one stream is remembered
XML = "text/xml"


@dataclass(slots=True)
class Telephony:
    """The telephony side of one server."""

    stack: AgentStack
    settings: TelephonySettings
    calls: TelephonyCalls
    tokens: StreamTokens
    twilio_signatures: TwilioSignatures
    telnyx_signatures: TelnyxSignatures
    rest: TwilioRest | None
    telnyx: TelnyxRest | None = None
    sockets: set[web.WebSocketResponse] = field(default_factory=set)


TELEPHONY = web.AppKey("telephony", Telephony)


class DialError(Exception):
    """The platform did not take our request to place a call, or did not answer it.

    Attributes:
        call_id: the call's record (ended with outcome "dial_error").
        reason: what went wrong, in words.
        refused: the platform clearly did not place the call (it answered 4xx, or the request
            never left); False when it may have (a timeout, a dropped connection, a 5xx).
    """

    def __init__(self, call_id: str, reason: str, refused: bool) -> None:
        super().__init__(reason)
        self.call_id = call_id
        self.reason = reason
        self.refused = refused


def _refused(exc: BaseException) -> bool:
    """Whether a failed request to place a call clearly placed none (see `DialError`)."""
    if isinstance(exc, TwilioRestException):
        return 400 <= exc.status < 500
    # The connection was never made (refused, no route, no such host): nothing was sent.
    return isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError)


# Who else hears outbound calls' status callbacks (the campaign runner), if anyone.
StatusHook = Callable[[str, str], Awaitable[None]]
CALL_STATUS_HOOK: web.AppKey[StatusHook] = web.AppKey("call_status_hook")


def _pending_calls(store: CallStore) -> PendingCalls | None:
    """Calls still to stream in the shared database on PostgreSQL (several workers), else
    in this worker's memory: the setting that picks the store picks this too."""
    if getattr(store, "dialect", "") == "postgresql":
        return SqlPendingCalls(cast(SqlStore, store))
    return None


def register(app: web.Application, stack: AgentStack, settings: TelephonySettings) -> None:
    """Adds the telephony routes to `app`.

    Raises:
        ValueError: the REST API is configured without `CALLWRIGHT_PUBLIC_BASE_URL`.
    """
    if settings.twilio_rest_enabled and not settings.public_base_url:
        # Outbound calls carry our URLs to the platform: never build them from a request.
        raise ValueError("CALLWRIGHT_PUBLIC_BASE_URL is required once the Twilio REST API is set")
    app[TELEPHONY] = Telephony(
        stack=stack,
        settings=settings,
        calls=TelephonyCalls(stack.store, pending=_pending_calls(stack.store)),
        tokens=StreamTokens(settings.twilio_auth_token),
        twilio_signatures=TwilioSignatures(settings.twilio_auth_token),
        telnyx_signatures=TelnyxSignatures(
            settings.telnyx_public_key, settings.signature_tolerance_s
        ),
        rest=TwilioRest(settings) if settings.twilio_rest_enabled else None,
        telnyx=_telnyx_rest(settings),
    )
    app.router.add_post("/v1/twilio/incoming", twilio_incoming)
    app.router.add_post("/v1/twilio/status", twilio_status)
    app.router.add_post("/v1/twilio/after-stream", twilio_after_stream)
    app.router.add_post("/v1/twilio/machine-detection", twilio_machine_detection)
    app.router.add_get("/v1/twilio/stream/{token}", twilio_stream)
    app.router.add_post("/v1/telnyx/incoming", telnyx_incoming)
    app.router.add_get("/v1/telnyx/stream/{token}", telnyx_stream)
    app.router.add_post("/v1/calls/outbound", place_outbound_call)
    app.on_shutdown.append(_shutdown)


# --- URLs ------------------------------------------------------------------------------------


def public_base(request: web.Request, settings: TelephonySettings) -> str:
    """The https:// base the platform used to reach us (what it signed)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    if not request.app[GUARD].trusts_proxy(request.remote):
        return f"{request.scheme}://{request.host}"
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme)
    host = request.headers.get("X-Forwarded-Host", request.host)
    return f"{scheme}://{host}"


def _ws_base(base: str) -> str:
    return "wss://" + base[8:] if base.startswith("https://") else "ws://" + base.split("://")[1]


# --- Twilio webhooks ---------------------------------------------------------------------------


async def verified_twilio_form(request: web.Request) -> dict[str, str]:
    """The webhook's POST parameters, if `X-Twilio-Signature` checks out; else 403."""
    tel = request.app[TELEPHONY]
    form = {k: str(v) for k, v in (await request.post()).items()}
    url = public_base(request, tel.settings) + request.path_qs
    problem = tel.twilio_signatures.verify(url, form, request.headers.get("X-Twilio-Signature"))
    if problem is not None:
        log.warning("refused Twilio webhook %s from %s: %s", request.path, request.remote, problem)
        raise web.HTTPForbidden(text="invalid signature")
    return form


async def _busy_answer(request: web.Request, provider: str, form: dict[str, str]) -> str | None:
    """The polite busy answer (TwiML/TeXML) if the worker takes no call now, recorded."""
    admission = _admission(request)
    ref = form.get("CallSid") or form.get("CallControlId") or ""
    refusal = None if admission.holds(ref) else admission.refusal()
    if refusal is None:
        return None
    store = request.app[TELEPHONY].stack.store
    await record_rejection(store, provider, refusal.code, refusal.message, {"call_sid": ref})
    return twiml.busy(BUSY_LINE)


def _admission(request: web.Request) -> Admission:
    # Servers built without the app module (tests of the telephony routes alone) admit all.
    return request.app.get(ADMISSION) or Admission()


async def twilio_incoming(request: web.Request) -> web.Response:
    """Answers an incoming call with a media stream to us (or busy, when at capacity)."""
    tel = request.app[TELEPHONY]
    form = await verified_twilio_form(request)
    busy = await _busy_answer(request, "twilio", form)
    if busy is not None:
        return web.Response(text=busy, content_type=XML)
    base = public_base(request, tel.settings)
    return await _answer_with_stream(
        request, "twilio", form.get("CallSid", ""), form, after_url=f"{base}/v1/twilio/after-stream"
    )


async def _answer_with_stream(
    request: web.Request,
    provider: str,
    call_ref: str,
    form: dict[str, str],
    **stream_options: str,
) -> web.Response:
    """Expects the inbound call, issues its stream token, and answers with `<Connect><Stream>`."""
    if not call_ref:
        raise web.HTTPBadRequest(text="CallSid is required")
    tel = request.app[TELEPHONY]
    region = compliance_of(request.app).settings.default_region
    caller = e164_or_as_given(form.get("From"), region) or None
    called = e164_or_as_given(form.get("To"), region)
    params = {k: v for k, v in {"caller": caller, "to": called}.items() if v}
    await tel.calls.expect(provider, "inbound", ref=call_ref, caller=caller, parameters=params,
                     call_sid=call_ref)  # fmt: skip
    token = tel.tokens.issue(call_ref, tel.settings.stream_token_ttl_s)
    _admission(request).reserve(call_ref, tel.settings.stream_token_ttl_s)
    base = public_base(request, tel.settings)
    document = twiml.connect_stream(
        f"{_ws_base(base)}/v1/{provider}/stream/{token}", params, **stream_options
    )
    return web.Response(text=document, content_type=XML)


async def twilio_status(request: web.Request) -> web.Response:
    """Records a status callback (ringing, answered, completed, busy, no-answer...)."""
    tel = request.app[TELEPHONY]
    form = await verified_twilio_form(request)
    call_sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
    if not call_sid or not status:
        raise web.HTTPBadRequest(text="CallSid and CallStatus are required")
    await tel.calls.status(call_sid, status, form, request.query.get("ref"))
    hook = request.app.get(CALL_STATUS_HOOK)
    if hook is not None:
        await hook(call_sid, status)
    return web.Response(status=204)


async def twilio_machine_detection(request: web.Request) -> web.Response:
    """Twilio's answering machine detection result: recorded on the call; on a machine, the
    configured voicemail is left after the beep (or the call hangs up), and that is recorded."""
    tel = request.app[TELEPHONY]
    form = await verified_twilio_form(request)
    call_sid, answered_by = form.get("CallSid", ""), form.get("AnsweredBy", "")
    if not call_sid or not answered_by:
        raise web.HTTPBadRequest(text="CallSid and AnsweredBy are required")
    await tel.calls.status(call_sid, f"answered_by:{answered_by}", form, request.query.get("ref"))
    hook = request.app.get(CALL_STATUS_HOOK)
    if answered_by.startswith("machine") or answered_by == "fax":
        voicemail = compliance_of(request.app).settings.voicemail
        action = "voicemail" if voicemail and answered_by != "fax" else "hangup"
        document = twiml.busy(voicemail) if action == "voicemail" else twiml.hangup()
        if tel.rest is not None:
            # The stream (if it started) ends, and the message plays after the beep.
            await tel.rest.update_call(call_sid, twiml=document)
        await tel.calls.status(call_sid, f"machine:{action}", {}, request.query.get("ref"))
        if hook is not None:
            await hook(call_sid, f"machine:{action}")
    return web.Response(status=204)


async def twilio_after_stream(request: web.Request) -> web.Response:
    """What the call does once its stream ended: a transfer, or hanging up."""
    tel = request.app[TELEPHONY]
    form = await verified_twilio_form(request)
    document = await tel.calls.take_after_stream(form.get("CallSid", "")) or twiml.hangup()
    return web.Response(text=document, content_type=XML)


# --- Telnyx webhook ----------------------------------------------------------------------------


async def telnyx_incoming(request: web.Request) -> web.Response:
    """TeXML incoming-call webhook: answers a bidirectional PCMU stream to us."""
    tel = request.app[TELEPHONY]
    body = await request.read()
    problem = tel.telnyx_signatures.verify(
        body,
        request.headers.get("telnyx-signature-ed25519"),
        request.headers.get("telnyx-timestamp"),
    )
    if problem is not None:
        log.warning("refused Telnyx webhook %s from %s: %s", request.path, request.remote, problem)
        raise web.HTTPForbidden(text="invalid signature")
    form = {k: str(v) for k, v in (await request.post()).items()}
    busy = await _busy_answer(request, "telnyx", form)
    if busy is not None:
        return web.Response(text=busy, content_type=XML)
    call_ref = form.get("CallSid") or form.get("CallControlId") or ""
    return await _answer_with_stream(
        request, "telnyx", call_ref, form, bidirectional_mode="rtp", bidirectional_codec="PCMU"
    )


# --- streams -----------------------------------------------------------------------------------


async def twilio_stream(request: web.Request) -> web.StreamResponse:
    """A Twilio Media Streams call."""
    return await _stream(request, TWILIO)


async def telnyx_stream(request: web.Request) -> web.StreamResponse:
    """A Telnyx media streaming call."""
    return await _stream(request, TELNYX)


async def _stream(request: web.Request, dialect: MediaStreamDialect) -> web.StreamResponse:
    tel = request.app[TELEPHONY]
    claim = await tel.tokens.redeem_once(request.match_info["token"], tel.stack.store.claim_once)
    if not isinstance(claim, StreamClaim):
        log.warning("refused %s stream from %s: %s", dialect.channel, request.remote, claim)
        raise web.HTTPForbidden(text="invalid stream token")
    # Recorded before the upgrade: a worker that dies from here on still leaves the call's record.
    call_id = await record_before_upgrade(
        tel.stack, dialect.channel, claim.ref, await tel.calls.find(claim.ref, None)
    )
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, compress=False)
    try:
        await ws.prepare(request)
        start = await accept_stream(ws, dialect)
    except StreamProtocolError as exc:
        await _reject(tel, ws, call_id, exc.code, str(exc))
        return ws
    except BaseException:
        await end_rejected(tel.stack, call_id, "upgrade_failed", "the stream never started")
        raise
    try:
        session = await _stream_session(request, tel, ws, dialect, claim, start, call_id)
    except Exception:
        # Whatever failed between the upgrade and the call (the store, a bad parameter), the
        # early record is ended, never left "active" on a worker that lives on.
        log.exception("%s stream of call %s could not be set up", dialect.channel, call_id)
        try:
            await _reject(tel, ws, call_id, "setup_failed", "the call could not be set up")
        finally:
            await ws.close()
        return ws
    if session is None:
        return ws
    call, call_ref = session.call, start.call_ref
    started_at = time.time()
    log.info("%s call %s: stream %s started (call %s)",
             dialect.channel, call_ref, start.stream_id, call.call_id)  # fmt: skip
    tel.sockets.add(ws)
    try:
        admission = _admission(request)
        with admission.call(session):
            admission.release(claim.ref)  # the line its webhook held is now this call's
            await _run_stream_session(tel, session, claim, call_ref)
    finally:
        tel.sockets.discard(ws)
        tel.calls.stream_ended(call_ref, call.call_id, started_at)
    return ws


async def _stream_session(
    request: web.Request,
    tel: Telephony,
    ws: web.WebSocketResponse,
    dialect: MediaStreamDialect,
    claim: StreamClaim,
    start: StreamStart,
    call_id: str,
) -> CallSession | None:
    """The session of a stream that started, or None if it was refused (and recorded so)."""
    call_ref = start.call_ref
    # One stream per platform call, across every worker: a re-sent webhook's second token
    # cannot open a second stream for a call that already has one. The call the token names
    # gets one stream too: once an outbound call's stream took its pending entry (which bound
    # our ref to the CallSid), a stream whose start names the ref as its CallSid is that call.
    until = time.time() + ONE_STREAM_PER_CALL_S
    for ref in dict.fromkeys((call_ref, claim.ref)):  # once each when they are the same
        if not await tel.stack.store.claim_once(f"stream-call:{dialect.channel}:{ref}", until):
            await _reject(tel, ws, call_id, "duplicate_stream", f"call {ref} already has a stream")
            return None
    pending = await tel.calls.find(claim.ref, call_ref)
    if not tel.calls.expected_here(claim.ref):  # another worker answered it and holds a line
        expires = time.time() + tel.settings.stream_token_ttl_s
        await tel.stack.store.put_handover(STREAM_STARTED + claim.ref, call_ref, expires)
    expected = pending.call_sid if pending is not None else claim.ref
    if claim.ref != call_ref and expected is not None and expected != call_ref:
        await _reject(tel, ws, call_id, "wrong_call",
                      f"the stream token is for {expected}, not {call_ref}")  # fmt: skip
        return None
    control: StreamCallControl | None = None
    if dialect is TWILIO:
        dial_done = f"{public_base(request, tel.settings)}/v1/twilio/dial-done"  # twilio_transfer
        control = TwilioCallControl(
            call_ref, tel.calls, tel.rest, tel.settings.transfer_number, dial_done
        )
    elif dialect is TELNYX and tel.telnyx is not None:
        called = pending.parameters.get("to") if pending else None
        control = TelnyxCallControl(call_ref, tel.telnyx, tel.settings.transfer_number, called)
    transport = MediaStreamTransport(ws, dialect, start, control=control)
    caller = (pending.caller if pending else None) or start.parameters.get("caller")
    params = {**(pending.parameters if pending else {}), **start.parameters}
    params |= {"call_sid": call_ref, "stream_sid": start.stream_id}
    if pending is not None:
        params["direction"] = pending.direction  # ours: no parameter names it
    call = CallInfo(
        call_id=call_id,
        channel=dialect.channel,
        caller=caller,
        parameters=params,
    )
    # A campaign's (or an admin's) outbound call may name a configured agent (server/agents.py).
    stack = stack_for(request.app, tel.stack, params)
    return CallSession(stack, transport, call, recorded_early=True)


async def _run_stream_session(
    tel: Telephony, session: CallSession, claim: StreamClaim, call_ref: str
) -> None:
    running = asyncio.create_task(session.run())
    # run() writes the call record before its first await; events may follow it from here on.
    await asyncio.sleep(0)

    def record(kind: str, data: dict[str, Any]) -> None:
        session.state.recorder.event(kind, session.state.clock.now_ms(), data)

    if await tel.calls.stream_started(claim.ref, call_ref, record) is None:
        await tel.calls.stream_live(call_ref, session.call.call_id, record)
    await running


async def _reject(
    tel: Telephony, ws: web.WebSocketResponse, call_id: str, code: str, message: str
) -> None:
    """Refuses a stream that never became a valid call: its early record says so."""
    log.warning("rejected stream of call %s: %s: %s", call_id, code, message)
    await end_rejected(tel.stack, call_id, code, message)
    if not ws.closed:
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=code.encode()[:120])


# --- outbound calls ----------------------------------------------------------------------------


async def place_outbound_call(request: web.Request) -> web.Response:
    """Places a call through Twilio that streams to us once answered (admins only)."""
    tel = request.app[TELEPHONY]
    body = await read_json_object(request)
    over_sip = body.get("transport") == "sip"  # else Twilio
    if over_sip and SIP not in request.app:
        raise web.HTTPServiceUnavailable(text="SIP is not enabled (CALLWRIGHT_SIP_PORT)")
    if tel.rest is None and not over_sip:
        raise web.HTTPServiceUnavailable(text="outbound calls need Twilio REST credentials")
    to, from_ = body.get("to"), body.get("from")
    parameters = body.get("parameters") or {}
    if not isinstance(to, str) or not isinstance(from_, str) or not isinstance(parameters, dict):
        raise _outbound_error(400, "bad_request", '"to" and "from" (strings) are required')
    try:
        region = compliance_of(request.app).settings.default_region
        to, from_ = to_e164(to, region), to_e164(from_, region)
    except NumberError as exc:
        raise _outbound_error(400, "bad_number", str(exc)) from exc
    slot = await admit_outbound(request, to)  # the destination policy and the hourly limit
    try:
        purpose = body.get("purpose")
        if purpose is not None and not isinstance(purpose, str):
            raise _outbound_error(400, "bad_request", '"purpose" must be a string')
        schedule = body.get("schedule", True)
        if not isinstance(schedule, bool):
            raise _outbound_error(400, "bad_request", '"schedule" must be true or false')
        params = {str(k): str(v) for k, v in parameters.items()}
        refused = await outbound_refusal(compliance_of(request.app), to, purpose)
        if refused is not None:
            await record(request, "outbound.refused", to, reason=refused.reason, **refused.extra)
            if schedule and refused.code == "outside_calling_hours":
                # Held back, not dropped: placed at the next permitted moment (its slot counts).
                return await schedule_outbound(request, to, from_, purpose, params, refused)
            raise _outbound_error(refused.status, refused.code, refused.message, **refused.extra)
        if over_sip:
            try:
                call_id = dial_sip(request.app[SIP], to, params, from_)
            except ValueError as exc:
                raise _outbound_error(400, "no_sip_route", str(exc)) from exc
            await record(request, "outbound.place", to, call_id=call_id, transport="sip")
            return web.json_response({"call_id": call_id}, status=201)
    except web.HTTPError:
        await release_outbound(request, slot)  # no call placed or held back: it does not count
        raise
    try:
        call_id, call_sid = await dial_outbound(
            request.app, to, from_, params, public_base(request, tel.settings)
        )
    except DialError as exc:
        # The call's record (outcome dial_error) is written; the audit log says who tried.
        await record(request, "outbound.failed", to, call_id=exc.call_id, error=exc.reason)
        body = {"error": "dial_error", "message": exc.reason, "call_id": exc.call_id}
        raise web.HTTPBadGateway(text=json.dumps(body), content_type="application/json") from exc
    await record(request, "outbound.place", to, call_id=call_id, call_sid=call_sid)
    return web.json_response({"call_id": call_id, "call_sid": call_sid}, status=201)


async def dial_outbound(
    app: web.Application,
    to: str,
    from_: str,
    parameters: dict[str, str],
    base: str | None = None,
    machine_detection: bool = False,
) -> tuple[str, str]:
    """Places one call through the REST API that streams to us once answered; its call id and
    CallSid. The caller has checked policy and compliance (the API, or a campaign's runner).

    Raises:
        RuntimeError: no REST credentials.
        DialError: the platform refused the call, or its answer never came (the call's record
            is written, ended with outcome "dial_error").
    """
    tel = app[TELEPHONY]
    if tel.rest is None:
        raise RuntimeError("outbound calls need Twilio REST credentials")
    base = (base or tel.settings.public_base_url or "").rstrip("/")
    # Both parties' numbers, as an inbound call has them: recording consent depends on our
    # line's jurisdiction as much as on the callee's (agent/call_compliance.py).
    params = parameters | {"caller": to, "to": to, "from": from_}
    pending = await tel.calls.expect("twilio", "outbound", caller=to, parameters=params)
    token = tel.tokens.issue(pending.ref, tel.settings.outbound_token_ttl_s)
    document = twiml.connect_stream(
        f"{_ws_base(base)}/v1/twilio/stream/{token}",
        params,
        after_url=f"{base}/v1/twilio/after-stream",
    )
    status_url = f"{base}/v1/twilio/status?ref={pending.ref}"
    amd_url = f"{base}/v1/twilio/machine-detection?ref={pending.ref}" if machine_detection else None
    try:
        call_sid = await tel.rest.create_call(to, from_, document, status_url, amd_url)
    except Exception as exc:
        refused = _refused(exc)
        reason = str(exc) or type(exc).__name__
        if not refused:
            reason = f"no clear answer from the platform, the call may have gone out: {reason}"
        log.warning("outbound call to %s (call %s) failed: %s", to, pending.call_id, reason)
        detail = {"error": type(exc).__name__, "refused": refused}
        await tel.calls.dial_failed(pending.ref, reason, detail)
        raise DialError(pending.call_id, reason, refused) from exc
    await tel.calls.set_call_sid(pending.ref, call_sid)
    log.info("outbound call %s to %s placed (call %s)", call_sid, to, pending.call_id)
    return pending.call_id, call_sid


def _outbound_error(status: int, code: str, message: str, **extra: Any) -> web.HTTPError:
    return outbound_error(status, code, message, **extra)


async def _shutdown(app: web.Application) -> None:
    tel = app[TELEPHONY]
    for ws in list(tel.sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
    if tel.rest is not None:
        await tel.rest.aclose()
    if tel.telnyx is not None:
        await tel.telnyx.aclose()


def _telnyx_rest(settings: TelephonySettings) -> TelnyxRest | None:
    """Telnyx's Call Control API when an API key is configured (transfers, hang-ups)."""
    if not settings.telnyx_api_key:
        return None
    return TelnyxRest(settings.telnyx_api_key, settings.telnyx_api_base_url)
