"""One call of a load run: a light caller that speaks pre-made clips and measures what it hears.

It plays the phone's part like `sim/twilio_caller.py` (signed webhook, `<Connect><Stream>`,
`connected`/`start`, a `media` message every 20 ms, marks echoed once their audio has played,
`clear` honoured) or the native WebSocket's (binary PCM16 frames), but sends ready-made
payloads (`sim/load_clips.py`) and keeps no audio, so one process can hold hundreds of calls.

What it measures, into a `LoadSink`:
- TTFA: the caller's end of speech (the last speech frame sent) to the first agent frame after.
- Outbound frame lag: the phone plays agent audio at 20 ms a frame from the first frame of a
  reply on; a frame that arrives after its play-out time is late by that much (the phone's
  audio stalls) and the play-out restarts from it. `jitter` is how far the gap between two
  frames is from 20 ms (bunched or spread frames).
- The call's fate: completed, refused (busy line or error), failed (no reply to a line, a
  broken connection) or dropped (the server hung up before the caller was done).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from twilio.request_validator import RequestValidator

from callwright.sim.load_clips import NOISE_PHONE, NOISE_WIDE, Clip
from callwright.sim.load_ticks import frame_clock
from callwright.sim.twilio_caller import parse_stream_twiml, post_signed, start_message

NEW_REPLY_GAP_S = 6.0  # agent silence after which it speaks up by itself (a reprompt)
LEAD_FRAMES = 3  # the server sends up to 60 ms ahead: the first frames of a burst come at once


class LoadSink(Protocol):
    """Where a call's measurements go (binned by time in the runner)."""

    def ttfa(self, at_s: float, ms: float | None) -> None: ...

    def frame(self, at_s: float, late_ms: float, jitter_ms: float | None) -> None: ...


@dataclass(frozen=True, slots=True)
class Target:
    """The server under load.

    Attributes:
        base_url: http://host:port of the server (or the balancer).
        transport: "twilio" or "native".
        api_key: operator key for the native WebSocket.
        twilio_auth_token: the token the server checks webhook signatures with.
        public_url: the address the server signs webhooks for, if not `base_url`.
    """

    base_url: str
    transport: str = "twilio"
    api_key: str | None = None
    twilio_auth_token: str | None = None
    public_url: str | None = None


@dataclass(frozen=True, slots=True)
class CallPlan:
    """What one caller says: clips in order, each after its think pause (seconds)."""

    lines: tuple[tuple[Clip, float], ...]
    turn_timeout_s: float = 15.0
    quiet_s: float = 0.8


@dataclass(slots=True)
class CallOutcome:
    """How one call went."""

    index: int
    call_sid: str = ""  # Twilio calls: the CallSid the webhook carried
    status: str = "placing"  # completed, refused, failed, dropped, unfinished
    reason: str = ""
    started_s: float = 0.0  # unix time
    ended_s: float = 0.0
    turns: int = 0
    unanswered: int = 0
    frames: int = 0
    events: list[str] = field(default_factory=list)


class LoadCaller:
    """Places one call and plays its plan; `run` never raises (failures are outcomes)."""

    def __init__(
        self,
        index: int,
        target: Target,
        plan: CallPlan,
        sink: LoadSink,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.target = target
        self.plan = plan
        self.sink = sink
        self.outcome = CallOutcome(index)
        self.live = False  # connected and talking
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._sending: Clip | None = None
        self._spoken = asyncio.Event()
        self._speech_end = 0.0  # monotonic time of the end of the caller's last line
        self._waiting_first = False
        self._last_audio = 0.0
        self._burst_anchor = 0.0
        self._burst_frames = 0.0  # frames of audio since the anchor
        self._received = 0  # agent samples received (8 kHz equivalents for marks)
        self._played = 0
        self._marks: list[tuple[str, int]] = []
        self._stream_sid = "MZ" + uuid.uuid4().hex
        self._seq = 1
        self._ended = asyncio.Event()
        self._hung_up = False
        self._noise_offset = index * 7  # calls' noise frames out of step with each other

    async def run(self, http: aiohttp.ClientSession) -> CallOutcome:
        out = self.outcome
        out.started_s = time.time()
        try:
            if self.target.transport == "twilio":
                await self._twilio(http)
            else:
                await self._native(http)
        except asyncio.CancelledError:
            out.status, out.reason = "unfinished", "the run ended first"
            raise
        except Exception as exc:  # every failure is a figure, never a crash of the run
            if out.status in ("placing", "live"):
                out.status, out.reason = "failed", f"{type(exc).__name__}: {exc}"[:200]
        finally:
            self.live = False
            out.ended_s = time.time()
        return out

    async def _twilio(self, http: aiohttp.ClientSession) -> None:
        target, out = self.target, self.outcome
        call_sid = out.call_sid = "CA" + uuid.uuid4().hex
        params = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": "+15550100",
                  "To": "+15550199", "CallStatus": "ringing", "Direction": "inbound"}  # fmt: skip
        url = target.base_url.rstrip("/") + "/v1/twilio/incoming"
        # Signed for the address the server believes it has (its public URL), as Twilio does.
        signed = (target.public_url or target.base_url).rstrip("/") + "/v1/twilio/incoming"
        token = target.twilio_auth_token or ""
        signature = RequestValidator(token).compute_signature(signed, params)
        response = await post_signed(http, url, params, token, signature)
        twiml = await response.text()
        if response.status != 200:
            out.status, out.reason = "refused", f"webhook answered {response.status}"
            return
        try:
            stream_url, custom = parse_stream_twiml(twiml)
        except ValueError:
            out.status, out.reason = "refused", "busy: no <Stream> in the answer"
            return
        async with http.ws_connect(stream_url, heartbeat=None) as ws:
            self._ws = ws
            await ws.send_str(json.dumps({"event": "connected", "protocol": "Call",
                                          "version": "1.0.0"}))  # fmt: skip
            start = start_message(self._stream_sid, call_sid, "AC" + "0" * 32, custom)
            await ws.send_str(json.dumps(start))
            await self._converse(ws, self._receive_twilio(ws))

    async def _native(self, http: aiohttp.ClientSession) -> None:
        key = self.target.api_key
        headers = {"Authorization": f"Bearer {key}"} if key else None
        url = self.target.base_url.replace("http", "ws", 1).rstrip("/") + "/v1/ws"
        async with http.ws_connect(url, headers=headers, heartbeat=None) as ws:
            self._ws = ws
            await ws.send_str(json.dumps({"type": "start", "sample_rate": 16000,
                                          "caller": "+15550100"}))  # fmt: skip
            await self._converse(ws, self._receive_native(ws))

    async def _converse(
        self, ws: aiohttp.ClientWebSocketResponse, receiving: Coroutine[Any, Any, None]
    ) -> None:
        out = self.outcome
        receiver = asyncio.create_task(receiving)
        sender = asyncio.create_task(self._send(ws))
        out.status = "live"
        self.live = True
        try:
            if await self._reply_over():
                await self._play_plan()
            elif out.status == "live":
                out.status = "dropped" if self._ended.is_set() else "failed"
                out.reason = "no greeting"
            if out.status == "completed" and not self._ended.is_set():
                await self._hang_up(ws)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(receiver), 2.0)
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)

    async def _play_plan(self) -> None:
        """Says each line after its pause and waits for the reply; sets the call's status."""
        out = self.outcome
        for number, (clip, think_s) in enumerate(self.plan.lines, start=1):
            await asyncio.sleep(think_s)
            self._spoken.clear()
            self._sending = clip
            if self._ended.is_set() or not await self._until(self._spoken):
                out.status, out.reason = "dropped", "the server ended the call early"
                return
            out.turns += 1
            self._waiting_first = True
            if await self._reply_over():
                continue
            if self._waiting_first:  # not a sound in reply
                self._waiting_first = False
                out.unanswered += 1
                self.sink.ttfa(time.time(), None)
                out.status = "dropped" if self._ended.is_set() else "failed"
                out.reason = "no reply to a line"
                return
            if self._ended.is_set() and number < len(self.plan.lines):
                out.status, out.reason = "dropped", "the server ended the call early"
                return
            # The agent ended the call after answering the last line: a normal end.
        out.status = "completed"

    async def _hang_up(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        if self.target.transport == "twilio":
            stop = {"event": "stop", "sequenceNumber": str(self._seq + 1),
                    "streamSid": self._stream_sid, "stop": {}}  # fmt: skip
            await ws.send_str(json.dumps(stop))
            await ws.close()
        else:
            await ws.send_str(json.dumps({"type": "end"}))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._ended.wait(), 5.0)
            await ws.close()

    async def _until(self, event: asyncio.Event) -> bool:
        waiter = asyncio.ensure_future(event.wait())
        ender = asyncio.ensure_future(self._ended.wait())
        await asyncio.wait({waiter, ender}, timeout=self.plan.turn_timeout_s,
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        waiter.cancel()
        ender.cancel()
        return event.is_set()

    async def _reply_over(self) -> bool:
        """Waits for agent audio then `quiet_s` of quiet; False on hang-up, or when nothing
        arrives for the turn timeout."""
        start = self.clock()
        while not self._ended.is_set():
            now = self.clock()
            if now - max(start, self._last_audio) > self.plan.turn_timeout_s:
                return False
            heard = self._last_audio > start and not self._waiting_first
            quiet = now - self._last_audio >= self.plan.quiet_s
            if heard and quiet and self._played >= self._received:
                return True
            await asyncio.sleep(0.05)
        return False

    async def _send(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """A frame every 20 ms on an absolute schedule (speech or silence), and playback,
        from the process's frame clock (`sim/load_ticks.py`); runs until cancelled."""
        broken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        tick = 0
        position = 0

        async def send_frame() -> bool:
            nonlocal tick, position
            try:
                tick, position = await self._send_frame(ws, tick, position)
            except Exception as exc:  # the connection broke: this caller stops sending
                if not broken.done():
                    broken.set_exception(exc)
                return False
            return True

        clock = frame_clock()
        handle = clock.join(send_frame)
        try:
            await broken
        finally:
            clock.leave(handle)

    async def _send_frame(
        self, ws: aiohttp.ClientWebSocketResponse, tick: int, position: int
    ) -> tuple[int, int]:
        """Sends the frame at `position` of the line being said (or silence); returns the next
        tick and position."""
        twilio = self.target.transport == "twilio"
        clip = self._sending
        # Between lines the caller's line carries faint noise (never digital zero), each call
        # at its own point of the loop.
        noise = (tick + self._noise_offset) % len(NOISE_PHONE)
        if twilio:
            payload = clip.phone_frames[position] if clip else NOISE_PHONE[noise]
        else:
            payload = clip.wide_frames[position] if clip else NOISE_WIDE[noise]  # type: ignore[assignment]
        last = False
        if clip is not None:
            position += 1
            last = position >= len(clip.phone_frames)
            if last:
                self._sending, position = None, 0
        tick += 1
        if twilio:
            self._seq += 1
            # Formatted, not json.dumps: hundreds of calls send 50 of these a second.
            await ws.send_str(
                f'{{"event":"media","sequenceNumber":"{self._seq}",'
                f'"streamSid":"{self._stream_sid}","media":{{"track":"inbound",'
                f'"chunk":"{tick}","timestamp":"{(tick - 1) * 20}","payload":"{payload}"}}}}'
            )
            await self._play_tick(ws)
        else:
            await ws.send_bytes(payload)  # type: ignore[arg-type]
            self._played = min(self._received, self._played + 160)
        if last:
            self._speech_end = self.clock()
            self._spoken.set()
        return tick, position

    async def _play_tick(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._played = min(self._received, self._played + 160)
        while self._marks and self._marks[0][1] <= self._played:
            name, _ = self._marks.pop(0)
            await self._emit_mark(ws, name)

    async def _emit_mark(self, ws: aiohttp.ClientWebSocketResponse, name: str) -> None:
        self._seq += 1
        mark = {"event": "mark", "sequenceNumber": str(self._seq),
                "streamSid": self._stream_sid, "mark": {"name": name}}  # fmt: skip
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps(mark))

    def _agent_frame(self, samples_8k: int) -> None:
        """Times one agent frame: TTFA, lateness against the phone's play-out, jitter."""
        now = self.clock()
        wall = time.time()
        self.outcome.frames += 1
        self._received += samples_8k
        if self._waiting_first and self._speech_end and now >= self._speech_end:
            self.sink.ttfa(wall, (now - self._speech_end) * 1000.0)
            self._waiting_first = False
        jitter: float | None = None
        # A new reply starts the phone's play-out afresh: the first frame, the first after the
        # caller spoke, or after a long silence (the agent speaking up by itself). Any other
        # gap, however long, is the caller hearing the agent stall.
        replying = self._speech_end > self._last_audio or now - self._last_audio > NEW_REPLY_GAP_S
        if not self._last_audio or replying:
            self._burst_anchor, self._burst_frames = now, 0.0
            late = 0.0
        else:
            if self._burst_frames >= LEAD_FRAMES:
                jitter = abs((now - self._last_audio) * 1000.0 - 20.0)
            due = self._burst_anchor + self._burst_frames * 0.02
            late = max(0.0, now - due)
            if late > 0.0:  # the phone ran dry; it plays on from this frame
                self._burst_anchor += late
        self._burst_frames += samples_8k / 160.0
        self._last_audio = now
        self.sink.frame(wall, late * 1000.0, jitter)

    async def _receive_twilio(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                size = media_payload_size(msg.data)
                if size is not None:  # most messages: read without parsing the JSON
                    self._agent_frame(size * 3 // 4)
                    continue
                event = json.loads(msg.data)
                kind = event.get("event")
                if kind == "media":
                    self._agent_frame(len(event["media"]["payload"]) * 3 // 4)
                elif kind == "mark":
                    self._marks.append((str(event["mark"]["name"]), self._received))
                elif kind == "clear":
                    self._played = self._received
                    for name, _ in self._marks:
                        await self._emit_mark(ws, name)
                    self._marks = []
        finally:
            self._ended.set()

    async def _receive_native(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self._agent_frame(len(msg.data) // 4)  # 16 kHz PCM16 → 8 kHz samples
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    event = json.loads(msg.data)
                    if event.get("type") == "clear":
                        self._played = self._received
                    elif event.get("type") == "error":
                        self.outcome.status = "refused"
                        self.outcome.reason = str(event.get("code"))
                        self.live = False
        finally:
            self._ended.set()


_MEDIA_HEAD = '{"event":"media",'
_PAYLOAD = '"payload":"'


def media_payload_size(text: str) -> int | None:
    """Base64 characters of the payload of a server's `media` message (the payload last),
    found without parsing the JSON (each caller of a load run receives 50 a second); None for
    any other message."""
    if not (text.startswith(_MEDIA_HEAD) and text.endswith('"}}')):
        return None
    at = text.rfind(_PAYLOAD)
    if at < 0:
        return None
    begin, end = at + len(_PAYLOAD), len(text) - 3
    return end - begin if text.find('"', begin) == end else None
