"""Whisper speech recognition with faster-whisper (CTranslate2), on the CPU, offline."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

from callwright.stt.base import Transcript
from callwright.stt.models import resolve_model

SAMPLE_RATE = 16000
# Below this level the input holds no speech worth a model call (about ±33 in int16 RMS).
_SILENCE_DBFS = -60.0
# Below this level Whisper's stock phrases are taken for hallucinations, not speech.
_QUIET_DBFS = -40.0
_HALLUCINATIONS = frozenset(
    {"you", "thank you", "thanks", "thanks for watching", "thank you for watching", "bye", "so"}
)
# Whisper's own silence rule: the no-speech token is likely and the text is unlikely.
_NO_SPEECH_PROB = 0.6
_LOG_PROB_THRESHOLD = -1.0
# The speech window needs the utterance plus padding to fit the 30 s the encoder knows.
_SPEECH_WINDOW_MAX_S = 28.0
_PAD_SECONDS = 1.0
# With less than ~6 s of encoder input, tiny.en often repeats a short utterance until it runs
# out of tokens ("Yes. Yes. Yes. ..."); at 8 s it still ends some two-sentence replies early
# ("Thank you for calling." without "Goodbye."). 12 s fixed both and measured 3.4 % WER at
# ~83 ms median vs 7.2 % at ~260 ms for the full window (bench/stt_window.py).
_MIN_WINDOW_S = 12.0
_MAX_FRAMES = 3000
# Past one 30 s window, timestamps let faster-whisper resume after the last whole segment;
# without them it cuts mid-word at 30 s and loses what straddles the cut.
_FULL_WINDOW_SAMPLES = 30 * SAMPLE_RATE
# Generous for fast speech, yet it stops a repetition loop long before 448 tokens.
_TOKENS_PER_SECOND = 12
_TOKEN_MARGIN = 16
# Whisper's previous-text prompt holds at most half its 448-token context.
_MAX_PROMPT_TOKENS = 223
# Shorter clips are decoded without the vocabulary prompt: on a murmur or an "uh-huh" Whisper
# copies prompt words ("Doctor Patel."), which turned backchannels into interruptions.
_MIN_BIASED_S = 1.0
# faster-whisper's default threshold for "this text repeats itself".
_COMPRESSION_RATIO_LIMIT = 2.4


@dataclass(frozen=True)
class WhisperOptions:
    """How to load and run Whisper.

    Attributes:
        model: "tiny.en", "base" (multilingual) or a CTranslate2 model directory.
        cpu_threads: threads of one inference.
        workers: inferences that may run at once (each uses `cpu_threads`).
        beam_size: 1 is greedy decoding, the fastest.
        window: "speech" encodes only the utterance plus one second of padding (about ten times
            faster for short utterances); "full" encodes Whisper's usual 30 s window.
        language: language code; English-only models accept only "en".
        vocabulary: names and terms the agent expects ("Doctor Nguyen", "Aetna"); they bias
            the decoder towards these spellings (see `WhisperStt.set_vocabulary`).
    """

    model: str = "tiny.en"
    cpu_threads: int = 2
    workers: int = 1
    beam_size: int = 1
    window: Literal["speech", "full"] = "speech"
    language: str = "en"
    vocabulary: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Decoded:
    text: str
    avg_logprob: float | None
    no_speech_prob: float


class WhisperStt:
    """Whisper behind the SpeechToText interface, shared by all calls of the process.

    Inference runs on an executor with one thread per worker; the loaded model serves them all.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, model: WhisperModel, options: WhisperOptions) -> None:
        self.options = options
        self.name = f"whisper-{_model_label(options.model)}"
        self._model = model
        if not model.model.is_multilingual and options.language != "en":
            raise ValueError(f"{self.name} is English-only; language {options.language!r}")
        self._tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=options.language,
        )
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._plain_prompt = list(self._prompt)
        self._previous_text = ""
        self.set_vocabulary(options.vocabulary)
        self._suppress = list(get_suppressed_tokens(self._tokenizer, (-1,)) or ())
        self._executor = ThreadPoolExecutor(
            max_workers=options.workers, thread_name_prefix="whisper"
        )

    def set_vocabulary(self, terms: Sequence[str]) -> None:
        """Biases recognition towards `terms` (the agent's names and domain words).

        They go in as Whisper's "previous text" prompt, the way faster-whisper passes
        `initial_prompt` and `hotwords`: the decoder then prefers these spellings when the
        audio is close ("Doctor Nguyen" over "Dr. New Year"). Kept short: the prompt costs
        decoder time on every utterance, and Whisper reads at most half its context from it.
        Shared by every call of the process; an empty list removes the bias.
        """
        terms = [t.strip() for t in terms if t.strip()]
        self._previous_text = ", ".join(dict.fromkeys(terms)) + "." if terms else ""
        prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        if self._previous_text:
            tokens = self._tokenizer.encode(" " + self._previous_text)[-_MAX_PROMPT_TOKENS:]
            prompt = [self._tokenizer.sot_prev, *tokens, *prompt]
        self._prompt = prompt

    @classmethod
    def load(cls, options: WhisperOptions | None = None) -> WhisperStt:
        """Loads the model once; blocking (about 0.3 s for tiny.en), so call it at startup.

        Raises:
            ValueError, RuntimeError: the model cannot be found (weights are never downloaded).
        """
        options = options or WhisperOptions()
        if options.workers < 1 or options.cpu_threads < 1:
            raise ValueError("workers and cpu_threads must be at least 1")
        model = WhisperModel(
            str(resolve_model(options.model)),
            device="cpu",
            compute_type="int8",
            cpu_threads=options.cpu_threads,
            num_workers=options.workers,
        )
        return cls(model, options)

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        """Transcribes int16 mono samples at 16 kHz.

        Returns an empty transcript, without running the model, for empty or near-silent audio.
        """
        audio = _to_float32(samples)
        audio_ms = 1000.0 * audio.shape[0] / SAMPLE_RATE
        if audio.size == 0 or _dbfs(audio) < _SILENCE_DBFS:
            return Transcript(text="", confidence=None, audio_ms=audio_ms, compute_ms=0.0)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transcribe_sync, audio)

    async def warm_up(self) -> None:
        """Runs one short inference so the first real call does not pay for lazy setup."""
        rng = np.random.default_rng(0)
        noise = (0.05 * rng.standard_normal(SAMPLE_RATE // 2)).astype(np.float32)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._transcribe_sync, noise)

    def close(self) -> None:
        """Stops the executor; the provider must not be used afterwards."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _transcribe_sync(self, audio: np.ndarray) -> Transcript:
        """Runs on the executor: inference, then the hallucination guards."""
        started = time.perf_counter()
        seconds = audio.shape[0] / SAMPLE_RATE
        decoded = None
        if self.options.window == "speech" and seconds <= _SPEECH_WINDOW_MAX_S:
            decoded = self._decode_speech_window(audio)
            # A highly compressible text is a repetition loop; faster-whisper's path retries
            # those at higher temperatures.
            if get_compression_ratio(decoded.text) > _COMPRESSION_RATIO_LIMIT:
                decoded = None
        if decoded is None:
            decoded = self._decode_full_window(audio)
        compute_ms = 1000.0 * (time.perf_counter() - started)

        text = _collapse_repeats(decoded.text.strip())
        avg_logprob = decoded.avg_logprob
        no_speech = (
            decoded.no_speech_prob > _NO_SPEECH_PROB
            and avg_logprob is not None
            and avg_logprob < _LOG_PROB_THRESHOLD
        )
        if no_speech or (_dbfs(audio) < _QUIET_DBFS and _normalize(text) in _HALLUCINATIONS):
            text = ""
        confidence = None
        if text and avg_logprob is not None:
            confidence = min(1.0, math.exp(avg_logprob))
        return Transcript(
            text=text,
            confidence=confidence,
            audio_ms=1000.0 * seconds,
            compute_ms=compute_ms,
        )

    def _decode_speech_window(self, audio: np.ndarray) -> _Decoded:
        """Encodes the utterance plus padding instead of a full 30 s window.

        CTranslate2 accepts a shorter encoder input, and encoder cost grows faster than
        linearly with its length. The padding is real silence appended to the audio, so its
        features get the same normalisation as the speech: at least one second of it, and
        enough to reach `_MIN_WINDOW_S`.
        """
        pad = max(_PAD_SECONDS * SAMPLE_RATE, _MIN_WINDOW_S * SAMPLE_RATE - audio.shape[0])
        padded = np.concatenate((audio, np.zeros(int(pad), np.float32)))
        features = self._model.feature_extractor(padded)[:, :-1]
        # The encoder's first convolution has stride 2: give it an even number of frames.
        frames = min(_MAX_FRAMES, features.shape[1] - features.shape[1] % 2)
        features = np.ascontiguousarray(features[np.newaxis, :, :frames], dtype=np.float32)
        encoded = self._model.model.encode(
            ctranslate2.StorageView.from_array(features), to_cpu=False
        )
        biased = audio.shape[0] >= _MIN_BIASED_S * SAMPLE_RATE
        prompt = self._prompt if biased else self._plain_prompt
        max_length = min(
            self._model.max_length,
            len(prompt)
            + _TOKEN_MARGIN
            + math.ceil(_TOKENS_PER_SECOND * audio.shape[0] / SAMPLE_RATE),
        )
        result = self._model.model.generate(
            encoded,
            [prompt],
            beam_size=self.options.beam_size,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        tokens = result.sequences_ids[0]
        # `scores` is the summed log probability divided by the token count (length_penalty 1);
        # like faster-whisper, count the end-of-text token in the average.
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1) if tokens else None
        return _Decoded(
            text=self._tokenizer.decode(tokens),
            avg_logprob=avg_logprob,
            no_speech_prob=float(result.no_speech_prob),
        )

    def _decode_full_window(self, audio: np.ndarray) -> _Decoded:
        """faster-whisper's own path: 30 s windows, its silence rule, its fallbacks."""
        segments, _ = self._model.transcribe(
            audio,
            beam_size=self.options.beam_size,
            language=self.options.language,
            without_timestamps=audio.shape[0] <= _FULL_WINDOW_SAMPLES,
            condition_on_previous_text=False,
            vad_filter=False,
            initial_prompt=(
                self._previous_text or None
                if audio.shape[0] >= _MIN_BIASED_S * SAMPLE_RATE
                else None
            ),
        )
        texts: list[str] = []
        weighted_logprob = 0.0
        token_count = 0
        for segment in segments:
            texts.append(segment.text.strip())
            weighted_logprob += segment.avg_logprob * (len(segment.tokens) + 1)
            token_count += len(segment.tokens) + 1
        avg_logprob = weighted_logprob / token_count if token_count else None
        # faster-whisper already dropped the segments its silence rule rejects.
        return _Decoded(" ".join(t for t in texts if t), avg_logprob, no_speech_prob=0.0)


def _model_label(model: str) -> str:
    """ "tiny.en" and "base" stay as they are; a directory is named by its last component."""
    if model in ("tiny.en", "base"):
        return model
    return Path(model).expanduser().name or model


def _to_float32(samples: np.ndarray) -> np.ndarray:
    """Scales int16 samples to [-1, 1) float32; float input is taken as already scaled."""
    samples = np.asarray(samples).reshape(-1)
    if np.issubdtype(samples.dtype, np.floating):
        return samples.astype(np.float32, copy=False)
    return samples.astype(np.float32) / 32768.0


def _dbfs(audio: np.ndarray) -> float:
    """RMS level relative to full scale, in dB (-inf for digital silence)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0.0 else -math.inf


def _collapse_repeats(text: str) -> str:
    """One copy of a sentence Whisper wrote twice in a row ("Do you take X? Do you take X?").

    A decoder loop too short for the compression-ratio check; a prompt makes it likelier.
    """
    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = [
        s
        for i, s in enumerate(sentences)
        if i == 0 or _normalize(s) != _normalize(sentences[i - 1])
    ]
    return " ".join(kept)


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).split())
