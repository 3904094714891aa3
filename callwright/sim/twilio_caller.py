"""A simulated phone caller speaking Twilio's published Media Streams protocol.

It plays Twilio's part end to end: POSTs the signed incoming-call webhook, follows the TwiML
`<Connect><Stream>` it gets back, opens the stream with `connected` and `start`, sends the
caller's speech as base64 µ-law 8 kHz `media` every 20 ms (silence between lines), and plays
the agent's `media` at real time like a phone would: a `mark` is echoed once the audio queued
before it has played, and a `clear` drops the unplayed audio and echoes its marks at once.
There are no transcript events on a phone line, so a reply is over when the agent has been
quiet for `quiet_ms`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
from twilio.request_validator import RequestValidator

from callwright.audio.mulaw import mulaw_decode, mulaw_encode
from callwright.sim.caller import (
    CallReport,
    ScriptLine,
    TurnReport,
    first_audible_s,
)
from callwright.sim.conditions import EchoPath, FrameNetwork, NoiseSource
from callwright.sim.pausing import speak_line
from callwright.sim.waits import wait_or_end, wait_reply_end
from callwright.tts.base import TextToSpeech

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz


@dataclass(frozen=True, slots=True)
class KeyPresses:
    """The caller types on the keypad (one key per `gap_ms`), then waits for the agent."""

    digits: str
    gap_ms: float = 250.0
    expect_reply: bool = True


Line = ScriptLine | KeyPresses
NextLine = Callable[[], Awaitable[Line | None]]


@dataclass(slots=True)
class PhoneCallReport(CallReport):
    """A simulated phone call, seen from Twilio's side of the stream."""

    call_sid: str = ""
    stream_sid: str = ""
    stream_url: str = ""
    twiml: str = ""
    clears: int = 0
    marks_echoed: int = 0
    marks_discarded: int = 0
    frames_received: int = 0
    close_code: int | None = None
    # Every line spoken (replies expected or not), and each 20 ms playback tick of the phone:
    # (monotonic time, agent samples it had to play), to measure gaps in the agent's voice.
    lines: list[TurnReport] = field(default_factory=list)
    playback: list[tuple[float, int]] = field(default_factory=list)


def new_sid(prefix: str) -> str:
    """A Twilio-shaped id: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


async def post_signed(
    http: aiohttp.ClientSession,
    url: str,
    params: dict[str, str],
    auth_token: str,
    signature: str | None = None,
) -> aiohttp.ClientResponse:
    """POSTs a webhook the way Twilio does, signed with the official validator."""
    if signature is None:
        signature = RequestValidator(auth_token).compute_signature(url, params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = await http.post(url, data=params, headers=headers)
    await response.read()
    return response


def parse_stream_twiml(document: str) -> tuple[str, dict[str, str]]:
    """The `<Stream url>` and its `<Parameter>`s from a `<Connect><Stream>` response."""
    root = ET.fromstring(document)
    stream = root.find("./Connect/Stream")
    if stream is None:
        raise ValueError(f"no <Connect><Stream> in {document!r}")
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], params


def start_message(
    stream_sid: str, call_sid: str, account_sid: str, parameters: dict[str, str]
) -> dict[str, Any]:
    """Twilio's `start` message for a bidirectional µ-law stream."""
    return {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": stream_sid,
        "start": {
            "streamSid": stream_sid,
            "accountSid": account_sid,
            "callSid": call_sid,
            "tracks": ["inbound"],
            "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1},
        },
    }


class TwilioCallerSimulator:
    """Places one phone call through the server's Twilio endpoints and plays a script.

    Args:
        base_url: the server's http:// root.
        voice: the caller's synthesizer.
        auth_token: the Twilio auth token the server verifies webhooks with.
        caller: the caller's number (`From`).
        turn_timeout_s: how long to wait for the agent at each step.
        quiet_ms: agent silence that means its reply is over.
        impair: deliver frames like a bad network: every pair swapped, every 10th twice.
        noise: background noise at the caller's end (8 kHz), mixed into every frame.
        network: loses and reorders media messages (Twilio's sequence numbers and
            timestamps let the server notice).
        echo: a speakerphone: the agent's audio, as played, leaks back into the microphone.
        replies_done: how many replies the server has finished playing on this call, if the
            test can ask it (its call record): a reply is then over once it is counted, not
            on silence alone, which a slow synthesizer or a stalled event loop on a loaded
            machine also makes in the middle of a reply.
    """

    def __init__(
        self,
        base_url: str,
        voice: TextToSpeech,
        auth_token: str,
        caller: str = "+15550100",
        account_sid: str = "AC" + "0" * 32,
        turn_timeout_s: float = 20.0,
        quiet_ms: float = 900.0,
        impair: bool = False,
        noise: NoiseSource | None = None,
        network: FrameNetwork[str] | None = None,
        echo: EchoPath | None = None,
        trim: bool = True,
        replies_done: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.voice = voice
        self.auth_token = auth_token
        self.caller = caller
        self.account_sid = account_sid
        self.turn_timeout_s = turn_timeout_s
        self.quiet_s = quiet_ms / 1000.0
        self.impair = impair
        self.noise = noise
        self.network = network
        self.echo = echo
        self.trim = trim  # as in CallerSimulator
        self.replies_done = replies_done
        self._replies_before = 0  # replies finished before the caller's last line
        self._wait_for_reply = True
        self.sample_rate = RATE
        self.report = PhoneCallReport(call_sid=new_sid("CA"), stream_sid=new_sid("MZ"))
        self._speech: asyncio.Queue[tuple[np.ndarray, TurnReport | None]] = asyncio.Queue()
        self._spoken = asyncio.Event()
        self._ended = asyncio.Event()
        self._first_audio = asyncio.Event()
        self._current: TurnReport | None = None
        self._playback = np.zeros(0, dtype=np.int16)  # received, not yet played
        self._received = 0  # agent samples received
        self._played = 0  # agent samples played (or discarded by a clear)
        self._marks: list[tuple[str, int]] = []  # (name, received count when it came)
        self._last_audio_s = 0.0
        self._seq = 1
        self._outbox: list[str] = []

    async def run(
        self,
        script: Sequence[ScriptLine | KeyPresses] | NextLine,
        hang_up: bool = True,
        wait_for_reply: bool = True,
    ) -> PhoneCallReport:
        """Calls, plays the script, then hangs up (`hang_up=False`: waits for the agent to).

        `script` is the lines in order, or a function asked for the caller's next line once
        the agent's reply has ended (the greeting first; with `wait_for_reply=False`, as soon
        as the reply has started, for a caller who talks over it); it returns None to end.
        """
        self._wait_for_reply = wait_for_reply
        lines = script if callable(script) else [(x, await self._prepare(x)) for x in script]
        async with aiohttp.ClientSession() as http:
            url = f"{self.base_url}/v1/twilio/incoming"
            params = {
                "CallSid": self.report.call_sid,
                "AccountSid": self.account_sid,
                "From": self.caller,
                "To": "+15550199",
                "CallStatus": "ringing",
                "Direction": "inbound",
            }
            response = await post_signed(http, url, params, self.auth_token)
            if response.status != 200:
                raise RuntimeError(f"incoming webhook answered {response.status}")
            self.report.twiml = await response.text()
            stream_url, custom = parse_stream_twiml(self.report.twiml)
            self.report.stream_url = stream_url
            await self.stream(http, stream_url, custom, lines, hang_up)
        return self.report

    async def stream(
        self,
        http: aiohttp.ClientSession,
        stream_url: str,
        custom: dict[str, str],
        lines: Sequence[tuple[ScriptLine | KeyPresses, np.ndarray | None]] | NextLine,
        hang_up: bool = True,
    ) -> None:
        """The Media Streams part of the call, on an already answered call."""
        report = self.report
        async with http.ws_connect(stream_url) as ws:
            await ws.send_str(json.dumps({"event": "connected", "protocol": "Call",
                                          "version": "1.0.0"}))  # fmt: skip
            start = start_message(report.stream_sid, report.call_sid, self.account_sid, custom)
            await ws.send_str(json.dumps(start))
            receiver = asyncio.create_task(self._receive(ws))
            sender = asyncio.create_task(self._send(ws))
            try:
                await self._wait_reply_end()  # the greeting
                if callable(lines):
                    await self._converse(ws, lines)
                for line, audio in lines if not callable(lines) else []:
                    if self._ended.is_set() or not await self._play_line(ws, line, audio):
                        break
                await self._wait_reply_end()
                if not hang_up:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._ended.wait(), self.turn_timeout_s)
                if not self._ended.is_set():
                    stop = {"accountSid": self.account_sid, "callSid": report.call_sid}
                    await self._emit(ws, "stop", {"stop": stop})
                    await ws.close()
            finally:
                sender.cancel()
                receiver.cancel()
                await asyncio.gather(sender, receiver, return_exceptions=True)
            report.close_code = ws.close_code

    async def _converse(self, ws: aiohttp.ClientWebSocketResponse, next_line: NextLine) -> None:
        while not self._ended.is_set():
            if self._wait_for_reply:
                await self._wait_reply_end()
            line = await next_line()
            if line is None or not await self._play_line(ws, line, await self._prepare(line)):
                return

    async def _prepare(self, line: ScriptLine | KeyPresses) -> np.ndarray | None:
        if isinstance(line, KeyPresses):
            return None
        return await speak_line(self.voice, line.text, line.pause_ms, RATE, trim=self.trim)

    async def _play_line(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        line: ScriptLine | KeyPresses,
        audio: np.ndarray | None,
    ) -> bool:
        barge = isinstance(line, ScriptLine) and line.barge_in_after_ms is not None
        if barge and self._current is not None:
            assert isinstance(line, ScriptLine) and line.barge_in_after_ms is not None
            await self._wait(self._first_audio)
            await asyncio.sleep(line.barge_in_after_ms / 1000.0)
        else:
            await self._wait_reply_end()
        if self.replies_done is not None:
            self._replies_before = await self.replies_done()
        turn = TurnReport(line.text if isinstance(line, ScriptLine) else line.digits)
        self.report.lines.append(turn)
        if isinstance(line, KeyPresses):
            for digit in line.digits:
                await self._emit(ws, "dtmf", {"dtmf": {"track": "inbound_track", "digit": digit}})
                await asyncio.sleep(line.gap_ms / 1000.0)
            turn.speech_end_s = time.monotonic()
        else:
            assert audio is not None
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
        return True

    async def _wait(self, event: asyncio.Event) -> None:
        await wait_or_end(event, self._ended, self.turn_timeout_s)

    async def _wait_reply_end(self) -> None:
        """Until the agent has said something and then been quiet for `quiet_ms` (and, with
        `replies_done`, the server has counted a reply finished since the caller's last line)."""
        await wait_reply_end(
            lambda: self._last_audio_s,
            self.quiet_s,
            self._ended,
            self.turn_timeout_s,
            playing=lambda: self._playback.size > 0,
            replies_done=self.replies_done,
            replies_before=self._replies_before,
        )

    async def _emit(
        self, ws: aiohttp.ClientWebSocketResponse, kind: str, body: dict[str, Any]
    ) -> None:
        self._seq += 1
        message = {"event": kind, "sequenceNumber": str(self._seq),
                   "streamSid": self.report.stream_sid, **body}  # fmt: skip
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps(message))

    async def _send(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """One media message every 20 ms, and the agent's audio played at the same pace."""
        silence = np.zeros(FRAME, dtype=np.int16)
        pending: np.ndarray | None = None
        turn: TurnReport | None = None
        started = time.monotonic()
        chunk = 0
        held: str | None = None
        while True:
            if pending is None and not self._speech.empty():
                pending, turn = self._speech.get_nowait()
                if turn is not None:
                    turn.speech_start_s = started + chunk * 0.02
            frame = silence
            if pending is not None:
                frame, pending = pending[:FRAME], pending[FRAME:]
                if pending.size == 0:
                    if turn is not None:
                        lead = (FRAME - frame.size) / RATE
                        turn.speech_end_s = started + (chunk + 1) * 0.02 - lead
                    pending = None
                    self._spoken.set()
                if frame.size < FRAME:
                    frame = np.concatenate([frame, silence[: FRAME - frame.size]])
            if self.echo is not None:
                frame = self.echo.mix(frame)
            if self.noise is not None:
                frame = self.noise.mix(frame)
            await asyncio.sleep(max(0.0, started + (chunk + 1) * 0.02 - time.monotonic()))
            chunk += 1
            self._seq += 1
            payload = base64.b64encode(mulaw_encode(frame)).decode("ascii")
            message = json.dumps({
                "event": "media", "sequenceNumber": str(self._seq),
                "streamSid": self.report.stream_sid,
                "media": {"track": "inbound", "chunk": str(chunk),
                          "timestamp": str((chunk - 1) * 20), "payload": payload},
            })  # fmt: skip
            out = [message]
            if self.impair:
                if held is None and chunk % 2 == 1:
                    held, out = message, []  # sent after the next one: out of order
                elif held is not None:
                    out, held = [message, held], None
                if chunk % 10 == 0:
                    out.append(message)  # a duplicate
            if self.network is not None:
                out = [m for sent in out for m in self.network.push(sent)]
            for text in out:
                await ws.send_str(text)
            await self._play_tick(ws)

    async def _play_tick(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """The phone plays 20 ms of agent audio; marks whose audio has played are echoed."""
        played = min(FRAME, int(self._playback.size))
        if self.echo is not None:
            heard = self._playback[:played]
            self.echo.played(np.concatenate([heard, np.zeros(FRAME - played, np.int16)]))
        self.report.playback.append((time.monotonic(), played))
        self._playback = self._playback[played:]
        self._played += played
        while self._marks and self._marks[0][1] <= self._played:
            name, _ = self._marks.pop(0)
            self.report.marks_echoed += 1
            await self._emit(ws, "mark", {"mark": {"name": name}})

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                event = json.loads(msg.data)
                await self._on_message(ws, event)
        finally:
            if not self._ended.is_set():
                self.report.ended_by_agent = True
            self._ended.set()

    async def _on_message(self, ws: aiohttp.ClientWebSocketResponse, event: dict[str, Any]) -> None:
        kind = event.get("event")
        report = self.report
        if event.get("streamSid") != report.stream_sid:
            report.events.append({"type": "bad_stream_sid", "message": event})
            return
        if kind == "media":
            samples = mulaw_decode(base64.b64decode(event["media"]["payload"]))
            self._playback = np.concatenate([self._playback, samples])
            self._received += samples.size
            report.frames_received += 1
            self._last_audio_s = time.monotonic()
            turn = self._current
            if turn is None:
                report.greeting_audio.append(samples)
                return
            now = time.monotonic()
            if turn.ttfa_ms is None and turn.speech_end_s and now >= turn.speech_end_s:
                # Time to the first audible sample: silence on the line is not an answer yet.
                offset_s = first_audible_s(samples, RATE)
                if offset_s is not None:
                    turn.ttfa_ms = round((now + offset_s - turn.speech_end_s) * 1000.0, 1)
            turn.agent_audio.append(samples)
            self._first_audio.set()
        elif kind == "mark":
            self._marks.append((str(event["mark"]["name"]), self._received))
        elif kind == "clear":
            report.clears += 1
            report.events.append({"type": "clear", "_received_s": time.monotonic()})
            self._played += int(self._playback.size)
            self._playback = np.zeros(0, dtype=np.int16)
            for name, _ in self._marks:  # Twilio echoes the marks of what it discarded
                report.marks_discarded += 1
                await self._emit(ws, "mark", {"mark": {"name": name}})
            self._marks = []
        else:
            report.events.append({"type": f"unexpected_{kind}", "message": event})
