"""SIP calls into the session pipeline: who may call, admission, media, the session.

An INVITE is answered only when its source is on the allow-list (a trunk's or the edge
proxy's addresses) or it carries digest credentials of a configured user (401 with a
challenge otherwise; 403 when neither is configured: SIP is secure by default). Then its SDP
must offer audio we take (488 otherwise), and admission must have a line (486 Busy Here, or
503 with Retry-After while draining). Every refusal after authentication is recorded like any
other rejected call; unauthenticated ones are only logged (a flood must not fill the store).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import uuid

from aiohttp import web

from callwright.agent.session import CallSession
from callwright.agent.stack import AgentStack
from callwright.core.responder import CallInfo
from callwright.server.admission import ADMISSION, Admission, record_rejection
from callwright.sip.call import SipCallTransport
from callwright.sip.dialog import SipDialog, run_session_timer
from callwright.sip.digest import DigestChallenger
from callwright.sip.message import address_uri, header_params, is_number, uri_user_host
from callwright.sip.register import Registration
from callwright.sip.sdp import CODECS, AudioOffer, SdpError, answer_sdp, build_sdp, parse_offer
from callwright.sip.settings import SipSettings
from callwright.sip.ua import ALLOW, InviteServer, SipUserAgent
from callwright.transports.base import InboundEvent
from callwright.transports.rtp import RtpStream
from callwright.transports.rtp_peer import RtpPeer

log = logging.getLogger(__name__)

RING_RESERVE_S = 60.0  # a ringing call holds its line at most this long


class SipServer:
    """The SIP side of one worker."""

    def __init__(self, app: web.Application, stack: AgentStack, settings: SipSettings) -> None:
        self._app = app
        self.stack = stack
        self.settings = settings
        self.ua = SipUserAgent(settings, self._on_invite)
        self._digest = DigestChallenger(settings.realm, settings.users)
        self.registration: Registration | None = None
        self.answered = 0  # calls this worker answered
        self._registering: asyncio.Task[None] | None = None
        self.placing: set[asyncio.Task[None]] = set()  # outbound calls (`sip_outbound.dial`)

    @property
    def admission(self) -> Admission:
        return self._app.get(ADMISSION) or Admission()

    async def start(self) -> None:
        settings = self.settings
        await self.ua.start()
        log.info("sip: listening on udp %s:%d", settings.host, self.ua.port)
        if not settings.allow_from and not settings.users:
            log.warning("sip: no CALLWRIGHT_SIP_ALLOW_FROM and no users: every call is refused")
        if settings.register_uri and settings.register_user and settings.register_password:
            self.registration = Registration(
                self.ua,
                settings.register_uri,
                settings.register_user,
                settings.register_password,
                settings.register_expires_s,
                proxy_of(settings),
            )
            self._registering = asyncio.create_task(self.registration.run())

    async def close(self) -> None:
        if self._registering is not None:
            self._registering.cancel()  # unregisters
            await asyncio.gather(self._registering, return_exceptions=True)
        self.ua.close()

    async def _on_invite(self, invite: InviteServer) -> None:
        request, source = invite.request, invite.source[0]
        if not self._authenticated(invite):
            return
        try:
            offer = parse_offer(request.body)
            media_address_allowed(offer.host, source)
        except SdpError as exc:
            self.ua.answer(invite, exc.status, exc.reason, warning=f'399 callwright "{exc.reason}"')
            await self._record_refusal(invite, "bad_sdp", exc.reason)
            return
        if self._interval_too_small(invite):
            return
        refusal = self.admission.refusal()
        if refusal is not None:
            if refusal.code == "server_draining":
                self.ua.answer(invite, 503, "Service Unavailable", retry_after="30")
            else:
                self.ua.answer(invite, 486, "Busy Here", retry_after="30")
            await self._record_refusal(invite, refusal.code, refusal.message)
            return
        self.admission.reserve(request.call_id, RING_RESERVE_S)
        try:
            await self._take(invite, offer, source)
        finally:
            self.admission.release(request.call_id)

    def _authenticated(self, invite: InviteServer) -> bool:
        settings, source = self.settings, invite.source[0]
        if settings.allowed(source):
            return True
        if not settings.users:
            log.warning("sip: refused INVITE from %s: not on the allow-list", source)
            self.ua.refuse_unauthenticated(invite, 403, "Forbidden")
            return False
        check = self._digest.check(invite.request.get("authorization"), "INVITE")
        if check.user is not None:
            return True
        if check.problem != "no credentials":
            log.warning("sip: refused INVITE from %s: %s", source, check.problem)
        if check.problem == "no credentials" or check.stale:  # expired, or used before
            challenge = self._digest.challenge(stale=check.stale)
            self.ua.refuse_unauthenticated(invite, 401, "Unauthorized", www_authenticate=challenge)
        else:
            self.ua.refuse_unauthenticated(invite, 403, "Forbidden")
        return False

    async def _record_refusal(self, invite: InviteServer, code: str, message: str) -> None:
        params = {"sip_call_id": invite.request.call_id}
        await record_rejection(self.stack.store, "sip", code, message, params)

    async def open_media(self) -> CallMedia:
        """A call's RTP sockets (ports from the OS) and the queue the session reads."""
        queue: asyncio.Queue[InboundEvent] = asyncio.Queue()
        rtp = RtpStream(SipCallTransport.sink(queue, lambda: rtp.stats))
        ports = await rtp.open(self.settings.host)
        host, latch = self.settings.contact_host, self.settings.latch_media
        return CallMedia(host, queue, rtp, *ports, latch=latch)

    async def _take(self, invite: InviteServer, offer: AudioOffer, source: str) -> None:
        media = await self.open_media()
        try:
            call, dialog = await self._answer(invite, offer, media)
        except Exception:
            # Never an answered call with no session: its RTP sockets and dialog would stay.
            log.exception("sip call %s: could not be set up", invite.request.call_id)
            media.rtp.close()
            if not invite.final:
                self.ua.answer(invite, 500, "Server Internal Error")
            return
        if call is None or dialog is None:
            return
        log.info(
            "sip call %s: answered from %s (call %s, %s)",
            invite.request.call_id,
            source,
            call.call_id,
            offer.codec,
        )
        await self.run_call(call, dialog, media, offer, invite.request.call_id)

    async def _answer(
        self, invite: InviteServer, offer: AudioOffer, media: CallMedia
    ) -> tuple[CallInfo | None, SipDialog | None]:
        """Rings, then answers `invite` (the call and its dialog), or None if it was
        cancelled first. What can fail is done before the 200 OK."""
        request, ua, settings = invite.request, self.ua, self.settings
        if settings.ring_s > 0:
            ua.answer(invite, 180, "Ringing")
            try:
                await asyncio.wait_for(invite.cancelled.wait(), settings.ring_s)
            except TimeoutError:
                pass
        if invite.cancelled.is_set() or invite.final:
            log.info("sip call %s: cancelled before the answer", request.call_id)
            media.rtp.close()
            return None, None
        caller_user, _, _ = uri_user_host(address_uri(request.get("from") or ""))
        called_user, _, _ = uri_user_host(request.uri)
        params = {"direction": "inbound", "to": called_user}
        call = CallInfo(uuid.uuid4().hex, "sip", caller_user or None, params)
        dialog = SipDialog(
            ua,
            request.call_id,
            local=f"{request.get('to')};tag={invite.local_tag}",
            remote=request.get("from") or "",
            remote_target=address_uri(request.get("contact") or request.get("from") or ""),
            route_set=[address_uri(r) for r in request.get_all("record-route")],
            remote_cseq=request.cseq[0],
        )
        dialog.on_offer = media.answer
        # Its requests come from where the INVITE did, its Contact, or a proxy on its route.
        dialog.trust(invite.source[0])
        media.peer_source = invite.source[0]
        answer = media.answer(offer)
        timer_headers = self._session_timer(invite, dialog)  # last: it starts the timer's task
        ua.add_dialog(dialog)
        ua.answer(invite, 200, "OK", answer, contact=ua.contact(), allow=ALLOW, **timer_headers)
        self.answered += 1
        return call, dialog

    async def run_call(
        self, call: CallInfo, dialog: SipDialog, media: CallMedia, offer: AudioOffer, ref: str
    ) -> None:
        """Runs the session of an established call; hangs up and closes the media after."""
        transport = SipCallTransport(dialog, media.rtp, media.queue, self.settings.transfer_target)
        if self.settings.transfer_mode == "attended":
            from callwright.server.sip_outbound import consult

            transport.consult = lambda target: consult(self, target)
        call.parameters.update(
            sip_call_id=dialog.call_id,
            codec=offer.codec,
            sip_listener=f"{self.settings.host}:{self.ua.port}",
        )
        try:
            session = CallSession(self.stack, transport, call)
            with self.admission.call(session):
                self.admission.release(ref)
                await session.run()
        finally:
            await transport.close("ended")  # BYE unless the far end already hung up
            dialog.end(dialog.end_reason or "local_bye")

    def _interval_too_small(self, invite: InviteServer) -> bool:
        """RFC 4028 8.1: a caller that supports timers and asks for a Session-Expires below
        our Min-SE gets 422 with ours (it retries with a longer one); True if refused."""
        request, minimum = invite.request, self.settings.min_session_expires_s
        value = request.get("session-expires")
        if not value or "timer" not in (request.get("supported") or ""):
            return False
        if _seconds(value) >= minimum:
            return False
        self.ua.answer(invite, 422, "Session Interval Too Small", min_se=str(minimum))
        return True

    def _session_timer(self, invite: InviteServer, dialog: SipDialog) -> dict[str, str]:
        """RFC 4028: accept the caller's interval (at least our Min-SE and theirs); the caller
        refreshes unless it asked us to. Without the caller's Session-Expires, no timer."""
        request = invite.request
        value = request.get("session-expires")
        if not value:
            return {}
        their_min = _seconds(request.get("min-se") or "0")
        interval = max(_seconds(value), their_min, self.settings.min_session_expires_s)
        refresher = header_params(value).get("refresher") or "uac"
        refreshed = asyncio.Event()
        dialog.on_refresh = refreshed.set
        dialog.session_expires = f"{interval};refresher={refresher}"
        dialog.refresh_task = asyncio.create_task(
            run_session_timer(dialog, float(interval), refresher == "uas", refreshed)
        )
        headers = {"session_expires": dialog.session_expires}
        if "timer" in (request.get("supported") or ""):
            headers["require"] = "timer"
        return headers


class CallMedia:
    """One call's media: the RTP stream, its ports, our SDP (versioned for re-INVITEs);
    `latch`: the stream may latch to a NAT's mapping at the peer's signalling IP."""

    def __init__(
        self,
        host: str,
        queue: asyncio.Queue[InboundEvent],
        rtp: RtpStream,
        rtp_port: int,
        rtcp_port: int,
        latch: bool = True,
    ) -> None:
        self.host, self.queue, self.rtp = host, queue, rtp
        self.rtp_port, self.rtcp_port = rtp_port, rtcp_port
        self.session_id, self.version = int(time.time()), 0
        self.peer_source: str | None = None  # the peer's signalling address, once known
        self.latch = latch  # RTP from `peer_source`'s IP may move the media there (NAT)

    def answer(self, offer: AudioOffer) -> bytes:
        """Our answer to `offer`; the media follows it (a new address, hold).

        Raises:
            SdpError: a re-offer moves the media where the peer may not send it.
        """
        self.follow(offer)
        self.version += 1
        return answer_sdp(
            offer, self.host, self.rtp_port, self.rtcp_port, self.session_id, self.version
        )

    def follow(self, sdp: AudioOffer) -> None:
        """Sends the media where the peer's offer or answer says, if it may go there, or
        where its RTP comes from at its signalling IP (a NAT's mapping: `MediaLatch`).

        Raises:
            SdpError: the address is not one this peer may send media to.
        """
        if self.peer_source is not None:
            media_address_allowed(sdp.host, self.peer_source)
        self.rtp.start(rtp_peer(sdp), self.peer_source if self.latch else None)

    def offer(self) -> bytes:
        """Our offer for a call we place."""
        self.version += 1
        return build_sdp(
            self.host,
            self.rtp_port,
            self.rtcp_port,
            list(CODECS.items()),
            101,
            self.session_id,
            self.version,
        )


def _seconds(value: str) -> int:
    """The delta-seconds of a Session-Expires or Min-SE value (0 if malformed)."""
    number = value.split(";", 1)[0].strip()
    return int(number) if is_number(number) and len(number) < 10 else 0


def proxy_of(settings: SipSettings) -> tuple[str, int] | None:
    """The outbound proxy `host:port`, if one is set."""
    if not settings.outbound_proxy:
        return None
    host, _, port = settings.outbound_proxy.rpartition(":")
    return (host, int(port)) if host and is_number(port) else (settings.outbound_proxy, 5060)


def media_address_allowed(media_host: str, signalling_host: str) -> None:
    """Refuses media sent to this host's own loopback by a peer that is not on it: a remote
    SDP would aim the agent's audio and reports at the server's local services.

    Raises:
        SdpError: 488, the address is not one this peer may send media to.
    """
    try:
        media, source = ipaddress.ip_address(media_host), ipaddress.ip_address(signalling_host)
    except ValueError:
        return  # a c= line is an IP literal (sip/sdp.py); a source by name is not checked
    if media.is_loopback and not source.is_loopback:
        raise SdpError(488, "Media Address Not Allowed")


def rtp_peer(offer: AudioOffer) -> RtpPeer:
    sends = offer.direction in ("sendrecv", "recvonly")  # what the peer takes, not on hold
    return RtpPeer(
        offer.host,
        offer.port,
        offer.codec,
        offer.payload_type,
        offer.dtmf_payload,
        offer.rtcp_port,
        sends=sends,
    )


SIP = web.AppKey("sip", SipServer)


def register(app: web.Application, stack: AgentStack, settings: SipSettings) -> None:
    """Starts the SIP user agent with the app (when SIP is enabled) and stops it at cleanup."""
    if not settings.enabled:
        return
    server = SipServer(app, stack, settings)
    app[SIP] = server

    async def start(app: web.Application) -> None:
        await server.start()

    async def stop(app: web.Application) -> None:
        await server.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
