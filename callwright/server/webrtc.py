"""WebRTC signalling: `POST /v1/webrtc/offer` answers a browser's or app's SDP offer.

The request is `{"type": "offer", "sdp": "...", "caller": ..., "parameters": {...}}` and needs
an operator credential, like `/v1/ws` (a signed-in session or an API key, with the same Origin
checks). The answer is complete (every ICE candidate gathered, no trickle):
`{"type": "answer", "sdp": "...", "call_id": "...", "codec": "opus"}`.

Admission applies as for every call: the live-call cap and the per-address cap are checked
before any peer connection exists (503 with the refusal's code), and the address keeps its
connection slot and a held line until the call ends or never connects; one credential may have
at most four answered offers waiting to connect (429 `too_many_offers`). A bad offer gets a 400
naming what is wrong (`bad_sdp`, `no_audio`, `no_common_codec`) and is recorded as a rejected
call. The call itself runs on a task the server owns: the same `CallSession` as every other
transport; its peer connection is closed when it ends, and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from callwright.agent.session import CallSession
from callwright.agent.stack import AgentStack
from callwright.core.responder import CallInfo
from callwright.server.admission import ADMISSION, Admission, record_rejection
from callwright.server.auth import principal_of
from callwright.server.guard import GUARD
from callwright.server.signin import read_json_object
from callwright.transports.webrtc import WebRtcTransport
from callwright.transports.webrtc_sdp import CheckedOffer, OfferProblem, check_offer

log = logging.getLogger(__name__)

CHANNEL = "webrtc"
ANSWER_TIMEOUT_S = 10.0  # ICE gathering on the host's interfaces takes well under a second
CONNECT_TIMEOUT_S = 20.0  # from the answer to a connected peer (ICE and DTLS)
MAX_PARAMETERS = 32
MAX_VALUE_CHARS = 256
# Answered offers not yet connected, per credential: each holds a line for up to 30 s, so one
# credential's offers, never connected, could otherwise keep every line of the worker busy.
MAX_UNCONNECTED_PER_CREDENTIAL = 4


@dataclass(slots=True)
class WebRtcCalls:
    """The WebRTC calls of one server: their tasks and transports (closed at shutdown)."""

    stack: AgentStack
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    transports: set[WebRtcTransport] = field(default_factory=set)
    unconnected: Counter[str] = field(default_factory=Counter)  # by credential


WEBRTC = web.AppKey("webrtc", WebRtcCalls)


def register(app: web.Application, stack: AgentStack) -> None:
    """Adds `POST /v1/webrtc/offer` to `app`."""
    app[WEBRTC] = WebRtcCalls(stack)
    app.router.add_post("/v1/webrtc/offer", webrtc_offer)
    app.on_shutdown.append(_shutdown)


def _connected(calls: WebRtcCalls, who: str) -> None:
    """One offer of `who` is no longer waiting to connect."""
    calls.unconnected[who] -= 1
    if calls.unconnected[who] <= 0:
        del calls.unconnected[who]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


async def _refuse(calls: WebRtcCalls, status: int, code: str, message: str) -> web.Response:
    await record_rejection(calls.stack.store, CHANNEL, code, message)
    return _error(status, code, message)


def _parameters(body: dict[str, object]) -> tuple[str | None, dict[str, str]] | None:
    params, caller = body.get("parameters") or {}, body.get("caller")
    if not isinstance(params, dict) or len(params) > MAX_PARAMETERS:
        return None
    if caller is not None and not isinstance(caller, str):
        return None
    clean = {str(k)[:MAX_VALUE_CHARS]: str(v)[:MAX_VALUE_CHARS] for k, v in params.items()}
    return (caller[:MAX_VALUE_CHARS] if caller else None), clean


async def webrtc_offer(request: web.Request) -> web.Response:
    """Answers an SDP offer and starts the call once the peer connects."""
    calls, admission = request.app[WEBRTC], request.app[ADMISSION]
    body = await read_json_object(request)
    if body.get("type", "offer") != "offer":
        return await _refuse(calls, 400, "bad_request", '"type" must be "offer"')
    try:
        offer = check_offer(body.get("sdp"))
    except OfferProblem as exc:
        return await _refuse(calls, 400, exc.code, str(exc))
    given = _parameters(body)
    if given is None:
        message = '"parameters" must be an object of at most 32 entries, "caller" a string'
        return await _refuse(calls, 400, "bad_request", message)
    address = request.app[GUARD].client_address(request)
    refusal = admission.refusal(address)
    if refusal is not None:
        return await _refuse(calls, 503, refusal.code, refusal.message)
    principal = principal_of(request)
    who = f"{principal.kind}:{principal.name}" if principal else f"address:{address}"
    if calls.unconnected[who] >= MAX_UNCONNECTED_PER_CREDENTIAL:
        message = "too many offers of this credential are waiting to connect; try again shortly"
        return await _refuse(calls, 429, "too_many_offers", message)
    call_id = uuid.uuid4().hex
    slot = contextlib.ExitStack()
    slot.enter_context(admission.connection(address))
    admission.reserve(call_id, ANSWER_TIMEOUT_S + CONNECT_TIMEOUT_S)
    codec = offer.codecs[0]
    transport = WebRtcTransport(RTCPeerConnection(RTCConfiguration(iceServers=[])), codec)
    calls.transports.add(transport)
    try:
        answer = await asyncio.wait_for(_answer(transport, offer), ANSWER_TIMEOUT_S)
    except Exception as exc:
        slot.close()
        admission.release(call_id)
        calls.transports.discard(transport)
        await transport.shutdown()
        return await _refuse(calls, 400, "bad_sdp", f"the offer cannot be answered: {exc!r:.200}")
    caller, params = given
    call = CallInfo(call_id=call_id, channel=CHANNEL, caller=caller, parameters=params)
    calls.unconnected[who] += 1
    task = asyncio.create_task(_run_call(calls, admission, transport, call, slot, who))
    calls.tasks.add(task)
    task.add_done_callback(calls.tasks.discard)
    return web.json_response({"type": "answer", "sdp": answer, "call_id": call_id, "codec": codec})


async def _answer(transport: WebRtcTransport, offer: CheckedOffer) -> str:
    pc = transport.pc
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
    sender = pc.addTrack(transport.track)
    wanted = f"audio/{transport.codec}"
    codecs = [c for c in RTCRtpSender.getCapabilities("audio").codecs
              if c.mimeType.lower() == wanted]  # fmt: skip
    audio_seen = False
    for transceiver in pc.getTransceivers():
        if transceiver.sender is sender:
            transceiver.setCodecPreferences(codecs)
            audio_seen = True
        else:  # video, or a second audio m-line: nothing is decoded or buffered for it
            transceiver.direction = "inactive"
    if not audio_seen:
        raise ValueError("no audio transceiver")
    await pc.setLocalDescription(await pc.createAnswer())
    return pc.localDescription.sdp


async def _run_call(
    calls: WebRtcCalls,
    admission: Admission,
    transport: WebRtcTransport,
    call: CallInfo,
    slot: contextlib.ExitStack,
    who: str,
) -> None:
    store = calls.stack.store
    try:
        try:
            connected = await transport.wait_connected(CONNECT_TIMEOUT_S)
        finally:
            _connected(calls, who)  # the credential's offer is no longer waiting
        if not connected:
            message = f"the peer did not connect within {CONNECT_TIMEOUT_S:.0f} s"
            await record_rejection(store, CHANNEL, "connect_timeout", message, call.parameters)
            return
        admission.release(call.call_id)  # the line held for it becomes the call's own
        refusal = admission.refusal()  # the worker may have started draining meanwhile
        if refusal is not None:
            await transport.send_event(
                {"type": "error", "code": refusal.code, "message": refusal.message}
            )
            await record_rejection(store, CHANNEL, refusal.code, refusal.message, call.parameters)
            return
        await transport.send_event(
            {
                "type": "started",
                "call_id": call.call_id,
                "codec": transport.codec,
                "sample_rate": transport.input_sample_rate,
                "output_sample_rate": transport.output_sample_rate,
                "frame_ms": 20,
            }
        )
        session = CallSession(calls.stack, transport, call)
        with admission.call(session):
            await session.run()
    except Exception:
        log.exception("webrtc call %s failed", call.call_id)
    finally:
        admission.release(call.call_id)
        slot.close()
        calls.transports.discard(transport)
        await transport.shutdown()


async def _shutdown(app: web.Application) -> None:
    """Runs after live calls were ended: closes connections that never became calls."""
    calls = app[WEBRTC]
    for transport in list(calls.transports):
        await transport.shutdown()
    if calls.tasks:
        await asyncio.wait(list(calls.tasks), timeout=10.0)
