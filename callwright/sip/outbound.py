"""Placing a call (the INVITE client transaction, RFC 3261 17.1.1 and 13.2).

One INVITE with our SDP offer; a 401/407 is answered once with digest credentials; provisional
answers keep it ringing up to `ring_timeout_s`; a final refusal is acknowledged and raised; a
2xx makes the dialog and is acknowledged (again for each retransmission of it).
"""

from __future__ import annotations

import secrets

from callwright.sip.dialog import SipDialog
from callwright.sip.digest import authorization
from callwright.sip.message import SipMessage, address_uri, header_params, new_branch, new_tag
from callwright.sip.ua import Address, SipUserAgent


class CallFailed(Exception):
    """The far end did not take the call: `status` 0 means no answer at all."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


def _invite(
    ua: SipUserAgent,
    target: str,
    local: str,
    call_id: str,
    cseq: int,
    sdp: bytes,
    auth: tuple[str, str] | None,
) -> SipMessage:
    msg = SipMessage(method="INVITE", uri=target)
    msg.add("via", ua.via(new_branch()))
    msg.add("max-forwards", "70")
    msg.add("from", local)
    msg.add("to", f"<{target}>")
    msg.add("call-id", call_id)
    msg.add("cseq", f"{cseq} INVITE")
    msg.add("contact", ua.contact())
    msg.add("supported", "timer")
    if auth is not None:
        msg.add(*auth)
    msg.add("content-type", "application/sdp")
    msg.body = sdp
    return msg


def _ack_failure(ua: SipUserAgent, invite: SipMessage, response: SipMessage, to: Address) -> None:
    """The ACK of a non-2xx final answer: part of the INVITE transaction (same branch)."""
    ack = SipMessage(method="ACK", uri=invite.uri)
    ack.add("via", invite.get("via") or "")
    ack.add("max-forwards", "70")
    ack.add("from", invite.get("from") or "")
    ack.add("to", response.get("to") or "")
    ack.add("call-id", invite.call_id)
    ack.add("cseq", f"{invite.cseq[0]} ACK")
    ua.send(ack, to)


async def place_call(
    ua: SipUserAgent,
    target: str,
    destination: Address,
    sdp: bytes,
    from_user: str = "callwright",
    credentials: tuple[str, str] | None = None,
    ring_timeout_s: float = 60.0,
) -> tuple[SipDialog, bytes]:
    """Calls `target` (a SIP URI) through `destination`; the dialog and the SDP answer.

    Raises:
        CallFailed: refused (busy, declined, not found...), or no answer in time.
    """
    call_id = secrets.token_hex(12)
    local = f"<sip:{from_user}@{ua.settings.contact_host}>;tag={new_tag()}"
    cseq, auth = 1, None
    for _ in range(2):
        invite = _invite(ua, target, local, call_id, cseq, sdp, auth)
        try:
            response = await ua.send_request(invite, destination, ring_timeout_s=ring_timeout_s)
        except TimeoutError as exc:
            raise CallFailed(0, "no answer") from exc
        if response.status < 300:
            break
        _ack_failure(ua, invite, response, destination)
        if response.status not in (401, 407) or credentials is None or auth is not None:
            raise CallFailed(response.status, response.reason)
        header = "www-authenticate" if response.status == 401 else "proxy-authenticate"
        try:
            value = authorization(response.get(header) or "", "INVITE", target, *credentials)
        except ValueError as exc:
            raise CallFailed(response.status, str(exc)) from exc
        auth = ("authorization" if response.status == 401 else "proxy-authorization", value)
        cseq += 1
    else:  # pragma: no cover - the loop breaks or raises
        raise CallFailed(0, "unreachable")
    dialog = SipDialog(
        ua,
        call_id,
        local=local,
        remote=response.get("to") or "",
        remote_target=address_uri(response.get("contact") or "") or target,
        route_set=[address_uri(r) for r in reversed(response.get_all("record-route"))],
        local_cseq=cseq - 1,
    )
    # Its requests come from where we sent the INVITE, the callee's Contact or a proxy on the
    # route (those given as IP addresses; a peer known by name only is not checked).
    dialog.trust(destination[0])
    ack = dialog.new_request("ACK")  # carries the INVITE's CSeq number (13.2.2.4)
    ua.add_dialog(dialog)
    branch = header_params(invite.get("via") or "").get("branch", "")
    ua.keep_listening(branch, lambda again: ua.send(ack, dialog.destination()))
    ua.send(ack, dialog.destination())
    ua.spawn(_stop_listening_at_end(ua, dialog, branch))
    return dialog, response.body


async def _stop_listening_at_end(ua: SipUserAgent, dialog: SipDialog, branch: str) -> None:
    await dialog.ended.wait()
    ua.stop_listening(branch)
