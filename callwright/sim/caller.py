"""A simulated caller: speaks scripted lines over the native WebSocket, in real time.

It streams 20 ms frames continuously (silence between lines, as a phone does), records the
agent's audio, and measures time-to-first-audio from its own side of the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from callwright.sim.conditions import FrameNetwork, NoiseSource
from callwright.sim.pausing import speak_line
from callwright.sim.speakerphone import SpeakerphoneEcho
from callwright.sim.waits import wait_or_end
from callwright.tts.base import TextToSpeech

FRAME_MS = 20


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """One thing the caller says.

    Attributes:
        text: the words; a "|" marks a mid-sentence pause of `pause_ms`.
        barge_in_after_ms: if set, the caller does not wait for the agent to finish its
            previous reply: it starts this line that long after the reply's first audio.
        pause_ms: length of each "|" pause.
        expect_reply: False for a backchannel ("uh-huh"): the caller does not wait for an
            answer to it, and the agent's reply in progress stays the current turn.
        after_agent_says: wait (up to the turn timeout) until the agent has said this
            (case-insensitive, in any `agent_text`) before speaking, e.g. a callback offer
            that comes while the caller is on hold.
        keys: press these keypad keys instead of speaking (`text` is then only a label).
        gate: wait until this event is set before speaking (a test's cue, e.g. "the person
            at the console has spoken").
    """

    text: str
    barge_in_after_ms: float | None = None
    pause_ms: float = 1000.0
    expect_reply: bool = True
    after_agent_says: str | None = None
    keys: str = ""
    gate: asyncio.Event | None = None


@dataclass(slots=True)
class TurnReport:
    """What happened in one caller turn, seen from the caller's side."""

    line: str
    speech_start_s: float = 0.0  # wall clock (monotonic) of the caller's start of speech
    speech_end_s: float = 0.0  # wall clock (monotonic) of the caller's end of speech
    ttfa_ms: float | None = None  # end of speech → first agent audio frame received
    agent_audio: list[np.ndarray] = field(default_factory=list)
    agent_heard: str = ""  # the agent's audio transcribed by the simulator


@dataclass(slots=True)
class CallReport:
    """The whole simulated call."""

    call_id: str = ""
    greeting_audio: list[np.ndarray] = field(default_factory=list)
    turns: list[TurnReport] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    ended_by_agent: bool = False

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """The server events of one type, in order."""
        return [e for e in self.events if e.get("type") == kind]


# Agent samples at or under this are silence (Piper's leading silence, resampling residue).
AUDIBLE_FLOOR = 64


def first_audible_s(samples: np.ndarray, sample_rate: int) -> float | None:
    """Seconds into `samples` of the first audible one; None if all are silence."""
    audible = np.flatnonzero(np.abs(samples.astype(np.int32)) > AUDIBLE_FLOOR)
    return float(audible[0]) / sample_rate if audible.size else None


def speech_bounds(samples: np.ndarray, sample_rate: int) -> tuple[int, int]:
    """First and one-past-last sample of speech (10 ms blocks above 2 % of the peak)."""
    block = sample_rate // 100
    n = samples.size // block
    if n == 0:
        return 0, samples.size
    energy = np.abs(samples[: n * block].astype(np.int32)).reshape(n, block).max(axis=1)
    loud = np.nonzero(energy > 0.02 * max(int(energy.max()), 1))[0]
    if loud.size == 0:
        return 0, 0
    return int(loud[0]) * block, int(loud[-1] + 1) * block


class CallerSimulator:
    """Places one call and plays a script.

    Args:
        url: the server's native WebSocket URL (ws://host:port/v1/ws).
        voice: the caller's synthesizer (a voice other than the agent's).
        sample_rate: rate of the audio both ways.
        turn_timeout_s: how long to wait for the agent at each step.
    """

    def __init__(
        self,
        url: str,
        voice: TextToSpeech,
        sample_rate: int = 16000,
        turn_timeout_s: float = 20.0,
        parameters: dict[str, str] | None = None,
        echo_gain: float = 0.0,
        echo_delay_ms: float = 150.0,
        api_key: str | None = None,
        noise: NoiseSource | None = None,
        network: FrameNetwork[bytes] | None = None,
        trim: bool = True,
    ) -> None:
        self.url = url
        # /v1/ws needs an operator credential; tests set CALLWRIGHT_API_KEY once for all.
        self.api_key = api_key or os.environ.get("CALLWRIGHT_API_KEY")
        self.voice = voice
        self.sample_rate = sample_rate
        self.turn_timeout_s = turn_timeout_s
        self.parameters = parameters or {}
        self._frame = sample_rate * FRAME_MS // 1000
        self._speech: asyncio.Queue[tuple[np.ndarray, TurnReport]] = asyncio.Queue()
        self._report = CallReport()
        self._current: TurnReport | None = None
        self._turn_end = asyncio.Event()
        self._first_audio = asyncio.Event()
        self._spoken = asyncio.Event()
        self._ended = asyncio.Event()
        self._event_seen = asyncio.Event()
        self._received: list[tuple[float, np.ndarray]] = []  # (arrival, audio), for tests
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        # A speakerphone: what the caller's device plays leaks back into its microphone.
        self._echo = (
            SpeakerphoneEcho(echo_gain, echo_delay_ms, sample_rate) if echo_gain > 0.0 else None
        )
        # Background noise at the caller's end, and a network that loses or reorders frames.
        self.noise = noise
        self.network = network
        # Trimming at 2 % of the peak cuts soft onsets; voices that trim themselves pass False.
        self.trim = trim

    async def run(self, script: Sequence[ScriptLine], hang_up: bool = True) -> CallReport:
        """Runs the call and returns what happened.

        Args:
            script: what the caller says, in order.
            hang_up: hang up after the script; False waits (up to the turn timeout) for the
                agent to end the call.
        """
        lines = [
            (line, np.zeros(0, np.int16) if line.keys else await self._synthesize_line(line))
            for line in script
        ]

        async def play() -> None:
            for line, audio in lines:
                if not await self._say(line, audio):
                    break

        return await self._call(play, hang_up)

    async def converse(
        self,
        next_line: Callable[[], Awaitable[ScriptLine | None]],
        hang_up: bool = True,
        wait_for_reply: bool = True,
    ) -> CallReport:
        """Runs a call whose caller decides each line once the agent's reply has ended.

        Args:
            next_line: asked for the caller's next line after each reply (the greeting
                first); None ends the script.
            hang_up: as in `run`.
            wait_for_reply: False asks for the next line as soon as the agent's reply has
                started (a caller who talks over it uses `barge_in_after_ms`).
        """

        async def play() -> None:
            while not self._ended.is_set():
                if wait_for_reply:
                    await self._wait(self._turn_end)
                line = await next_line()
                if line is None:
                    break
                keys = bool(line.keys)
                audio = np.zeros(0, np.int16) if keys else await self._synthesize_line(line)
                if not await self._say(line, audio):
                    break

        return await self._call(play, hang_up)

    async def _call(self, play: Callable[[], Awaitable[None]], hang_up: bool) -> CallReport:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(self.url, headers=headers) as ws,
        ):
            start = {"type": "start", "sample_rate": self.sample_rate, "caller": "+15550100"}
            await ws.send_str(json.dumps({**start, "parameters": self.parameters}))
            self._ws = ws
            receiver = asyncio.create_task(self._receive(ws))
            sender = asyncio.create_task(self._send(ws))
            try:
                await self._wait(self._turn_end)  # the greeting
                await play()
                await self._wait(self._turn_end)  # let the agent finish its last reply
                if not hang_up:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._ended.wait(), self.turn_timeout_s)
                if not self._ended.is_set():
                    await ws.send_str(json.dumps({"type": "end"}))
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._ended.wait(), 5.0)
            finally:
                sender.cancel()
                receiver.cancel()
                await asyncio.gather(sender, receiver, return_exceptions=True)
        return self._report

    @property
    def report(self) -> CallReport:
        """What happened so far (complete once `run` returns)."""
        return self._report

    async def interject(self, text: str) -> None:
        """Says `text` now, outside the script (e.g. to a person who picked the call up);
        returns once it has been spoken. Call while `run` is running."""
        audio = await self._synthesize_line(ScriptLine(text))
        report = TurnReport(text)
        self._spoken.clear()
        self._speech.put_nowait((audio, report))
        await self._wait(self._spoken)

    async def _synthesize_line(self, line: ScriptLine) -> np.ndarray:
        return await speak_line(
            self.voice, line.text, line.pause_ms, self.sample_rate, trim=self.trim
        )

    async def _say(self, line: ScriptLine, audio: np.ndarray) -> bool:
        if self._ended.is_set():
            return False
        if line.barge_in_after_ms is not None and self._current is not None:
            await self._wait(self._first_audio)
            await asyncio.sleep(line.barge_in_after_ms / 1000.0)
        elif self._current is not None:
            await self._wait(self._turn_end)
        if line.after_agent_says is not None:
            await self._wait_for_agent_text(line.after_agent_says)
        if line.gate is not None:
            await line.gate.wait()
        report = TurnReport(line.text)
        if line.keys and self._ws is not None:
            for digit in line.keys:
                await self._ws.send_str(json.dumps({"type": "dtmf", "digit": digit}))
            report.speech_start_s = report.speech_end_s = time.monotonic()
        else:
            self._spoken.clear()
            self._speech.put_nowait((audio, report))
            await self._wait(self._spoken)
        if not line.expect_reply:
            return True
        # From the end of this line on, agent audio and turn ends belong to this turn.
        self._turn_end.clear()
        self._first_audio.clear()
        self._current = report
        self._report.turns.append(report)
        await self._wait_for_reply_start()
        return True

    async def _wait_for_agent_text(self, wanted: str) -> None:
        """Until the agent has said `wanted` and finished that reply."""
        wanted = wanted.lower()

        def heard() -> bool:
            events = self._report.events
            said = [
                i
                for i, e in enumerate(events)
                if e.get("type") == "agent_text" and wanted in str(e["text"]).lower()
            ]
            return bool(said) and any(
                e.get("type") == "agent_turn_end" for e in events[said[0] + 1 :]
            )

        deadline = time.monotonic() + self.turn_timeout_s
        while not self._ended.is_set() and time.monotonic() < deadline and not heard():
            self._event_seen.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._event_seen.wait(), deadline - time.monotonic())

    async def _wait_for_reply_start(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._first_audio.wait(), self.turn_timeout_s)

    async def _wait(self, event: asyncio.Event) -> None:
        await wait_or_end(event, self._ended, self.turn_timeout_s)

    async def _send(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Streams frames in real time: speech when there is some, silence otherwise."""
        silence = np.zeros(self._frame, dtype=np.int16)
        pending: np.ndarray | None = None
        report: TurnReport | None = None
        started = time.monotonic()
        sent = 0
        while True:
            if pending is None and not self._speech.empty():
                pending, report = self._speech.get_nowait()
                report.speech_start_s = started + sent * FRAME_MS / 1000.0
            if pending is not None and report is not None:
                frame, pending = pending[: self._frame], pending[self._frame :]
                if pending.size == 0:
                    # The caller's speech ends with this frame's audio, at its end on the clock.
                    report.speech_end_s = (
                        started
                        + (sent + 1) * FRAME_MS / 1000.0
                        - ((self._frame - frame.size) / self.sample_rate)
                    )
                    pending = None
                    self._spoken.set()
                if frame.size < self._frame:
                    frame = np.concatenate([frame, silence[: self._frame - frame.size]])
            else:
                frame = silence
            # A live microphone delivers each frame once it has been captured.
            await asyncio.sleep(max(0.0, started + (sent + 1) * FRAME_MS / 1000 - time.monotonic()))
            if self._echo is not None:
                frame = self._echo.mix(frame, started + sent * FRAME_MS / 1000.0)
            if self.noise is not None:
                frame = self.noise.mix(frame)
            for data in self._through_network(frame.astype("<i2").tobytes()):
                await ws.send_bytes(data)
            sent += 1

    def _through_network(self, data: bytes) -> list[bytes]:
        """What reaches the server this tick: the native protocol has no sequence numbers, so
        a lost frame is concealed as silence (a receiver's jitter buffer would play that) and
        a late one arrives with the next."""
        if self.network is None:
            return [data]
        lost = self.network.lost
        out = self.network.push(data)
        if not out and self.network.lost > lost:
            return [bytes(len(data))]
        return out

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self._on_audio(np.frombuffer(msg.data, dtype="<i2").astype(np.int16))
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    self._on_event(json.loads(msg.data))
        finally:
            self._ended.set()

    def audio_since(self, since_s: float) -> np.ndarray:
        """Agent audio received at or after `since_s` (time.monotonic())."""
        chunks = [samples for at, samples in self._received if at >= since_s]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)

    def _on_audio(self, samples: np.ndarray) -> None:
        now = time.monotonic()
        self._received.append((now, samples))
        if self._echo is not None:
            self._echo.received(samples, now)
        turn = self._current
        if turn is None:
            self._report.greeting_audio.append(samples)
            return
        if turn.ttfa_ms is None and turn.speech_end_s and now >= turn.speech_end_s:
            # Time to the first audible sample: silence on the line is not an answer yet.
            offset_s = first_audible_s(samples, self.sample_rate)
            if offset_s is not None:
                turn.ttfa_ms = round((now + offset_s - turn.speech_end_s) * 1000.0, 1)
        turn.agent_audio.append(samples)
        self._first_audio.set()

    def _on_event(self, event: dict[str, Any]) -> None:
        event["_received_s"] = time.monotonic()  # when it reached the caller
        self._report.events.append(event)
        self._event_seen.set()
        kind = event.get("type")
        if kind == "started":
            self._report.call_id = str(event.get("call_id", ""))
        elif kind == "agent_turn_end":
            # Not on "interruption": that ends the reply the caller talked over, and the
            # decision can arrive after the caller's new line, whose answer is still to come.
            self._turn_end.set()
        elif kind == "clear" and self._echo is not None:
            self._echo.clear(time.monotonic())
        elif kind == "end":
            self._report.ended_by_agent = True
            self._ended.set()
