"""Calls callwright places over SIP: through the trunk (the outbound proxy or the registrar),
answered into the same session pipeline as every call. `POST /v1/calls/outbound` with
`"transport": "sip"` comes here once policy and compliance have passed (server/telephony.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from callwright.core.responder import CallInfo
from callwright.server.sip import CallMedia, SipServer, proxy_of
from callwright.sip.dialog import SipDialog
from callwright.sip.message import uri_user_host
from callwright.sip.outbound import CallFailed, place_call
from callwright.sip.sdp import SdpError, parse_offer
from callwright.store.base import CallRecord

log = logging.getLogger(__name__)

RING_TIMEOUT_S = 60.0


def sip_target(server: SipServer, to: str) -> tuple[str, tuple[str, int]]:
    """The Request-URI for `to` (a number or a SIP URI) and where the INVITE is sent.

    Raises:
        ValueError: a number, but no trunk (outbound proxy or registrar) to send it to.
    """
    settings = server.settings
    proxy = proxy_of(settings)
    if to.startswith("sip:"):
        _, host, port = uri_user_host(to)
        return to, proxy or (host, port or 5060)
    if settings.register_uri:
        _, host, port = uri_user_host(settings.register_uri)
    elif proxy is not None:
        host, port = proxy
    else:
        raise ValueError("calling a number over SIP needs an outbound proxy or a registrar")
    return f"sip:{to}@{host}", proxy or (host, port or 5060)


def dial(server: SipServer, to: str, parameters: dict[str, str], from_: str | None = None) -> str:
    """Starts calling `to` (as `from_`, our number, when given); the call id (its record is
    written whatever happens).

    Raises:
        ValueError: `to` cannot be reached over SIP as configured.
    """
    target, destination = sip_target(server, to)
    call_id = uuid.uuid4().hex
    # Both parties' numbers, as an inbound call has them (recording consent checks both).
    ours = {"from": from_} if from_ else {}
    params = {**parameters, **ours}
    task = asyncio.create_task(_call(server, call_id, to, target, destination, params))
    server.placing.add(task)  # kept referenced until done (the loop holds tasks weakly)
    task.add_done_callback(server.placing.discard)
    return call_id


async def _call(
    server: SipServer,
    call_id: str,
    to: str,
    target: str,
    destination: tuple[str, int],
    parameters: dict[str, str],
) -> None:
    media = await server.open_media()
    params = {**parameters, "direction": "outbound", "to": to}
    server.admission.reserve(call_id, RING_TIMEOUT_S)  # a ringing call holds its line
    try:
        dialog, body = await _invite(server, target, destination, media)
    except CallFailed as exc:
        outcome = "busy" if exc.status in (486, 600) else "not_answered"
        await _not_connected(server, media, call_id, to, params, outcome, str(exc))
        return
    media.peer_source = destination[0]
    try:
        answer = parse_offer(body)
        media.follow(answer)
    except SdpError as exc:
        await dialog.bye()
        await _not_connected(server, media, call_id, to, params, "failed", exc.reason)
        return
    dialog.on_offer = media.answer
    log.info("sip: outbound call %s to %s answered (%s)", call_id, target, answer.codec)
    await server.run_call(CallInfo(call_id, "sip", to, params), dialog, media, answer, call_id)


async def _invite(
    server: SipServer, target: str, destination: tuple[str, int], media: CallMedia
) -> tuple[SipDialog, bytes]:
    """INVITEs `target` through `destination` as our registered user (digest credentials
    when configured); the dialog and the SDP answer. Raises `CallFailed`."""
    settings = server.settings
    credentials = None
    if settings.register_user and settings.register_password:
        credentials = (settings.register_user, settings.register_password)
    return await place_call(
        server.ua,
        target,
        destination,
        media.offer(),
        settings.register_user or "callwright",
        credentials,
        RING_TIMEOUT_S,
    )


async def _not_connected(
    server: SipServer,
    media: CallMedia,
    call_id: str,
    to: str,
    params: dict[str, str],
    outcome: str,
    why: str,
) -> None:
    """A call that never connected: its line is free, its record says why."""
    server.admission.release(call_id)
    media.rtp.close()
    log.info("sip: outbound call %s to %s not connected: %s", call_id, to, why)
    store = server.stack.store
    await store.start_call(CallRecord(call_id, "sip", to, time.time(), params))
    await store.end_call(call_id, outcome, why)


CONSULT_HOLD_S = 30.0  # a consultation leg not replaced by then is hung up


async def consult(server: SipServer, target: str) -> SipDialog | None:
    """The consultation call of an attended transfer: placed to `target` and kept (silent)
    until the transferred caller replaces it, or `CONSULT_HOLD_S` passes."""
    _, destination = sip_target(server, target)
    media = await server.open_media()
    media.peer_source = destination[0]
    try:
        dialog, body = await _invite(server, target, destination, media)
        media.follow(parse_offer(body))
    except (CallFailed, SdpError) as exc:
        log.info("sip: consultation call to %s failed: %s", target, exc)
        media.rtp.close()
        return None

    async def hold() -> None:
        try:
            await asyncio.wait_for(dialog.ended.wait(), CONSULT_HOLD_S)
        except TimeoutError:
            await dialog.bye()
        finally:
            media.rtp.close()

    task = asyncio.create_task(hold())
    server.placing.add(task)  # kept referenced until done (the loop holds tasks weakly)
    task.add_done_callback(server.placing.discard)
    return dialog
