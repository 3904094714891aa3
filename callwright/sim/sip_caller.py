"""A simulated phone caller over SIP and RTP (UDP): places the call, speaks, listens.

It plays a SIP phone's part: INVITE with an SDP offer (PCMU, telephone-event), ACK, RTP every
20 ms (silence between lines), and the agent's RTP played as it arrives (RTP has no marks: the
phone plays what comes, paced by the sender). It answers what the agent's side may send inside
the call: BYE (the agent hung up) and REFER (a transfer: 202 Accepted, then a NOTIFY saying
the new call was answered, as a PBX would). A reply is over when the agent has been quiet for
`quiet_ms`. Time to first audio runs from the caller's last speech sample to the first audible
(-40 dBFS) agent sample, played as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.sim.caller import CallReport, ScriptLine, TurnReport
from callwright.sim.pausing import speak_line
from callwright.sim.waits import wait_or_end, wait_reply_end
from callwright.sip.message import SipMessage, address_uri, parse_message
from callwright.sip.sdp import parse_offer
from callwright.tts.base import TextToSpeech

RATE = 8000
FRAME = 160
AUDIBLE = 328  # -40 dBFS: the first agent sample at least this loud counts as heard
NextLine = Callable[[], Awaitable[ScriptLine | None]]


@dataclass(slots=True)
class SipCallReport(CallReport):
    """A simulated SIP call, seen from the phone."""

    sip_call_id: str = ""
    final_status: int = 0
    lines: list[TurnReport] = field(default_factory=list)
    frames_received: int = 0
    transferred_to: str | None = None


class _Socket(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, addr))


class SipCallerSimulator:
    """Places one SIP call to `host:port` and plays a script.

    Args:
        host, port: where the agent's SIP user agent listens.
        voice: the caller's synthesizer.
        local_host: the caller's own address (SIP and RTP).
        caller: the caller's number (From).
        turn_timeout_s: how long to wait for the agent at each step.
        quiet_ms: agent silence that means its reply is over.
        to_user: the user part of the URI called (the number dialled).
    """

    def __init__(
        self,
        host: str,
        port: int,
        voice: TextToSpeech,
        local_host: str = "127.0.0.1",
        caller: str = "+15550100",
        turn_timeout_s: float = 20.0,
        quiet_ms: float = 900.0,
        to_user: str = "agent",
    ) -> None:
        self.target = (host, port)
        self.to_user = to_user
        self.voice = voice
        self.local_host = local_host
        self.caller = caller
        self.turn_timeout_s = turn_timeout_s
        self.quiet_s = quiet_ms / 1000.0
        self.report = SipCallReport(sip_call_id=secrets.token_hex(12))
        self._tag = secrets.token_hex(6)
        self._cseq = 1
        self._speech: asyncio.Queue[tuple[np.ndarray, TurnReport]] = asyncio.Queue()
        self._spoken = asyncio.Event()
        self._ended = asyncio.Event()
        self._bye_answered = asyncio.Event()  # the agent's side answered the caller's BYE
        self._first_audio = asyncio.Event()
        self._current: TurnReport | None = None
        self._last_audio_s = 0.0
        self._remote_to = ""
        self._remote_target = ""
        self._agent_rtp: tuple[str, int] | None = None

    # --- SIP -----------------------------------------------------------------------------

    @property
    def _uri(self) -> str:
        return f"sip:{self.to_user}@{self.target[0]}:{self.target[1]}"

    def _request(self, method: str, uri: str, cseq: int, body: bytes = b"") -> bytes:
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.local_host}:{self._sip_port};branch=z9hG4bK"
            f"{secrets.token_hex(8)};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.caller}@{self.local_host}>;tag={self._tag}",
            f"To: {self._remote_to or f'<{self._uri}>'}",
            f"Call-ID: {self.report.sip_call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:caller@{self.local_host}:{self._sip_port}>",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _offer(self) -> bytes:
        host = self.local_host
        return (
            f"v=0\r\no=caller 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
            f"m=audio {self._rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
        ).encode()

    async def _invite(self) -> bool:
        """INVITE until a final answer (retransmitted each 500 ms before any); ACK a 2xx."""
        uri = self._uri
        invite = self._request("INVITE", uri, 1, self._offer())
        deadline = time.monotonic() + self.turn_timeout_s
        provisional = False
        while time.monotonic() < deadline:
            if not provisional:
                self._sip.sendto(invite, self.target)
            try:
                data, _ = await asyncio.wait_for(self._sip_in.queue.get(), 0.5)
            except TimeoutError:
                continue
            msg = parse_message(data)
            if msg.is_request or msg.cseq[1] != "INVITE":
                continue
            if msg.status < 200:
                provisional = True
                continue
            self.report.final_status = msg.status
            self._remote_to = msg.get("to") or ""
            self._remote_target = address_uri(msg.get("contact") or "") or uri
            ack = self._request("ACK", self._remote_target if msg.status < 300 else uri, 1)
            self._sip.sendto(ack, self.target)
            if msg.status >= 300:
                return False
            answer = parse_offer(msg.body)
            self._agent_rtp = (answer.host, answer.port)
            return True
        return False

    async def _sip_loop(self) -> None:
        """Requests from the agent's side inside the call (BYE, REFER), and the answer to the
        caller's own BYE."""
        while True:
            data, addr = await self._sip_in.queue.get()
            with contextlib.suppress(Exception):
                msg = parse_message(data)
                if msg.is_request:
                    await self._on_request(msg, addr)
                elif msg.cseq[1] == "BYE" and msg.status >= 200:
                    self._bye_answered.set()

    async def _bye(self) -> None:
        """Hangs up: BYE, sent again at 0.5, 1, 2 and 4 s intervals (RFC 3261's timer E
        over UDP) until it is answered, for 8 s at most; a busy peer may read it late."""
        self._cseq += 1
        bye = self._request("BYE", self._remote_target, self._cseq)
        interval, deadline = 0.5, time.monotonic() + 8.0
        while time.monotonic() < deadline and not self._ended.is_set():
            self._sip.sendto(bye, self.target)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._bye_answered.wait(), interval)
                return
            interval = min(2 * interval, 4.0)

    async def _on_request(self, msg: SipMessage, addr: tuple[str, int]) -> None:
        status = {"BYE": "200 OK", "REFER": "202 Accepted"}.get(msg.method or "", "200 OK")
        head = [f"SIP/2.0 {status}"] + [
            f"{name.title() if name != 'call-id' else 'Call-ID'}: {value}"
            for name, value in msg.headers
            if name in ("via", "from", "to", "call-id", "cseq")
        ]
        self._sip.sendto(("\r\n".join([*head, "Content-Length: 0"]) + "\r\n\r\n").encode(), addr)
        if msg.method == "BYE":
            self.report.ended_by_agent = True
            self._ended.set()
        elif msg.method == "REFER":
            self.report.transferred_to = address_uri(msg.get("refer-to") or "")
            self._cseq += 1
            frag = b"SIP/2.0 200 OK\r\n"
            notify = self._request("NOTIFY", self._remote_target, self._cseq, frag)
            notify = notify.replace(
                b"Content-Type: application/sdp",
                b"Content-Type: "
                b"message/sipfrag;version=2.0\r\nEvent: refer\r\n"
                b"Subscription-State: terminated;reason=noresource",
            )
            self._sip.sendto(notify, addr)

    # --- the call ------------------------------------------------------------------------

    async def run(
        self, script: Sequence[ScriptLine] | NextLine, hang_up: bool = True
    ) -> SipCallReport:
        """Calls, plays the script (lines, or a function giving the next line once the agent's
        reply has ended; None ends), then hangs up (`hang_up=False`: waits for the agent to)."""
        loop = asyncio.get_running_loop()
        self._sip_in = _Socket()
        self._sip, _ = await loop.create_datagram_endpoint(
            lambda: self._sip_in, local_addr=(self.local_host, 0)
        )
        self._rtp_in = _Socket()
        self._rtp, _ = await loop.create_datagram_endpoint(
            lambda: self._rtp_in, local_addr=(self.local_host, 0)
        )
        self._sip_port = self._sip.get_extra_info("sockname")[1]
        self._rtp_port = self._rtp.get_extra_info("sockname")[1]
        tasks: list[asyncio.Task[None]] = []
        try:
            if not await self._invite():
                return self.report
            tasks = [
                asyncio.create_task(t) for t in (self._sip_loop(), self._send(), self._receive())
            ]
            await self._wait_reply_end()  # the greeting
            while not self._ended.is_set():
                line = (
                    (await script())
                    if callable(script)
                    else (
                        script[len(self.report.lines)]
                        if len(self.report.lines) < len(script)
                        else None
                    )
                )
                if line is None or not await self._play_line(line):
                    break
            await self._wait_reply_end()
            if not hang_up:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ended.wait(), self.turn_timeout_s)
            if not self._ended.is_set():
                await self._bye()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._sip.close()
            self._rtp.close()
        return self.report

    async def _prepare(self, line: ScriptLine) -> np.ndarray:
        return await speak_line(self.voice, line.text, line.pause_ms, RATE, trim=True)

    async def _play_line(self, line: ScriptLine) -> bool:
        audio = await self._prepare(line)
        if line.barge_in_after_ms is not None and self._current is not None:
            await self._wait(self._first_audio)
            await asyncio.sleep(line.barge_in_after_ms / 1000.0)
        elif line.barge_in_after_ms is None:
            await self._wait_reply_end()
        else:
            await asyncio.sleep(line.barge_in_after_ms / 1000.0)
        turn = TurnReport(line.text)
        self.report.lines.append(turn)
        self._spoken.clear()
        self._speech.put_nowait((audio, turn))
        await self._wait(self._spoken)
        if not line.expect_reply:
            return True
        self._first_audio.clear()
        self._current = turn
        self.report.turns.append(turn)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_audio.wait(), self.turn_timeout_s)
        return not self._ended.is_set()

    async def _wait(self, event: asyncio.Event) -> None:
        await wait_or_end(event, self._ended, self.turn_timeout_s)

    async def _wait_reply_end(self) -> None:
        await wait_reply_end(
            lambda: self._last_audio_s, self.quiet_s, self._ended, self.turn_timeout_s
        )

    async def _send(self) -> None:
        """One RTP packet every 20 ms: the current line's audio, else low noise."""
        assert self._agent_rtp is not None
        ssrc, seq, stamp = secrets.randbits(32), secrets.randbits(16), secrets.randbits(32)
        rng = np.random.default_rng(5)
        pending: np.ndarray | None = None
        turn: TurnReport | None = None
        started = time.monotonic()
        chunk = 0
        while True:
            if pending is None and not self._speech.empty():
                pending, turn = self._speech.get_nowait()
                turn.speech_start_s = started + chunk * 0.02
            frame = rng.normal(0, 8, FRAME).astype(np.int16)
            if pending is not None:
                speech, pending = pending[:FRAME], pending[FRAME:]
                frame[: speech.size] = speech
                if pending.size == 0:
                    assert turn is not None
                    # The packet sent at `started + chunk * 0.02` holds the 20 ms before it.
                    turn.speech_end_s = started + (chunk - 1) * 0.02 + speech.size / RATE
                    pending = None
                    self._spoken.set()
            await asyncio.sleep(max(0.0, started + chunk * 0.02 - time.monotonic()))
            header = struct.pack("!BBHII", 0x80, 0, seq, stamp, ssrc)
            self._rtp.sendto(header + mulaw_encode(frame), self._agent_rtp)
            chunk += 1
            seq, stamp = (seq + 1) & 0xFFFF, (stamp + FRAME) & 0xFFFFFFFF

    async def _receive(self) -> None:
        report = self.report
        while True:
            data, addr = await self._rtp_in.queue.get()
            if addr != self._agent_rtp or len(data) <= 12 or data[1] & 0x7F != 0:
                continue
            samples = mulaw_decode(data[12:])
            now = time.monotonic()
            report.frames_received += 1
            self._last_audio_s = now
            turn = self._current
            if turn is None:
                report.greeting_audio.append(samples)
                continue
            audible = np.flatnonzero(np.abs(samples.astype(np.int32)) >= AUDIBLE)
            if turn.ttfa_ms is None and turn.speech_end_s and audible.size:
                # Played on arrival (no jitter buffer here): its first audible sample, then.
                at = now + audible[0] / RATE
                turn.ttfa_ms = round(max(0.0, at - turn.speech_end_s) * 1000.0, 1)
            turn.agent_audio.append(samples)
            self._first_audio.set()
