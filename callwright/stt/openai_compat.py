"""Speech recognition by any server that speaks OpenAI's `POST /v1/audio/transcriptions`.

That is OpenAI itself and the servers that copy its API: faster-whisper-server (speaches),
vLLM, LocalAI, whisper.cpp's server, Groq and others. Each utterance is uploaded as a 16-bit
mono WAV in a multipart form; the answer is JSON (`{"text": ...}`), or `verbose_json`, whose
segments carry `avg_logprob` and so give a confidence.

Failures raise `SttError`. Deadlines tight enough for a live call, retries and the fallback to
the embedded Whisper are `FallbackStt`'s job (stt/fallback.py); the timeout here only makes
sure no request can hang forever.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import numpy as np

from callwright.audio.wav import wav_bytes
from callwright.stt.base import Transcript

_EXCERPT_CHARS = 300
# Below this level the audio holds no speech worth a request (as for the embedded Whisper).
_SILENCE_RMS = 33.0


class SttError(RuntimeError):
    """A remote recognizer failed: HTTP error, broken connection, timeout or a bad answer.

    Attributes:
        status: the HTTP status when the server answered with an error, else None.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class RemoteSttOptions:
    """Where and how to transcribe.

    Attributes:
        base_url: API root, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8000/v1".
        model: model name sent with every request ("whisper-1", "Systran/faster-whisper-small").
        api_key: sent as a bearer token when set.
        language: ISO-639-1 code sent as a hint; None lets the server detect it.
        response_format: "json" (text only) or "verbose_json" (segments with log
            probabilities, from which the confidence is computed).
        prompt: optional text to bias the vocabulary (names, jargon).
        timeout_s: hard limit on one request; the fallback chain sets tighter deadlines.
        connect_timeout_s: limit on opening the connection.
    """

    base_url: str
    model: str = "whisper-1"
    api_key: str | None = None
    language: str | None = "en"
    response_format: Literal["json", "verbose_json"] = "json"
    prompt: str | None = None
    timeout_s: float = 10.0
    connect_timeout_s: float = 2.0


class OpenAICompatStt:
    """A remote recognizer behind the SpeechToText interface, shared by all calls.

    Args:
        options: server, model and limits.
        sample_rate: rate of the samples `transcribe` is given (the pipeline's 16 kHz).
    """

    def __init__(self, options: RemoteSttOptions, sample_rate: int = 16000) -> None:
        self.options = options
        self.sample_rate = sample_rate
        self.name = f"openai-stt:{options.model}"
        self.url = options.base_url.rstrip("/") + "/audio/transcriptions"
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use, because aiohttp binds a session to the running loop.
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=self.options.timeout_s, sock_connect=self.options.connect_timeout_s
            )
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        """Uploads int16 mono samples at `sample_rate` and returns what the server heard.

        Near-silent audio is answered at once with an empty transcript, without a request.

        Raises:
            SttError: the request failed, timed out, or the answer has no text.
        """
        samples = np.asarray(samples, dtype=np.int16).reshape(-1)
        audio_ms = 1000.0 * samples.size / self.sample_rate
        if samples.size == 0 or _rms(samples) < _SILENCE_RMS:
            return Transcript(text="", confidence=None, audio_ms=audio_ms, compute_ms=0.0)
        started = time.perf_counter()
        body = await self._post(self._form(samples))
        text, confidence = parse_transcription(body)
        compute_ms = 1000.0 * (time.perf_counter() - started)
        return Transcript(
            text=text, confidence=confidence, audio_ms=audio_ms, compute_ms=compute_ms
        )

    def _form(self, samples: np.ndarray) -> aiohttp.FormData:
        options = self.options
        form = aiohttp.FormData()
        form.add_field(
            "file",
            wav_bytes(samples, self.sample_rate),
            filename="utterance.wav",
            content_type="audio/wav",
        )
        form.add_field("model", options.model)
        form.add_field("response_format", options.response_format)
        form.add_field("temperature", "0")
        if options.language:
            form.add_field("language", options.language)
        if options.prompt:
            form.add_field("prompt", options.prompt)
        return form

    async def _post(self, form: aiohttp.FormData) -> str:
        headers = {"Accept": "application/json"}
        if self.options.api_key:
            headers["Authorization"] = f"Bearer {self.options.api_key}"
        try:
            async with self._get_session().post(self.url, data=form, headers=headers) as response:
                body = await response.text(errors="replace")
                if response.status >= 400:
                    raise SttError(
                        f"POST {self.url} answered HTTP {response.status}: {body[:_EXCERPT_CHARS]}",
                        status=response.status,
                    )
                return body
        except TimeoutError as exc:
            raise SttError(
                f"POST {self.url}: no answer within {self.options.timeout_s:g}s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise SttError(f"POST {self.url} failed: {exc!r}") from exc

    async def warm_up(self) -> None:
        """Nothing to load; the connection opens on the first request."""

    async def close(self) -> None:
        """Closes the HTTP session; a later request opens a new one."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def parse_transcription(body: str) -> tuple[str, float | None]:
    """The text and confidence of a transcription answer (`json` or `verbose_json`).

    The confidence is the mean token probability, exp(avg_logprob), weighted by segment
    length; None when the answer has no segments.

    Raises:
        SttError: the body is not a JSON object with a string `text`.
    """
    try:
        data: Any = json.loads(body)
    except ValueError as exc:
        raise SttError(f"transcription answer is not JSON: {body[:_EXCERPT_CHARS]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise SttError(f"transcription answer has no text: {body[:_EXCERPT_CHARS]!r}")
    text = " ".join(data["text"].split())
    segments = data.get("segments")
    confidence = None
    if text and isinstance(segments, list):
        weighted, total = 0.0, 0.0
        for segment in segments:
            if not isinstance(segment, dict):
                continue
            logprob = segment.get("avg_logprob")
            if not isinstance(logprob, int | float):
                continue
            weight = float(max(len(str(segment.get("text", ""))), 1))
            weighted += weight * float(logprob)
            total += weight
        if total:
            confidence = min(1.0, math.exp(weighted / total))
    return text, confidence


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
