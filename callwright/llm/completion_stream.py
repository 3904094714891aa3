"""One streamed chat completion, read in the background.

Reading a completion in its own task lets it start before anyone listens (preemptive
generation: the model starts on the speculative transcript while the end of turn is still
being decided) and lets two requests race for the first token (hedging). The listener applies
its own deadlines; this module only moves SSE data payloads from the socket to a queue.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp

_END = object()  # the stream closed without "[DONE]"


class LlmStreamError(Exception):
    """The stream broke after its headers (socket error, undecodable bytes)."""


async def next_sse_data(content: aiohttp.StreamReader, timeout_s: float | None) -> str | None:
    """Reads the data of the next SSE event; None at the end of the stream.

    Args:
        content: the response body.
        timeout_s: limit for the whole event; None waits as long as it takes.
    """
    lines: list[str] = []
    async with asyncio.timeout(None if timeout_s is None else max(timeout_s, 0.0)):
        while True:
            raw = await content.readline()
            if not raw:
                return "\n".join(lines) if lines else None
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line and lines:
                return "\n".join(lines)
            # Comments (":") and the event/id/retry fields carry nothing we use.
            if line.startswith("data:"):
                lines.append(line[5:].removeprefix(" "))


def carries_token(data: str) -> bool:
    """Whether an SSE payload holds the model's first words (text or a tool call) or an error.

    An error counts: it decides the request as surely as a token does.
    """
    try:
        chunk = json.loads(data)
    except ValueError:
        return True  # unparseable: the listener raises on it
    if not isinstance(chunk, dict):
        return True
    if "error" in chunk:
        return True
    for choice in chunk.get("choices") or []:
        delta = (choice or {}).get("delta") or {}
        if delta.get("content") or delta.get("tool_calls"):
            return True
    return False


def content_of(data: str) -> str | None:
    """The reply text of one SSE payload (choice 0), or None; "" ends a preview: a tool call,
    an error, or something unreadable (the listener deals with those)."""
    try:
        chunk = json.loads(data)
        if "error" in chunk:
            return ""
        text: str | None = None
        for choice in chunk.get("choices") or []:
            if (choice or {}).get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("tool_calls"):
                return ""
            content = delta.get("content")
            text = content if isinstance(content, str) and content else text
        return text
    except (ValueError, TypeError, AttributeError):
        return ""


class CompletionStream:
    """A request in flight: its SSE payloads queue up until someone reads them.

    Args:
        post: sends the request and returns the response once its headers arrived (raises
            on an error status or a timeout).
        label: which endpoint it went to ("primary", "hedge"), for the call record.

    Attributes:
        decided: set once the first token, an error, or the end of the stream arrived.
        has_token: whether that was a token.
    """

    def __init__(
        self, post: Callable[[], Awaitable[aiohttp.ClientResponse]], label: str = "primary"
    ) -> None:
        self.label = label
        self.decided = asyncio.Event()
        self.has_token = False
        self._items: asyncio.Queue[Any] = asyncio.Queue()
        # Everything put so far, for `replay` (a look at the stream that takes nothing from it).
        self._log: list[Any] = []
        self._grew = asyncio.Event()
        self._closed = False
        self._task = asyncio.create_task(self._read(post), name=f"llm-stream-{label}")

    async def next(self, timeout_s: float) -> str | None:
        """The next data payload; None when the stream closed without "[DONE]".

        Raises:
            TimeoutError: nothing arrived within `timeout_s`.
            Exception: what the request raised (`LlmError` from `post`, `LlmStreamError`).
        """
        async with asyncio.timeout(max(timeout_s, 0.0)):
            item = await self._items.get()
        if item is _END:
            return None
        if isinstance(item, BaseException):
            raise item
        return str(item)

    async def replay(self) -> AsyncIterator[str]:
        """Every data payload from the first, then each as it arrives, without consuming any:
        `next` still reads them all. Ends with the stream, on an error, or when it is closed.
        """
        index = 0
        while True:
            while index < len(self._log):
                item = self._log[index]
                index += 1
                if item is _END or isinstance(item, BaseException):
                    return
                yield str(item)
            if self._closed or self._task.done():
                return
            grew = self._grew
            await grew.wait()

    def close(self) -> None:
        """Stops reading and drops the connection (unless it already finished)."""
        self._task.cancel()
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        self._grew.set()
        self._grew = asyncio.Event()

    async def _read(self, post: Callable[[], Awaitable[aiohttp.ClientResponse]]) -> None:
        try:
            response = await post()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._put(exc)
            return
        finished = False
        try:
            while True:
                data = await next_sse_data(response.content, None)
                if data is None:
                    self._put(_END)
                    return
                if not self.has_token and carries_token(data):
                    self.has_token = True
                self._put(data)
                if data.strip() == "[DONE]":
                    finished = True
                    return
        except (aiohttp.ClientError, ValueError) as exc:
            self._put(LlmStreamError(repr(exc)))
        finally:
            if finished:
                response.release()
            else:
                response.close()

    def _put(self, item: Any) -> None:
        self._items.put_nowait(item)
        self._log.append(item)
        self._wake()
        if item is _END or isinstance(item, BaseException) or self.has_token:
            self.decided.set()


async def first_to_answer(
    start: Callable[[str], CompletionStream], hedge_after_s: float | None, has_hedge: bool
) -> tuple[CompletionStream, bool]:
    """Sends the request; if no token came within `hedge_after_s`, a second one; the first
    to bring a token wins and the other is cancelled.

    Args:
        start: starts the request to an endpoint ("primary" or "hedge").
        hedge_after_s: how long the primary may keep the caller waiting; None: never hedge.
        has_hedge: whether a hedge may be sent at all.

    Returns:
        The stream to read, and whether a hedge was sent.
    """
    primary = start("primary")
    if hedge_after_s is None or not has_hedge:
        return primary, False
    try:
        await asyncio.wait_for(primary.decided.wait(), hedge_after_s)
        return primary, False
    except TimeoutError:
        pass
    hedge = start("hedge")
    racing = {primary, hedge}
    waits: dict[asyncio.Future[Any], CompletionStream] = {}
    try:
        while True:
            waits = {asyncio.ensure_future(s.decided.wait()): s for s in racing}
            done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            decided = [waits[t] for t in done]
            winner = next((s for s in decided if s.has_token), None)
            if winner is None:
                racing -= set(decided)  # failed or empty: the other may still answer
                if not racing:
                    winner = primary
            if winner is not None:
                for stream in (primary, hedge):
                    if stream is not winner:
                        stream.close()
                return winner, True
    except asyncio.CancelledError:
        for wait in waits:  # a barge-in during the race: no wait left behind
            wait.cancel()
        primary.close()
        hedge.close()
        raise
