"""Speech synthesis by any server that speaks OpenAI's `POST /v1/audio/speech`.

That is OpenAI itself and the servers that copy its API (speaches/openedai-speech, Kokoro-FastAPI,
LocalAI, vLLM-omni and others). The request is JSON (`model`, `input`, `voice`,
`response_format`, `speed`); with `response_format: "pcm"` the answer is raw 24 kHz 16-bit
little-endian mono PCM, with "wav" the same samples behind a WAV header. Either way the body is
chunked, and each chunk is yielded as it arrives, so playback starts on the first bytes.

A watchdog abandons a request whose first audio does not arrive in time or whose stream goes
quiet mid-sentence (`TtsError`), so `FallbackTts` can still speak the text with a local voice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal

import aiohttp
import numpy as np

from callwright.audio.resample import StreamResampler
from callwright.resilience import ProviderStalled, watch_stream
from callwright.tts.base import TtsError
from callwright.tts.espeak import parse_wav_header

PCM_SAMPLE_RATE = 24000  # what OpenAI's "pcm" format is defined as
_EXCERPT_CHARS = 300
_READ_SIZE = 8192


@dataclass(frozen=True, slots=True)
class RemoteTtsOptions:
    """Where and how to synthesize.

    Attributes:
        base_url: API root, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8880/v1".
        model: model name sent with every request ("tts-1", "gpt-4o-mini-tts", "kokoro").
        voice: voice name ("alloy", "af_heart", ...).
        api_key: sent as a bearer token when set.
        response_format: "pcm" (raw 24 kHz PCM16) or "wav".
        speed: speaking rate, 0.25 to 4.0.
        sample_rate: the rate of the audio the server sends (24000 for OpenAI's pcm); a WAV
            answer at another rate is resampled to it.
        first_audio_ms: the watchdog's limit from sending the request to the first bytes.
        stall_ms: the watchdog's limit on any silence of the stream after that.
        connect_timeout_s: limit on opening the connection.
    """

    base_url: str
    model: str = "tts-1"
    voice: str = "alloy"
    api_key: str | None = None
    response_format: Literal["pcm", "wav"] = "pcm"
    speed: float = 1.0
    sample_rate: int = PCM_SAMPLE_RATE
    first_audio_ms: float = 800.0
    stall_ms: float = 1000.0
    connect_timeout_s: float = 2.0


class OpenAICompatTts:
    """A remote voice behind the TextToSpeech interface, shared by all calls.

    Attributes:
        name: "openai-tts:" followed by the model and voice.
        sample_rate: `options.sample_rate`.
        accepts_ssml: False: the API takes plain text.
    """

    accepts_ssml: bool = False

    def __init__(self, options: RemoteTtsOptions) -> None:
        if not 0.25 <= options.speed <= 4.0:
            raise ValueError(f"speed must be 0.25-4.0, got {options.speed}")
        self.options = options
        self.name = f"openai-tts:{options.model}/{options.voice}"
        self.sample_rate = options.sample_rate
        self.url = options.base_url.rstrip("/") + "/audio/speech"
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use (aiohttp binds a session to the running loop). No total timeout:
        # a long text may stream for a while; the watchdog limits silence instead.
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.options.connect_timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        """Yields int16 mono audio at `sample_rate` as the server streams it.

        Args:
            text: what to say; blank text yields nothing and sends no request.

        Raises:
            TtsError: HTTP error, broken or stalled stream, or audio in an unexpected format.
        """
        if not text.strip():
            return
        options = self.options
        decode = _PcmDecoder() if options.response_format == "pcm" else _WavDecoder(self)
        received = 0
        watched = watch_stream(
            self._body(text),
            self.name,
            first_ms=options.first_audio_ms,
            idle_ms=options.stall_ms,
        )
        async with aclosing(watched) as blocks:
            try:
                async for block in blocks:
                    received += len(block)
                    samples = decode.feed(block)
                    if samples.size:
                        yield samples
            except ProviderStalled as exc:
                raise TtsError(str(exc)) from exc
        if received == 0:
            raise TtsError(f"{self.name} answered with no audio for {text[:40]!r}")
        tail = decode.finish()
        if tail.size:
            yield tail

    async def _body(self, text: str) -> AsyncIterator[bytes]:
        options = self.options
        payload = {
            "model": options.model,
            "input": text,
            "voice": options.voice,
            "response_format": options.response_format,
            "speed": options.speed,
        }
        headers = {"Content-Type": "application/json"}
        if options.api_key:
            headers["Authorization"] = f"Bearer {options.api_key}"
        try:
            async with self._get_session().post(
                self.url, data=json.dumps(payload), headers=headers
            ) as response:
                if response.status >= 400:
                    body = await response.text(errors="replace")
                    raise TtsError(
                        f"POST {self.url} answered HTTP {response.status}: {body[:_EXCERPT_CHARS]}"
                    )
                async for block in response.content.iter_chunked(_READ_SIZE):
                    yield block
        except aiohttp.ClientError as exc:
            raise TtsError(f"POST {self.url} failed: {exc!r}") from exc

    async def close(self) -> None:
        """Closes the HTTP session; a later request opens a new one."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class _PcmDecoder:
    """Raw little-endian PCM16: keeps an odd trailing byte for the next block."""

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, block: bytes) -> np.ndarray:
        data = self._carry + block
        usable = len(data) & ~1
        self._carry = data[usable:]
        return np.frombuffer(data[:usable], dtype="<i2").astype(np.int16)

    def finish(self) -> np.ndarray:
        return np.zeros(0, dtype=np.int16)


class _WavDecoder:
    """A streamed PCM16 mono WAV: header first, then samples (resampled if need be)."""

    def __init__(self, tts: OpenAICompatTts) -> None:
        self._name = tts.name
        self._rate = tts.sample_rate
        self._head = b""
        self._pcm: _PcmDecoder | None = None
        self._resampler: StreamResampler | None = None

    def feed(self, block: bytes) -> np.ndarray:
        if self._pcm is None:
            self._head += block
            try:
                header = parse_wav_header(self._head)
            except TtsError as exc:
                raise TtsError(f"{self._name} sent no usable WAV: {exc}") from exc
            if header is None:
                return np.zeros(0, dtype=np.int16)
            rate, offset = header
            if rate != self._rate:
                self._resampler = StreamResampler(rate, self._rate)
            self._pcm = _PcmDecoder()
            block, self._head = self._head[offset:], b""
        samples = self._pcm.feed(block)
        return self._resampler.process(samples) if self._resampler else samples

    def finish(self) -> np.ndarray:
        if self._pcm is None:
            raise TtsError(f"{self._name} ended its answer before a WAV header")
        return self._resampler.flush() if self._resampler else np.zeros(0, dtype=np.int16)
