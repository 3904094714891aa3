"""A local fake of OpenAI's audio endpoints, for tests.

It speaks the documented protocols exactly:

- `POST /v1/audio/transcriptions`: a multipart form with `file` (here a WAV), `model`, and
  optional `language`, `prompt`, `response_format` ("json" or "verbose_json"),
  `temperature`; answers `{"text": ...}` (verbose_json adds `language`, `duration` and
  `segments` with `avg_logprob`).
- `POST /v1/audio/speech`: JSON with `model`, `input`, `voice`, optional `response_format`
  ("pcm": raw 24 kHz PCM16 little-endian mono, or "wav") and `speed`; answers the audio as a
  chunked stream.

Each request is answered by the next item of the endpoint's script, or by its default once the
script is empty. A real recognizer and voice can stand behind the fake (`Transcribe`, `Speak`),
so calls through it carry real speech.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web

from callwright.audio.resample import resample
from callwright.audio.wav import read_wav
from callwright.stt.base import SpeechToText
from callwright.tts.base import TextToSpeech

PCM_RATE = 24000
_CHUNK_BYTES = 4800  # 100 ms of 24 kHz PCM16 per chunk, as a streaming server sends it


@dataclass(frozen=True)
class Transcribe:
    """Answer with what the fake's recognizer hears in the uploaded audio."""


@dataclass(frozen=True)
class Text:
    """Answer with a fixed transcript."""

    text: str


@dataclass(frozen=True)
class Speak:
    """Answer with the fake's voice speaking the input."""


@dataclass(frozen=True)
class Fail:
    """Answer with an error status and an OpenAI-style JSON error body."""

    status: int = 500
    message: str = "The server had an error while processing your request."


@dataclass(frozen=True)
class Hang:
    """Accept the request and never finish it (until the fake stops).

    Attributes:
        after_bytes: audio bytes sent before going silent (speech only; 0 sends only the
            headers).
        send_headers: False stalls before even sending the response headers.
    """

    after_bytes: int = 0
    send_headers: bool = True


SttItem = Transcribe | Text | Fail | Hang
TtsItem = Speak | Fail | Hang


class FakeAudioServer:
    """The running fake.

    Attributes:
        base_url: API root (ends with "/v1").
        transcriptions: one dict per transcription request: its form fields and the audio
            (`samples`, `sample_rate`).
        speeches: the JSON body of every speech request.
    """

    def __init__(
        self,
        stt: SpeechToText | None,
        voice: TextToSpeech | None,
        stt_script: Iterable[SttItem],
        stt_default: SttItem,
        tts_script: Iterable[TtsItem],
        tts_default: TtsItem,
    ) -> None:
        self.base_url = ""
        self.transcriptions: list[dict[str, Any]] = []
        self.speeches: list[dict[str, Any]] = []
        self.stt_default = stt_default
        self.tts_default = tts_default
        self._stt = stt
        self._voice = voice
        self._stt_script: deque[SttItem] = deque(stt_script)
        self._tts_script: deque[TtsItem] = deque(tts_script)
        self._stop = asyncio.Event()

    # --- transcriptions ------------------------------------------------------------------

    async def transcriptions_handler(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        upload = form.get("file")
        model = form.get("model")
        if not isinstance(upload, web.FileField) or not isinstance(model, str) or not model:
            return _error(400, "file and model are required", "invalid_request_error")
        samples, rate = read_wav(upload.file.read())
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        self.transcriptions.append({**fields, "samples": samples, "sample_rate": rate})
        item = self._stt_script.popleft() if self._stt_script else self.stt_default
        if isinstance(item, Fail):
            return _error(item.status, item.message, "server_error")
        if isinstance(item, Hang):
            if item.send_headers:
                response = web.StreamResponse(headers={"Content-Type": "application/json"})
                await response.prepare(request)
            await self._stop.wait()
            return web.Response(status=503)
        if isinstance(item, Text):
            text, logprob = item.text, -0.1
        else:
            if self._stt is None:
                return _error(500, "the fake has no recognizer", "server_error")
            if rate != self._stt.sample_rate:
                samples = resample(samples, rate, self._stt.sample_rate)
            transcript = await self._stt.transcribe(samples)
            text = transcript.text
            logprob = float(np.log(transcript.confidence)) if transcript.confidence else -1.0
        body: dict[str, Any] = {"text": text}
        if fields.get("response_format") == "verbose_json":
            duration = samples.size / rate
            body |= {
                "task": "transcribe",
                "language": fields.get("language", "english"),
                "duration": duration,
                "segments": [
                    {"id": 0, "start": 0.0, "end": duration, "text": text, "avg_logprob": logprob}
                ],
            }
        return web.json_response(body)

    # --- speech --------------------------------------------------------------------------

    async def speech_handler(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body must be JSON", "invalid_request_error")
        self.speeches.append(body)
        if not all(isinstance(body.get(k), str) and body[k] for k in ("model", "input", "voice")):
            return _error(400, "model, input and voice are required", "invalid_request_error")
        fmt = body.get("response_format", "mp3")
        if fmt not in ("pcm", "wav"):
            return _error(400, f"the fake only serves pcm and wav, not {fmt}", "invalid_request")
        item = self._tts_script.popleft() if self._tts_script else self.tts_default
        if isinstance(item, Fail):
            return _error(item.status, item.message, "server_error")
        if isinstance(item, Hang) and not item.send_headers:
            await self._stop.wait()
            return web.Response(status=503)
        content_type = "audio/wav" if fmt == "wav" else "audio/pcm"
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        audio = b""
        if isinstance(item, Speak) or item.after_bytes:
            audio = await self._speak(body["input"])
        if fmt == "wav":
            # A streaming server cannot know the length: placeholder sizes, as real ones send.
            audio = _wav_header(PCM_RATE) + audio
        if isinstance(item, Hang):
            await response.write(audio[: item.after_bytes])
            await self._stop.wait()
            return response
        for start in range(0, len(audio), _CHUNK_BYTES):
            await response.write(audio[start : start + _CHUNK_BYTES])
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    async def _speak(self, text: str) -> bytes:
        if self._voice is None:
            raise web.HTTPInternalServerError(text="the fake has no voice")
        chunks = [c async for c in self._voice.synthesize(text)]
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return resample(audio, self._voice.sample_rate, PCM_RATE).astype("<i2").tobytes()

    def stop(self) -> None:
        """Releases hanging requests so the server can shut down."""
        self._stop.set()


def _error(status: int, message: str, kind: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status)


def _wav_header(rate: int) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
    )


@asynccontextmanager
async def start_fake_audio(
    *,
    stt: SpeechToText | None = None,
    voice: TextToSpeech | None = None,
    stt_script: Iterable[SttItem] = (),
    stt_default: SttItem = Transcribe(),
    tts_script: Iterable[TtsItem] = (),
    tts_default: TtsItem = Speak(),
) -> AsyncIterator[FakeAudioServer]:
    """Runs a fake for the duration of the block.

    Args:
        stt: the recognizer behind `Transcribe` answers.
        voice: the voice behind `Speak` answers.
        stt_script: answers to the first transcription requests, in order.
        stt_default: the answer to every later transcription request.
        tts_script: answers to the first speech requests, in order.
        tts_default: the answer to every later speech request.

    Yields:
        The running fake; `base_url` is set.
    """
    fake = FakeAudioServer(stt, voice, stt_script, stt_default, tts_script, tts_default)
    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", fake.transcriptions_handler)
    app.router.add_post("/v1/audio/speech", fake.speech_handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}/v1"
    try:
        yield fake
    finally:
        fake.stop()
        await runner.cleanup()
