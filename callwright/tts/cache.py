"""An audio cache in front of a synthesizer, for prompts and fillers said again and again."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from callwright.tts.base import TextToSpeech, TtsError

logger = logging.getLogger(__name__)


def normalize_text(text: str) -> str:
    """The cache key of a text: whitespace collapsed, nothing else changed.

    Case and punctuation are kept because they change how the text is spoken.
    """
    return " ".join(text.split())


@dataclass
class _Synthesis:
    """One in-flight synthesis that every requester of the same text reads from."""

    chunks: list[np.ndarray] = field(default_factory=list)
    done: bool = False
    error: BaseException | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None

    def has_news(self, seen: int) -> bool:
        """Whether a follower that has seen `seen` chunks has something new to handle."""
        return self.done or len(self.chunks) > seen


class CachedTts:
    """Caches the audio of short texts (LRU, keyed by normalized text).

    Texts up to `max_chars` characters are synthesized once and replayed from memory after
    that; longer texts pass straight through. Concurrent requests for the same uncached
    text share one synthesis, and every requester (the first included) hears the audio
    as it is produced. The synthesis runs in its own task, so a requester that stops
    listening (barge-in) does not stop it: the audio is still cached for next time.

    Memory: a cached entry holds about 44 kB per second of 22 kHz audio, so the default
    256 entries of at most 120 characters (~8 s each) stay under ~90 MB, typically ~20 MB.

    Attributes:
        name: the inner provider's name.
        sample_rate: the inner provider's sample rate.
        accepts_ssml: whether the inner provider reads SSML.
        hits: requests answered from the cache (including joining an in-flight synthesis).
        misses: requests that started a synthesis of a cacheable text.
    """

    def __init__(self, inner: TextToSpeech, max_entries: int = 256, max_chars: int = 120) -> None:
        """Wraps a provider.

        Args:
            inner: the provider that really synthesizes.
            max_entries: the most texts kept; the least recently used is dropped first.
            max_chars: the longest (normalized) text that is cached.

        Raises:
            ValueError: a limit is not positive.
        """
        if max_entries < 1 or max_chars < 1:
            raise ValueError("max_entries and max_chars must be positive")
        self.inner = inner
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.accepts_ssml = bool(getattr(inner, "accepts_ssml", False))
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, tuple[np.ndarray, ...]] = OrderedDict()
        self._pending: dict[str, _Synthesis] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and normalize_text(text) in self._entries

    async def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        """Yields int16 mono audio at `sample_rate`, from memory when the text is cached.

        Args:
            text: the text to speak.

        Raises:
            TtsError: the inner provider failed (failures are not cached).
        """
        key = normalize_text(text)
        if not key or len(key) > self.max_chars:
            stream = self.inner.synthesize(text)
            try:
                async for chunk in stream:
                    yield chunk
            finally:
                await _aclose(stream)
            return
        cached = self._entries.get(key)
        if cached is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            for chunk in cached:
                # Copies: a consumer that edits its audio in place must not edit the cache.
                yield chunk.copy()
            return
        synthesis = self._pending.get(key)
        if synthesis is None:
            self.misses += 1
            synthesis = _Synthesis()
            self._pending[key] = synthesis
            synthesis.task = asyncio.create_task(self._fill(key, synthesis))
        else:
            self.hits += 1
        async for chunk in self._follow(synthesis):
            yield chunk

    async def _fill(self, key: str, synthesis: _Synthesis) -> None:
        stream = self.inner.synthesize(key)
        try:
            async for chunk in stream:
                synthesis.chunks.append(np.array(chunk, dtype=np.int16, copy=True))
                async with synthesis.changed:
                    synthesis.changed.notify_all()
        except asyncio.CancelledError as exc:
            synthesis.error = exc
            raise
        except Exception as exc:
            # Stored for the requesters; not re-raised, so an abandoned task never warns.
            synthesis.error = exc
        else:
            self._store(key, tuple(synthesis.chunks))
        finally:
            await _aclose(stream)
            synthesis.done = True
            del self._pending[key]
            async with synthesis.changed:
                synthesis.changed.notify_all()

    async def _follow(self, synthesis: _Synthesis) -> AsyncIterator[np.ndarray]:
        sent = 0
        while True:
            while sent < len(synthesis.chunks):
                yield synthesis.chunks[sent].copy()
                sent += 1
            if synthesis.done:
                break
            async with synthesis.changed:
                await synthesis.changed.wait_for(partial(synthesis.has_news, sent))
        error = synthesis.error
        if isinstance(error, asyncio.CancelledError):
            raise TtsError(f"{self.name}: the shared synthesis was cancelled") from error
        if error is not None:
            # A fresh exception per requester: several tasks re-raising one object would
            # tangle its traceback.
            raise TtsError(str(error)) from error

    def _store(self, key: str, chunks: tuple[np.ndarray, ...]) -> None:
        self._entries[key] = chunks
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def prewarm(self, texts: Iterable[str]) -> None:
        """Synthesizes texts into the cache so their first use is instant too.

        Texts longer than `max_chars` cannot be cached and are skipped with a warning.

        Args:
            texts: prompts, fillers and other fixed phrases.

        Raises:
            TtsError: the inner provider failed on one of the texts.
        """
        keys = list(dict.fromkeys(normalize_text(t) for t in texts))
        too_long = [k for k in keys if len(k) > self.max_chars]
        if too_long:
            logger.warning(
                "not caching %d texts longer than %d characters, e.g. %r",
                len(too_long),
                self.max_chars,
                too_long[0][:60],
            )
        keys = [k for k in keys if k and len(k) <= self.max_chars]
        if len(keys) > self.max_entries:
            logger.warning("prewarming %d texts into a cache of %d", len(keys), self.max_entries)
        # Gathered: the inner provider decides how much really runs in parallel.
        await asyncio.gather(*(self._drain(k) for k in keys))

    async def _drain(self, text: str) -> None:
        async for _ in self.synthesize(text):
            pass


async def _aclose(stream: AsyncIterator[np.ndarray]) -> None:
    # The Protocol promises only an AsyncIterator; async generators also have aclose().
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
