"""A simulated caller over WebRTC: an aiortc peer that plays a script like `CallerSimulator`.

It does what a browser or an app does: opens a peer connection with a microphone track and a
`control` data channel, POSTs its offer to `/v1/webrtc/offer`, applies the answer, sends the
caller's speech (Opus or PCMU, chosen by codec preference) every 20 ms in real time, and
receives the agent's voice and the server's events (transcripts, timelines, `end`) on the data
channel. Keys go on the data channel as `{"type": "dtmf"}` messages.

WebRTC sends silence between replies, so agent audio counts from its first audible sample:
`TurnReport.ttfa_ms` runs from the caller's last speech sample to the first received frame
that holds one, the time-to-first-audio this caller experiences.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from callwright.audio.resample import StreamResampler
from callwright.sim.caller import CallerSimulator, CallReport
from callwright.tts.base import TextToSpeech

AUDIBLE = 300  # peak (int16) above which a received frame holds agent speech
HANGOVER_S = 1.0  # quiet frames still passed on after speech (pauses between sentences)


class OfferRefused(Exception):
    """The server answered the offer with an error (`status`, `body`)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"offer refused with {status}: {body}")
        self.status = status
        self.body = body


class MicrophoneTrack(MediaStreamTrack):
    """Sends whatever PCM16 frames are pushed, as they come (the producer keeps real time)."""

    kind = "audio"

    def __init__(self, rate: int) -> None:
        super().__init__()
        self.rate = rate
        self._frames: asyncio.Queue[bytes] = asyncio.Queue()
        self._pts = 0

    def push(self, pcm: bytes) -> None:
        self._frames.put_nowait(pcm)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        data = await self._frames.get()
        samples = np.frombuffer(data, dtype="<i2").astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.rate)
        self._pts += samples.shape[1]
        return frame


class _ChannelSocket:
    """What `CallerSimulator` sends through: audio to the microphone, text to the channel."""

    def __init__(self, mic: MicrophoneTrack, channel: Any) -> None:
        self._mic = mic
        self._channel = channel

    async def send_bytes(self, data: bytes) -> None:
        self._mic.push(data)

    async def send_str(self, text: str) -> None:
        if self._channel.readyState == "open":
            self._channel.send(text)


class WebRtcCallerSimulator(CallerSimulator):
    """Places one call over WebRTC and plays a script (see `CallerSimulator` for the rest).

    Args:
        base_url: the server's http:// root.
        voice: the caller's synthesizer.
        codec: "opus" or "pcmu": the only codec the offer lists.
        turn_timeout_s: how long to wait for the agent at each step.
    """

    def __init__(
        self,
        base_url: str,
        voice: TextToSpeech,
        codec: str = "opus",
        turn_timeout_s: float = 20.0,
        **options: Any,
    ) -> None:
        super().__init__(base_url.rstrip("/"), voice, 16000, turn_timeout_s, **options)
        self.codec = codec
        self.answer: dict[str, Any] = {}
        self._speaking_until = 0.0

    async def _call(self, play: Callable[[], Awaitable[None]], hang_up: bool) -> CallReport:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        mic = MicrophoneTrack(self.sample_rate)
        transceiver = pc.addTransceiver(mic, direction="sendrecv")
        wanted = f"audio/{self.codec}".lower()
        caps = RTCRtpSender.getCapabilities("audio").codecs
        transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() == wanted])
        channel = pc.createDataChannel("control")
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", lambda m: self._on_event(json.loads(m)))
        channel.on("close", self._ended.set)
        reader: list[asyncio.Task[None]] = []
        pc.on("track", lambda track: reader.append(asyncio.create_task(self._listen(track))))
        tasks: list[asyncio.Task[None]] = []
        try:
            await pc.setLocalDescription(await pc.createOffer())
            self.answer = await self._post_offer(pc.localDescription.sdp)
            self._report.call_id = str(self.answer.get("call_id", ""))
            await pc.setRemoteDescription(RTCSessionDescription(self.answer["sdp"], "answer"))
            await asyncio.wait_for(opened.wait(), self.turn_timeout_s)
            self._ws = _ChannelSocket(mic, channel)  # type: ignore[assignment]
            tasks.append(asyncio.create_task(self._send(self._ws)))  # type: ignore[arg-type]
            await self._wait(self._turn_end)  # the greeting
            await play()
            await self._wait(self._turn_end)
            if not hang_up:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ended.wait(), self.turn_timeout_s)
            if not self._ended.is_set():
                channel.send(json.dumps({"type": "end"}))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ended.wait(), 5.0)
        finally:
            for task in tasks + reader:
                task.cancel()
            await asyncio.gather(*tasks, *reader, return_exceptions=True)
            await pc.close()
        return self._report

    async def _post_offer(self, sdp: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        body = {"type": "offer", "sdp": sdp, "caller": "+15550100", "parameters": self.parameters}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.post(f"{self.url}/v1/webrtc/offer", json=body) as response,
        ):
            text = await response.text()
            if response.status != 200:
                raise OfferRefused(response.status, text)
            answer: dict[str, Any] = json.loads(text)
            return answer

    async def _listen(self, track: MediaStreamTrack) -> None:
        """Receives the agent's voice; frames from its first audible sample on are heard."""
        resampler: StreamResampler | None = None
        try:
            while True:
                frame = await track.recv()
                pcm = frame.to_ndarray().reshape(-1)  # type: ignore[union-attr]
                channels = len(frame.layout.channels)  # type: ignore[union-attr]
                if channels > 1:
                    pcm = pcm.reshape(-1, channels).mean(axis=1)
                rate = int(frame.sample_rate)  # type: ignore[union-attr]
                if resampler is None or resampler.from_rate != rate:
                    resampler = StreamResampler(rate, self.sample_rate)
                samples = resampler.process(pcm.astype(np.int16))
                now = time.monotonic()
                if samples.size and int(np.abs(samples.astype(np.int32)).max()) >= AUDIBLE:
                    self._speaking_until = now + HANGOVER_S
                if samples.size and now <= self._speaking_until:
                    self._on_audio(samples)
        except MediaStreamError:
            self._ended.set()
