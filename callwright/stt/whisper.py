"""Whisper speech recognition with faster-whisper (CTranslate2), on the CPU, offline."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
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
from callwright.stt.deadline import TranscriptionSkipped, check_start, start_deadline
from callwright.stt.models import resolve_model
from callwright.stt.queue_waits import QueueWaits
from callwright.stt.whisper_engines import WhisperEngines, load_solo

logger = logging.getLogger(__name__)

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
# A call changes language only on an utterance this long that Whisper gives to the other
# language this clearly (its share of the probability of the agent's languages): on a short
# "Sí." base put 84 % on English, and a wrong switch costs the caller the rest of the call.
_SWITCH_MIN_S = 1.5
_SWITCH_SHARE = 0.8


@dataclass(frozen=True)
class WhisperOptions:
    """How to load and run Whisper.

    Attributes:
        model: "tiny.en", "base" (multilingual) or a CTranslate2 model directory.
        cpu_threads: threads of an inference that runs beside others.
        workers: inferences that may run at once (each uses `cpu_threads`).
        solo_threads: threads of an inference that starts while no other runs (a second
            instance of the weights, `stt/whisper_engines.py`); not above `cpu_threads`: one
            instance only.
        beam_size: 1 is greedy decoding, the fastest.
        window: "speech" encodes only the utterance plus one second of padding (about ten times
            faster for short utterances); "full" encodes Whisper's usual 30 s window.
        language: language code; English-only models accept only "en". With several
            languages (`transcribe_detecting`), the main one.
        vocabulary: names and terms the agent expects ("Doctor Nguyen", "Aetna"); they bias
            the decoder towards these spellings (see `WhisperStt.set_vocabulary`).
        other_beam_size: the beam for a language other than `language`. Greedy decoding of
            Spanish phone audio (espeak-ng es-419 through µ-law) with Whisper base got 36 of
            45 answers right; a beam of 5 got all 45, at about twice the decoding time.
        min_window_s: the shortest encoder input of the "speech" window, utterance and padding
            together. The encoder's cost grows with it (164 ms of CPU at 12 s, 68 ms at 6 s
            here), but tiny.en repeats or cuts short utterances over shorter windows (see
            `_MIN_WINDOW_S`); `python -m bench.stt_window --min-windows 12,8` compares them.
    """

    model: str = "tiny.en"
    cpu_threads: int = 1
    workers: int = 2
    solo_threads: int = 2
    beam_size: int = 1
    window: Literal["speech", "full"] = "speech"
    language: str = "en"
    vocabulary: tuple[str, ...] = ()
    other_beam_size: int = 5
    min_window_s: float = _MIN_WINDOW_S


@dataclass(frozen=True, slots=True)
class _Decoded:
    text: str
    avg_logprob: float | None
    no_speech_prob: float
    language: str = "en"


class WhisperStt:
    """Whisper behind the SpeechToText interface, shared by all calls of the process.

    Inference runs on an executor with one thread per worker; the loaded model serves them all,
    in arrival order, and optional requests that cannot start in time are skipped
    (`stt/deadline.py`).
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model: WhisperModel,
        options: WhisperOptions,
        solo: ctranslate2.models.Whisper | None = None,
    ) -> None:
        self.options = options
        self._engines = WhisperEngines(model.model, solo)
        self.name = f"whisper-{_model_label(options.model)}"
        self._model = model
        if not model.model.is_multilingual and options.language != "en":
            raise ValueError(f"{self.name} is English-only; language {options.language!r}")
        self._tokenizers: dict[str, Tokenizer] = {}
        self._tokenizer = self._tokenizer_for(options.language)
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._plain_prompt = list(self._prompt)
        self._previous_text = ""
        self._terms: list[str] = []
        self.set_vocabulary(options.vocabulary)
        self._suppress = list(get_suppressed_tokens(self._tokenizer, (-1,)) or ())
        self._executor = ThreadPoolExecutor(
            max_workers=options.workers, thread_name_prefix="whisper"
        )
        self.waiting = 0  # requests queued or running on the pool
        self.skipped = 0  # optional requests dropped at their deadline
        self._waits = QueueWaits()

    def set_vocabulary(self, terms: Sequence[str]) -> None:
        """Biases recognition towards `terms` (the agent's names and domain words).

        They go in as Whisper's "previous text" prompt, the way faster-whisper passes
        `initial_prompt` and `hotwords`: the decoder then prefers these spellings when the
        audio is close ("Doctor Nguyen" over "Dr. New Year"). Kept short: the prompt costs
        decoder time on every utterance, and Whisper reads at most half its context from it.
        Shared by every call of the process; an empty list removes the bias.
        """
        terms = [t.strip() for t in terms if t.strip()]
        self._terms = list(dict.fromkeys(terms))
        self._previous_text = ", ".join(dict.fromkeys(terms)) + "." if terms else ""
        self._prompt = self._prompts(self.options.language)[0]

    @property
    def multilingual(self) -> bool:
        """Whether the model hears languages other than English."""
        return bool(self._model.model.is_multilingual)

    def _tokenizer_for(self, language: str) -> Tokenizer:
        tokenizer = self._tokenizers.get(language)
        if tokenizer is None:
            tokenizer = Tokenizer(
                self._model.hf_tokenizer,
                self._model.model.is_multilingual,
                task="transcribe",
                language=language,
            )
            self._tokenizers[language] = tokenizer
        return tokenizer

    def _prompts(self, language: str) -> tuple[list[int], list[int]]:
        """The decoder prompts for `language`: with the vocabulary bias, and without."""
        tokenizer = self._tokenizer_for(language)
        plain = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        if not self._previous_text:
            return plain, plain
        tokens = tokenizer.encode(" " + self._previous_text)[-_MAX_PROMPT_TOKENS:]
        return [tokenizer.sot_prev, *tokens, *plain], plain

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
        solo = None
        if options.solo_threads > options.cpu_threads and options.window == "speech":
            solo = load_solo(str(resolve_model(options.model)), options.solo_threads)
        return cls(model, options, solo)

    async def transcribe(self, samples: np.ndarray) -> Transcript:
        """Transcribes int16 mono samples at 16 kHz.

        Returns an empty transcript, without running the model, for empty or near-silent audio.
        """
        audio = _to_float32(samples)
        audio_ms = 1000.0 * audio.shape[0] / SAMPLE_RATE
        if audio.size == 0 or _dbfs(audio) < _SILENCE_DBFS:
            return Transcript(text="", confidence=None, audio_ms=audio_ms, compute_ms=0.0)
        return await self._queued(audio)

    async def transcribe_detecting(
        self, samples: np.ndarray, languages: Sequence[str], current: str
    ) -> Transcript:
        """Transcribes in whichever of `languages` the audio is in (`DetectsLanguage`).

        Whisper's language detection runs on the same encoder output as the decoding, so it
        costs one decoder step. The call keeps `current` unless the utterance is at least
        `_SWITCH_MIN_S` long and the other language takes `_SWITCH_SHARE` of the probability
        the agent's languages get together.

        Raises:
            ValueError: the model is English-only and another language is asked for.
        """
        wanted = tuple(dict.fromkeys([current, *languages]))
        if not self.multilingual and wanted != ("en",):
            raise ValueError(
                f"{self.name} hears English only; languages {list(wanted)} need the "
                "multilingual model (stt model 'base')"
            )
        audio = _to_float32(samples)
        audio_ms = 1000.0 * audio.shape[0] / SAMPLE_RATE
        if audio.size == 0 or _dbfs(audio) < _SILENCE_DBFS:
            return Transcript("", None, audio_ms, 0.0, language=current)
        return await self._queued(audio, wanted, current)

    async def _queued(
        self, audio: np.ndarray, languages: tuple[str, ...] = (), current: str | None = None
    ) -> Transcript:
        """Runs on the shared pool in arrival order; an optional request (`stt/deadline.py`)
        still waiting at its deadline is skipped, not run. A request cancelled while it
        waits never runs either (the executor drops cancelled work)."""
        deadline = start_deadline()
        loop = asyncio.get_running_loop()
        self.waiting += 1
        token = self._waits.queued()
        try:
            return await loop.run_in_executor(
                self._executor, self._run_if_in_time, token, deadline, audio, languages, current
            )
        except TranscriptionSkipped:
            self.skipped += 1
            raise
        finally:
            self.waiting -= 1
            self._waits.left(token)  # no-op once started

    def _run_if_in_time(
        self,
        token: int,
        deadline: float | None,
        audio: np.ndarray,
        languages: tuple[str, ...],
        current: str | None,
    ) -> Transcript:
        check_start(deadline)
        self._waits.started(token)
        with self._engines.engine() as engine:
            return self._transcribe_sync(audio, languages, current, engine)

    def queue_wait_ms(self, window_s: float) -> float:
        """How long requests waited for a free worker (`HasQueue`)."""
        return self._waits.wait_ms(window_s)

    async def warm_up(self) -> None:
        """Runs one short inference so the first real call does not pay for lazy setup."""
        rng = np.random.default_rng(0)
        noise = (0.05 * rng.standard_normal(SAMPLE_RATE // 2)).astype(np.float32)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._transcribe_sync, noise)
        if self._engines.solo is not None:
            solo = self._engines.solo
            await loop.run_in_executor(self._executor, self._transcribe_sync, noise, (), None, solo)

    def close(self) -> None:
        """Stops the executor; the provider must not be used afterwards."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _transcribe_sync(
        self,
        audio: np.ndarray,
        languages: tuple[str, ...] = (),
        current: str | None = None,
        engine: ctranslate2.models.Whisper | None = None,
    ) -> Transcript:
        """Runs on the executor: inference (on `engine`, by default the shared instance), then
        the hallucination guards."""
        started = time.perf_counter()
        seconds = audio.shape[0] / SAMPLE_RATE
        language = current or self.options.language
        decoded = None
        looped = False
        if self.options.window == "speech" and seconds <= _SPEECH_WINDOW_MAX_S:
            decoded = self._decode_speech_window(
                audio, languages, language, engine or self._engines.shared
            )
            language = decoded.language
            # A highly compressible text is a repetition loop. A sentence or clause said over
            # and over ("Doctor Patel, Doctor Patel, Doctor") is that, once: the vocabulary
            # prompt makes short answers loop so. Any other loop goes to faster-whisper's path,
            # which retries at higher temperatures (a 30 s window: 600-700 ms more here).
            if get_compression_ratio(decoded.text) > _COMPRESSION_RATIO_LIMIT:
                once = _unloop(decoded.text)
                looped = once is None
                decoded = None if once is None else dataclasses.replace(decoded, text=once)
        if decoded is None:
            looped_ms = 1000.0 * (time.perf_counter() - started)
            decoded = self._decode_full_window(audio, language)
            if looped:  # no words logged: they are the caller's
                logger.info(
                    "a decoder loop on %.1f s of audio (%.0f ms), decoded again in the 30 s "
                    "window (%.0f ms)",
                    seconds,
                    looped_ms,
                    1000.0 * (time.perf_counter() - started) - looped_ms,
                )
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
            language=language if languages else None,
        )

    def _decode_speech_window(
        self,
        audio: np.ndarray,
        languages: tuple[str, ...],
        current: str,
        engine: ctranslate2.models.Whisper,
    ) -> _Decoded:
        """Encodes the utterance plus padding instead of a full 30 s window.

        CTranslate2 accepts a shorter encoder input, and encoder cost grows faster than
        linearly with its length. The padding is real silence appended to the audio, so its
        features get the same normalisation as the speech: at least one second of it, and
        enough to reach the options' `min_window_s`.
        """
        shortest = self.options.min_window_s * SAMPLE_RATE
        pad = max(_PAD_SECONDS * SAMPLE_RATE, shortest - audio.shape[0])
        padded = np.concatenate((audio, np.zeros(int(pad), np.float32)))
        features = self._model.feature_extractor(padded)[:, :-1]
        # The encoder's first convolution has stride 2: give it an even number of frames.
        frames = min(_MAX_FRAMES, features.shape[1] - features.shape[1] % 2)
        features = np.ascontiguousarray(features[np.newaxis, :, :frames], dtype=np.float32)
        encoded = engine.encode(ctranslate2.StorageView.from_array(features), to_cpu=False)
        biased = audio.shape[0] >= _MIN_BIASED_S * SAMPLE_RATE
        language = current
        if len(languages) > 1:
            seconds = audio.shape[0] / SAMPLE_RATE
            language = self._detect(engine, encoded, languages, current, seconds)
        if languages:
            tokenizer = self._tokenizer_for(language)
            with_bias, plain = self._prompts(language)
        else:
            tokenizer, with_bias, plain = self._tokenizer, self._prompt, self._plain_prompt
        beam = self.options.beam_size
        if language != self.options.language:
            beam = max(beam, self.options.other_beam_size)
        prompt = with_bias if biased else plain
        decoded = self._generate(engine, encoded, prompt, tokenizer, audio, beam)
        copied = languages and with_bias is not plain and self._copies_prompt(decoded.text)
        if biased and copied:
            # The decoder wrote out the vocabulary instead of the words (seen on short Spanish
            # answers: "Sí, por favor." → "Doctor Nguyen, Doctor Lopez, ..."): decode unbiased.
            # Only across languages, where the prompt is in another language than the words.
            decoded = self._generate(engine, encoded, plain, tokenizer, audio, beam)
        return dataclasses.replace(decoded, language=language)

    def _copies_prompt(self, text: str) -> bool:
        """Whether `text` is mostly the vocabulary prompt copied out (two terms or more)."""
        said = _normalize(text).split()
        terms = [t for t in (_normalize(x) for x in self._terms) if t]
        copied = [t for t in terms if f" {t} " in f" {' '.join(said)} "]
        covered = sum(len(t.split()) for t in copied)
        return len(copied) >= 2 and covered >= 0.6 * len(said)

    def _generate(
        self,
        engine: ctranslate2.models.Whisper,
        encoded: ctranslate2.StorageView,
        prompt: list[int],
        tokenizer: Tokenizer,
        audio: np.ndarray,
        beam_size: int,
    ) -> _Decoded:
        """Greedy (or beam) decoding of the encoded window after `prompt`."""
        max_length = min(
            self._model.max_length,
            len(prompt)
            + _TOKEN_MARGIN
            + math.ceil(_TOKENS_PER_SECOND * audio.shape[0] / SAMPLE_RATE),
        )
        result = engine.generate(
            encoded,
            [prompt],
            beam_size=beam_size,
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
            text=tokenizer.decode(tokens),
            avg_logprob=avg_logprob,
            no_speech_prob=float(result.no_speech_prob),
        )

    def _detect(
        self,
        engine: ctranslate2.models.Whisper,
        encoded: ctranslate2.StorageView,
        languages: tuple[str, ...],
        current: str,
        s: float,
    ) -> str:
        """The language of `languages` the encoded audio is in (see `transcribe_detecting`)."""
        if s < _SWITCH_MIN_S:
            return current
        scores = dict(engine.detect_language(encoded)[0])
        shares = {code: scores.get(f"<|{code}|>", 0.0) for code in languages}
        total = sum(shares.values())
        best = max(shares, key=lambda code: shares[code])
        if best != current and total > 0.0 and shares[best] / total >= _SWITCH_SHARE:
            return best
        return current

    def _decode_full_window(self, audio: np.ndarray, language: str | None = None) -> _Decoded:
        """faster-whisper's own path: 30 s windows, its silence rule, its fallbacks."""
        segments, _ = self._model.transcribe(
            audio,
            beam_size=self.options.beam_size,
            language=language or self.options.language,
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
        return _Decoded(
            " ".join(t for t in texts if t),
            avg_logprob,
            no_speech_prob=0.0,
            language=language or self.options.language,
        )


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


def _unloop(text: str) -> str | None:
    """The text of a decoder loop over whole sentences or clauses, each said once; None for
    any other.

    "Doctor Patel. Doctor Patel. Doctor Pat" is "Doctor Patel." and "Doctor Patel, Doctor
    Patel, Doctor" is "Doctor Patel," (the loop stopped at the token limit, mid-copy). A
    repeated clause must hold a word: "5, 5, 5, 5" may be dictation, and is left to the
    slower path, as are repeats that still compress like a loop.
    """
    for unit in (_SENTENCE, _CLAUSE):
        parts = [p.strip() for p in unit.findall(text.strip()) if p.strip()]
        if len(parts) > 1 and not parts[-1].endswith(_MARKS):
            cut, before = _normalize(parts[-1]), _normalize(parts[-2])
            if not cut or before.startswith(cut):
                parts.pop()  # the copy the token limit cut short
        kept = [p for i, p in enumerate(parts) if i == 0 or not _same_words(p, parts[i - 1])]
        once = " ".join(kept)
        if len(kept) < len(parts) and get_compression_ratio(once) <= _COMPRESSION_RATIO_LIMIT:
            return once
    return None


_MARKS = (".", "!", "?", ",", ";")
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_CLAUSE = re.compile(r"[^.!?,;]+[.!?,;]*")


def _same_words(a: str, b: str) -> bool:
    """Two clauses with the same words, at least one of them a word of letters."""
    words = _normalize(a)
    return words == _normalize(b) and re.search(r"[a-z]{2}", words) is not None


def _normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).split())
