"""After a transfer to a person's phone on Twilio: how the dial went, and a callback offer.

A transfer ends the call's stream and runs `<Dial action=".../v1/twilio/dial-done">` on the
live call (`telephony/control.py`). Twilio posts the dial's outcome there once it is over:

- `POST /v1/twilio/dial-done`: `DialCallStatus` is recorded on the call (a `transfer_result`
  event). The person answered (completed): the call hangs up once they do. Busy, not
  answered, failed or canceled: the call's outcome becomes `transfer_failed`, and the caller,
  still on the line, is offered a callback instead of being cut off.
- `POST /v1/twilio/callback-answer`: their answer (said, or the keys 1 and 2). Yes records
  `callback_requested` on the call (its outcome too) and sends the `callback_requested`
  webhook with the context packet the call recorded, as the console's callback does.

Both are signed webhooks, checked like every other before anything is read.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from callwright.flows.spanish import yes_or_no
from callwright.handoff.options import HandoffOptions
from callwright.server.telephony import TELEPHONY, XML, public_base, verified_twilio_form
from callwright.store.base import CallStore
from callwright.telephony import twiml

log = logging.getLogger(__name__)

ANSWERED = frozenset({"completed", "answered"})  # the person took the call


def register(app: web.Application) -> None:
    """Adds the routes (after `server.telephony.register`: they use its settings)."""
    app.router.add_post("/v1/twilio/dial-done", dial_done)
    app.router.add_post("/v1/twilio/callback-answer", callback_answer)


def _lines(request: web.Request) -> HandoffOptions:
    stack = request.app[TELEPHONY].stack
    return stack.lines(stack.language).handoff_options(stack.handoff)


def _xml(document: str) -> web.Response:
    return web.Response(text=document, content_type=XML)


async def dial_done(request: web.Request) -> web.Response:
    """Records how a transfer's dial went; offers a callback when nobody took the call."""
    tel = request.app[TELEPHONY]
    form = await verified_twilio_form(request)
    call_sid, status = form.get("CallSid", ""), form.get("DialCallStatus", "")
    if not call_sid or not status:
        raise web.HTTPBadRequest(text="CallSid and DialCallStatus are required")
    result = {"status": status, "duration_s": form.get("DialCallDuration", "")}
    call_id = await tel.calls.record(call_sid, "transfer_result", result)
    if status in ANSWERED:
        return _xml(twiml.hangup())
    log.warning("twilio call %s: the transfer was %s; a callback is offered", call_sid, status)
    if call_id is not None:
        await tel.stack.store.end_call(call_id, "transfer_failed", f"the transfer was {status}")
    lines = _lines(request)
    answer_url = f"{public_base(request, tel.settings)}/v1/twilio/callback-answer"
    return _xml(twiml.offer_callback(lines.nobody_line, answer_url, lines.callback_no_line))


async def callback_answer(request: web.Request) -> web.Response:
    """The caller's answer to the callback offered after a transfer nobody took."""
    tel = request.app[TELEPHONY]
    form = await verified_twilio_form(request)
    call_sid, lines = form.get("CallSid", ""), _lines(request)
    if not call_sid:
        raise web.HTTPBadRequest(text="CallSid is required")
    digits = form.get("Digits", "")
    said = yes_or_no(form.get("SpeechResult", ""), tel.stack.language)
    if not (digits == "1" or (digits != "2" and said is True)):
        await tel.calls.record(call_sid, "callback_declined", {})
        return _xml(twiml.busy(lines.callback_no_line))
    # The caller's number: who called us, or whom we called.
    outbound = form.get("Direction", "inbound").startswith("outbound")
    number = form.get("To" if outbound else "From")
    call_id = await tel.calls.record(call_sid, "callback_requested", {"call_sid": call_sid})
    packet: dict[str, Any] = {}
    if call_id is not None:
        store = tel.stack.store
        await store.end_call(call_id, "callback_requested", "after a transfer nobody took")
        packet = await _packet_of(store, call_id)
    if tel.stack.events is not None:
        asked = {"call_id": call_id, "call_sid": call_sid, "number": number}
        try:
            await tel.stack.events("callback_requested", {**asked, "packet": packet})
        except Exception:
            log.exception("twilio call %s: callback_requested event not delivered", call_sid)
    return _xml(twiml.busy(lines.callback_yes_line))


async def _packet_of(store: CallStore, call_id: str) -> dict[str, Any]:
    """The context packet the call recorded when it was escalated (as stored)."""
    detail = await store.get_call(call_id)
    packets = [e.data for e in detail.events if e.kind == "handoff_context"] if detail else []
    return dict(packets[-1]) if packets else {}
