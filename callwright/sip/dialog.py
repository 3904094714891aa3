"""A SIP dialog (RFC 3261 12): the requests we send inside a call, and those the peer sends.

We send BYE (hang up), REFER (transfer, RFC 3515) and UPDATE (session refresh, when we are the
refresher). The peer's BYE, re-INVITE (new SDP: the media follows it), UPDATE and NOTIFY (the
progress of a REFER, as a `message/sipfrag` status line) are dispatched here by the user agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from callwright.sip.message import (
    SipMessage,
    address_uri,
    header_params,
    is_number,
    new_branch,
    uri_user_host,
)
from callwright.sip.sdp import AudioOffer

if TYPE_CHECKING:
    from callwright.sip.ua import SipUserAgent

log = logging.getLogger(__name__)

NOTIFY_WAIT_S = 8.0  # how long a transfer waits for the final NOTIFY after 202 Accepted


class SipDialog:
    """One call's dialog.

    Args:
        ua: the user agent that sends and receives for it.
        call_id: the Call-ID.
        local: our From/To header value, with our tag.
        remote: the peer's, with its tag.
        remote_target: the peer's Contact URI (where in-dialog requests go).
        route_set: Record-Route URIs in the order requests must follow them.
        remote_cseq: the CSeq number of the request that made the dialog.
    """

    def __init__(
        self,
        ua: SipUserAgent,
        call_id: str,
        local: str,
        remote: str,
        remote_target: str,
        route_set: list[str],
        remote_cseq: int = 0,
        local_cseq: int = 0,
    ) -> None:
        self.ua = ua
        self.call_id = call_id
        self.local = local
        self.remote = remote
        self.remote_target = remote_target
        self.route_set = route_set
        self.remote_cseq = remote_cseq
        self.local_cseq = local_cseq
        self.ended = asyncio.Event()
        self.end_reason = ""
        self.end_detail = ""  # what the record says about a hang-up that is not the peer's
        # The agreed RFC 4028 Session-Expires value, repeated in the 2xx of every refresh.
        self.session_expires = ""
        # Set by the call: a new offer from the peer → our SDP answer (raises SdpError).
        self.on_offer: Callable[[AudioOffer], bytes] | None = None
        self.on_refresh: Callable[[], None] | None = None
        self._notifies: asyncio.Queue[str] = asyncio.Queue(maxsize=16)
        self.refresh_task: asyncio.Task[None] | None = None
        # Where the dialog's peer may send from (IP addresses): its requests from anywhere
        # else are refused, or whoever learned the dialog's Call-ID and tags could move its
        # media (a re-INVITE) from any address. Empty: not checked (a peer known by name).
        self.peer_hosts: set[str] = set()

    def trust(self, *sources: str) -> None:
        """The peer may send in-dialog requests from `sources` (where its INVITE came from,
        or where we sent ours), its Contact's host and the hosts on the route: the IP
        addresses among them. A hop known only by name (a proxy we reach through DNS) cannot
        be told by its address: then nothing is checked, rather than refuse its BYE."""
        hosts = [
            *sources,
            *(uri_user_host(uri)[1] for uri in [self.remote_target, *self.route_set]),
        ]
        addresses = set()
        for host in filter(None, hosts):  # no Contact: no host of it to trust
            try:
                addresses.add(str(ipaddress.ip_address(host.strip("[]"))))
            except ValueError:
                self.peer_hosts = set()
                return
        self.peer_hosts |= addresses

    def trusted(self, host: str) -> bool:
        """May an in-dialog request come from `host`?"""
        return not self.peer_hosts or host in self.peer_hosts

    @property
    def local_tag(self) -> str:
        return header_params(self.local).get("tag", "")

    @property
    def remote_tag(self) -> str:
        return header_params(self.remote).get("tag", "")

    def destination(self) -> tuple[str, int]:
        """Where in-dialog requests are sent: the first route, else the remote target."""
        uri = self.route_set[0] if self.route_set else self.remote_target
        _, host, port = uri_user_host(uri)
        return host, port or 5060

    def new_request(self, method: str, body: bytes = b"", content_type: str = "") -> SipMessage:
        """An in-dialog request with the next CSeq."""
        self.local_cseq += 1
        msg = SipMessage(method=method, uri=self.remote_target)
        msg.add("via", self.ua.via(new_branch()))
        msg.add("max-forwards", "70")
        msg.add("from", self.local)
        msg.add("to", self.remote)
        msg.add("call-id", self.call_id)
        msg.add("cseq", f"{self.local_cseq} {method}")
        for route in self.route_set:
            msg.add("route", f"<{route}>")
        msg.add("contact", self.ua.contact())
        if body:
            msg.add("content-type", content_type)
        msg.body = body
        return msg

    def end(self, reason: str) -> None:
        """The dialog is over (either side hung up)."""
        if not self.ended.is_set():
            self.end_reason = reason
            self.ended.set()
            if self.refresh_task is not None:
                self.refresh_task.cancel()
            self.ua.forget_dialog(self)

    async def bye(self) -> None:
        """Hangs up (once); the peer's answer does not matter."""
        if self.ended.is_set():
            return
        self.end(self.end_reason or "local_bye")
        # Sent on the user agent's own task: hanging up never waits on a silent peer.
        self.ua.spawn(self._send_quietly(self.new_request("BYE")))

    async def _send_quietly(self, request: SipMessage) -> None:
        with contextlib.suppress(TimeoutError, OSError):
            await self.ua.send_request(request, self.destination())

    async def refer(self, target: str, replaces: str | None = None) -> bool:
        """Asks the peer to call `target` instead (blind transfer; attended with `replaces`,
        the Replaces value of the dialog the peer should take over). True once the peer's
        NOTIFY reports the new call answered (or, without NOTIFY, its 202 Accepted)."""
        msg = self.new_request("REFER")
        refer_to = target if replaces is None else f"{target}?Replaces={_escape(replaces)}"
        msg.add("refer-to", f"<{refer_to}>")
        msg.add("referred-by", f"<{address_uri(self.local)}>")
        try:
            response = await self.ua.send_request(msg, self.destination())
        except (TimeoutError, OSError):
            return False
        if response.status // 100 != 2:
            log.info(
                "sip call %s: REFER refused: %s %s", self.call_id, response.status, response.reason
            )
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + NOTIFY_WAIT_S
        while (remaining := deadline - loop.time()) > 0:
            try:
                frag = await asyncio.wait_for(self._notifies.get(), remaining)
            except TimeoutError:
                return True  # accepted; the peer is not reporting progress
            parts = frag.split(" ", 2)
            status = int(parts[1]) if len(parts) > 1 and is_number(parts[1]) else 0
            if status >= 200:
                return status < 300
        return True

    async def handle(self, request: SipMessage) -> tuple[int, str, bytes]:
        """A request from the peer inside this dialog → (status, reason, SDP body)."""
        number, method = request.cseq
        if method != "ACK":
            if number <= self.remote_cseq and method != "CANCEL":
                return 500, "CSeq Out Of Order", b""
            self.remote_cseq = number
        if method == "BYE":
            self.end("caller_hung_up")
            return 200, "OK", b""
        if method in ("INVITE", "UPDATE"):
            if self.on_refresh is not None:
                self.on_refresh()
            if not request.body:
                return 200, "OK", b""
            from callwright.sip.sdp import SdpError, parse_offer

            try:
                offer = parse_offer(request.body)
                answer = self.on_offer(offer) if self.on_offer else b""
            except SdpError as exc:
                return exc.status, exc.reason, b""
            return 200, "OK", answer
        if method == "NOTIFY":
            frag = request.body.decode("utf-8", "replace").split("\r\n", 1)[0][:100]
            with contextlib.suppress(asyncio.QueueFull):
                self._notifies.put_nowait(frag)
            return 200, "OK", b""
        if method in ("OPTIONS", "INFO"):
            return 200, "OK", b""
        return 405, "Method Not Allowed", b""


async def run_session_timer(
    dialog: SipDialog, interval_s: float, we_refresh: bool, refreshed: asyncio.Event
) -> None:
    """RFC 4028: refresh at half the interval if we are the refresher; otherwise end the call
    with a BYE when no refresh came in time (10.3: the interval less a third of it, at most
    32 s less, so that the BYE leaves before the session expires at the peer)."""
    while not dialog.ended.is_set():
        if we_refresh:
            await asyncio.sleep(interval_s / 2)
            request = dialog.new_request("UPDATE")
            request.add("session-expires", f"{interval_s:g};refresher=uac")
            with contextlib.suppress(TimeoutError, OSError):
                await dialog.ua.send_request(request, dialog.destination())
            continue
        refreshed.clear()
        try:
            await asyncio.wait_for(refreshed.wait(), interval_s - min(32.0, interval_s / 3))
        except TimeoutError:
            log.info(
                "sip call %s: no session refresh in %.0f s; ending", dialog.call_id, interval_s
            )
            dialog.end_reason = "session_expired"
            dialog.end_detail = f"no session refresh within {interval_s:g} s (RFC 4028)"
            await dialog.bye()
            return


def _escape(value: str) -> str:
    return value.replace("%", "%25").replace("@", "%40").replace(";", "%3B").replace("=", "%3D")
