"""The SIP user agent over UDP: transactions (RFC 3261 17) and dispatch to dialogs.

Every datagram passes a per-source rate limit before it is even parsed, then the strict parser
(`sip/message.py`); a message we refuse gets a clear status (400, 405, 481, 513) when it is a
request we can answer, and is dropped otherwise. New INVITEs go to the `InviteHandler` (the
server: authentication, admission, media); everything inside a dialog goes to the `SipDialog`.

Server transactions answer retransmissions with the last response; our final responses to an
INVITE are retransmitted (timer G) until the ACK comes or 32 s pass. Client transactions
(BYE, REFER, REGISTER, UPDATE; INVITE in `sip/outbound.py`) retransmit their request (timer E)
until a final response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from callwright.sip.dialog import SipDialog
from callwright.sip.message import (
    CONTROL_IN_LINE,
    SipMessage,
    SipParseError,
    header_params,
    parse_message,
    response_to,
)
from callwright.sip.settings import SipSettings
from callwright.sip.transaction import (
    T1,
    T2,
    TRANSACTION_S,
    Address,
    InviteServer,
    SourceLimit,
    response_address,
)

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY, UPDATE, INFO"
RECEIVE_BUFFER = 1 << 20
MAX_TRANSACTIONS = 4096  # remembered server transactions (retransmission answers), oldest go


InviteHandler = Callable[[InviteServer], Awaitable[None]]


class SipUserAgent(asyncio.DatagramProtocol):
    """Sends and receives SIP on one UDP socket.

    Args:
        settings: where to listen, who may call.
        on_invite: runs each new INVITE (its own task).
    """

    def __init__(self, settings: SipSettings, on_invite: InviteHandler) -> None:
        self.settings = settings
        self._on_invite = on_invite
        self._transport: asyncio.DatagramTransport | None = None
        self.port = settings.port
        self._limit = SourceLimit(settings.requests_per_s)
        self._invites: OrderedDict[tuple[str, str], InviteServer] = OrderedDict()
        self._dialogs: dict[tuple[str, str], SipDialog] = {}
        self._clients: dict[str, asyncio.Future[SipMessage]] = {}
        self._provisional: dict[str, Callable[[SipMessage], None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.refused = 0  # malformed or oversized messages

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.settings.host, self.settings.port)
        )
        self.port = self._transport.get_extra_info("sockname")[1]
        sock = self._transport.get_extra_info("socket")
        with contextlib.suppress(OSError):  # room for bursts (the kernel caps it at rmem_max)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for invite in self._invites.values():
            if invite.retransmit is not None:
                invite.retransmit.cancel()
        if self._transport is not None:
            self._transport.close()

    # --- addressing ----------------------------------------------------------------------

    def via(self, branch: str) -> str:
        return f"SIP/2.0/UDP {self.settings.contact_host}:{self.port};branch={branch};rport"

    def contact(self, user: str = "callwright") -> str:
        return f"<sip:{user}@{self.settings.contact_host}:{self.port}>"

    def send(self, msg: SipMessage, addr: Address) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(msg.to_bytes(), addr)

    def reply(
        self,
        request: SipMessage,
        addr: Address,
        status: int,
        reason: str,
        to_tag: str | None = None,
        body: bytes = b"",
        **headers: str,
    ) -> SipMessage:
        """Sends a response to `request` (to where its top Via says, RFC 3581 rport)."""
        msg = response_to(request, status, reason, to_tag)
        for name, value in headers.items():
            msg.add(name.replace("_", "-"), value)
        if body:
            msg.add("content-type", "application/sdp")
        msg.body = body
        self.send(msg, response_address(request, addr))
        return msg

    # --- inbound -------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if not self._limit.allow(addr[0]):
            return
        if data.strip() == b"":
            return  # keep-alive (RFC 5626 CRLF)
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            self.refused += 1
            log.info("sip: refused %d bytes from %s: %s", len(data), addr[0], exc.reason)
            if exc.status:
                self._refuse_unparsed(data, addr, exc.status, exc.reason)
            return
        try:
            if msg.is_request:
                self._on_request(msg, addr)
            else:
                self._on_response(msg)
        except Exception:
            # A message the parser took but a handler could not (a value of a form no check
            # foresaw): one refusal counted and logged, never the loop's traceback per datagram.
            self.refused += 1
            log.warning("sip: could not handle a message from %s", addr[0], exc_info=True)

    def _may_answer(self, msg: SipMessage, addr: Address) -> bool:
        """Whether an INVITE may be a call we take: from the allow-list, or with credentials
        to check. Anything else is refused at once, and needs no provisional answer first."""
        return self.settings.allowed(addr[0]) or bool(msg.get("authorization"))

    def _refuse_unparsed(self, data: bytes, addr: Address, status: int, reason: str) -> None:
        """Answers a request we could not parse, if enough of it is there to address a reply."""
        head = data[:4096].split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").split("\r\n")
        if not head or head[0].startswith("SIP/2.0") or head[0].split(" ")[0] == "ACK":
            return
        if any(CONTROL_IN_LINE.search(line) for line in head[:60]):
            return  # echoed back, a lone LF would add header lines to our answer
        msg = SipMessage(method="?", uri="sip:?")
        for line in head[1:60]:
            name, _, value = line.partition(":")
            msg.add(name.strip().lower(), value.strip()[:512])
        if all(msg.get(h) for h in ("via", "from", "to", "call-id", "cseq")):
            self.reply(msg, addr, status, reason)

    def _on_request(self, msg: SipMessage, addr: Address) -> None:
        method = msg.method or ""
        key = (msg.call_id, header_params(msg.get("via") or "").get("branch", ""))
        to_tag = header_params(msg.get("to") or "").get("tag")
        if method == "ACK":
            invite = self._invites.get(key)
            if invite is None:
                dialog = self._dialog_of(msg)
                invite = self._invite_of_dialog(dialog) if dialog else None
            if invite is not None:
                invite.acked.set()
            return
        if method == "CANCEL":
            self._on_cancel(msg, addr, key)
            return
        if method == "INVITE" and key in self._invites:
            last = self._invites[key].last
            if last is not None:  # a retransmission: the same answer again
                self.send(last, response_address(msg, addr))
            return
        if to_tag:
            dialog = self._dialog_of(msg)
            if dialog is None:
                self.reply(msg, addr, 481, "Call/Transaction Does Not Exist")
                return
            if not dialog.trusted(addr[0]) and not self.settings.allowed(addr[0]):
                log.warning("sip: refused %s in a dialog from %s, not its peer", method, addr[0])
                self.refused += 1
                self.reply(msg, addr, 403, "Forbidden")
                return
            self.spawn(self._in_dialog(dialog, msg, addr))
            return
        if method == "INVITE":
            from callwright.sip.message import new_tag

            invite = InviteServer(msg, addr, new_tag())
            self._invites[key] = invite
            while len(self._invites) > MAX_TRANSACTIONS:
                _, old = self._invites.popitem(last=False)
                if old.retransmit is not None:
                    old.retransmit.cancel()
            if self._may_answer(msg, addr):  # a stranger gets no 100 before it is refused
                self.reply(msg, addr, 100, "Trying")
            self.spawn(self._on_invite(invite))
        elif method == "OPTIONS":
            self.reply(msg, addr, 200, "OK", allow=ALLOW, accept="application/sdp")
        elif method in ("BYE", "NOTIFY", "UPDATE", "INFO", "REFER"):
            self.reply(msg, addr, 481, "Call/Transaction Does Not Exist")
        else:
            self.reply(msg, addr, 405, "Method Not Allowed", allow=ALLOW)

    def _on_cancel(self, msg: SipMessage, addr: Address, key: tuple[str, str]) -> None:
        invite = self._invites.get(key)
        if invite is None or invite.final:
            self.reply(msg, addr, 481, "Call/Transaction Does Not Exist")
            return
        self.reply(msg, addr, 200, "OK")
        invite.cancelled.set()
        self.answer(invite, 487, "Request Terminated")

    async def _in_dialog(self, dialog: SipDialog, msg: SipMessage, addr: Address) -> None:
        status, reason, body = await dialog.handle(msg)
        headers = {"contact": self.contact()} if msg.method in ("INVITE", "UPDATE") else {}
        if headers and status < 300 and dialog.session_expires:
            headers["session_expires"] = dialog.session_expires  # RFC 4028 7.4: still timed
        response = self.reply(msg, addr, status, reason, dialog.local_tag, body, **headers)
        if msg.method == "INVITE":  # re-INVITE: its 2xx is retransmitted until the ACK too
            key = (msg.call_id, header_params(msg.get("via") or "").get("branch", ""))
            invite = InviteServer(msg, addr, dialog.local_tag, last=response)
            self._invites[key] = invite
            if status < 300:
                invite.retransmit = asyncio.create_task(self._retransmit(invite))

    def _on_response(self, msg: SipMessage) -> None:
        branch = header_params(msg.get("via") or "").get("branch", "")
        if msg.status < 200:
            callback = self._provisional.get(branch)
            if callback is not None:
                callback(msg)
            return
        future = self._clients.get(branch)
        if future is not None and not future.done():
            future.set_result(msg)
        elif msg.status < 300 and msg.cseq[1] == "INVITE":
            callback = self._provisional.get(branch)  # a 2xx retransmission: ACK it again
            if callback is not None:
                callback(msg)

    # --- answering INVITEs ---------------------------------------------------------------

    def answer(
        self, invite: InviteServer, status: int, reason: str, body: bytes = b"", **headers: str
    ) -> None:
        """Sends a response to an INVITE; a final one is retransmitted until the ACK."""
        if invite.final:
            return
        response = self.reply(
            invite.request, invite.source, status, reason, invite.local_tag, body, **headers
        )
        invite.last = response
        if status >= 200:
            invite.retransmit = asyncio.create_task(self._retransmit(invite))

    def refuse_unauthenticated(
        self, invite: InviteServer, status: int, reason: str, **headers: str
    ) -> None:
        """A final refusal (401, 403) of an INVITE that did not authenticate, sent once.

        Retransmitted until an ACK, a forged UDP source would get ten copies over 32 s. A peer
        that lost it retransmits its INVITE, and the retransmission gets the same answer again.
        """
        if not invite.final:
            invite.last = self.reply(
                invite.request, invite.source, status, reason, invite.local_tag, b"", **headers
            )

    async def _retransmit(self, invite: InviteServer) -> None:
        """Timer G until the ACK; after 32 s without one, a 2xx dialog is ended."""
        interval, waited = T1, 0.0
        while waited < TRANSACTION_S:
            try:
                await asyncio.wait_for(invite.acked.wait(), interval)
                return
            except TimeoutError:
                waited += interval
            if invite.last is not None:
                self.send(invite.last, response_address(invite.request, invite.source))
            interval = min(2 * interval, T2)
        if invite.last is not None and invite.last.status < 300:
            dialog = self._dialog_of(invite.request, invite.local_tag)
            if dialog is not None:
                log.info("sip call %s: no ACK for our answer; ending", dialog.call_id)
                dialog.end_reason = "no_ack"
                await dialog.bye()

    # --- dialogs -------------------------------------------------------------------------

    def add_dialog(self, dialog: SipDialog) -> None:
        self._dialogs[(dialog.call_id, dialog.local_tag)] = dialog

    def forget_dialog(self, dialog: SipDialog) -> None:
        self._dialogs.pop((dialog.call_id, dialog.local_tag), None)

    def _dialog_of(self, msg: SipMessage, local_tag: str | None = None) -> SipDialog | None:
        tag = local_tag or header_params(msg.get("to") or "").get("tag", "")
        return self._dialogs.get((msg.call_id, tag))

    def _invite_of_dialog(self, dialog: SipDialog) -> InviteServer | None:
        for (call_id, _), invite in reversed(self._invites.items()):
            if call_id == dialog.call_id and not invite.acked.is_set():
                return invite
        return None

    @property
    def dialogs(self) -> int:
        return len(self._dialogs)

    # --- client transactions -------------------------------------------------------------

    async def send_request(
        self,
        msg: SipMessage,
        addr: Address,
        on_provisional: Callable[[SipMessage], None] | None = None,
        ring_timeout_s: float = TRANSACTION_S,
    ) -> SipMessage:
        """Sends a request and waits for its final response (timer E/A retransmissions).

        Raises:
            TimeoutError: no final response within 32 s (an INVITE that rings: within
                `ring_timeout_s`).
        """
        branch = header_params(msg.get("via") or "").get("branch", "")
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self._clients[branch] = future
        got_provisional = False

        def provisional(response: SipMessage) -> None:
            nonlocal got_provisional
            got_provisional = True
            if on_provisional is not None:
                on_provisional(response)

        self._provisional[branch] = provisional
        interval, waited = T1, 0.0
        try:
            while waited < (ring_timeout_s if got_provisional else TRANSACTION_S):
                if not got_provisional or msg.method != "INVITE":
                    self.send(msg, addr)
                try:
                    return await asyncio.wait_for(asyncio.shield(future), interval)
                except TimeoutError:
                    waited += interval
                    interval = min(2 * interval, T2) if msg.method != "INVITE" else 2 * interval
            raise TimeoutError(f"no answer to {msg.method} in {TRANSACTION_S:.0f} s")
        finally:
            self._clients.pop(branch, None)
            self._provisional.pop(branch, None)  # an answered INVITE: see keep_listening

    def keep_listening(self, branch: str, callback: Callable[[SipMessage], None]) -> None:
        """Routes later responses on `branch` (2xx retransmissions of our INVITE) to callback."""
        self._provisional[branch] = callback

    def stop_listening(self, branch: str) -> None:
        self._provisional.pop(branch, None)

    def spawn(self, coro: Awaitable[None]) -> None:
        """Runs `coro` as the user agent's task (cancelled when it closes)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sip: a request handler failed", exc_info=task.exception())
