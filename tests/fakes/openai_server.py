"""A local fake of an OpenAI-compatible chat-completions server, for tests.

It listens on 127.0.0.1 on an ephemeral port, records every request, and answers each request
with the next item of a script, streamed in the chunk format of the real API:

- `str`: a text reply, streamed as several content deltas split on word boundaries;
- `list[FakeToolCall]`: tool calls, each streamed as a first fragment with id, type, name and
  empty arguments, then the arguments in several fragments; finish_reason "tool_calls";
- `Reply`: text followed by tool calls in one completion;
- `HttpError`: an error status with a JSON error body;
- `Stall`: accepts the request, optionally streams some text, then never sends anything more;
- `Malformed`: a stream whose chunk is not valid JSON.

A request with `stream_options.include_usage` gets the real API's trailing usage chunk (no
choices; counts recorded in `usage`).

A request after the script is exhausted gets HTTP 500, so a test that asks too often fails.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_ARGUMENT_FRAGMENT_CHARS = 8


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call the fake model makes; `call_id` defaults to "call_<n>"."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """Text followed by tool calls in one completion."""

    text: str = ""
    tool_calls: list[FakeToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class HttpError:
    """Answer with an error status instead of a stream."""

    status: int = 500
    body: str = '{"error": {"message": "The server had an error", "type": "server_error"}}'


@dataclass(frozen=True)
class Stall:
    """Accept the request, stream `text_before` (if any), then go silent until shutdown.

    Attributes:
        text_before: text streamed before the silence.
        send_headers: False stalls before even sending the response headers.
    """

    text_before: str = ""
    send_headers: bool = True


@dataclass(frozen=True)
class Malformed:
    """Start a stream normally, then send a chunk that is not JSON."""

    payload: str = '{"id": "chatcmpl-fake", "choices": [{"delta": {"content": "Hi'


ScriptItem = str | list[FakeToolCall] | Reply | HttpError | Stall | Malformed


def _words(text: str) -> list[str]:
    """Splits text the way token deltas look: each piece carries its leading whitespace."""
    return re.findall(r"\s*\S+|\s+$", text)


def _fragments(arguments: str) -> Iterator[str]:
    for start in range(0, len(arguments), _ARGUMENT_FRAGMENT_CHARS):
        yield arguments[start : start + _ARGUMENT_FRAGMENT_CHARS]


def _deltas(reply: Reply) -> Iterator[dict[str, Any]]:
    """The deltas of one completion, as the real API orders them."""
    role_sent = False
    if reply.text or not reply.tool_calls:
        yield {"role": "assistant", "content": "", "refusal": None}
        role_sent = True
        for piece in _words(reply.text):
            yield {"content": piece}
    for index, call in enumerate(reply.tool_calls):
        head = {
            "index": index,
            "id": call.call_id or f"call_{index}",
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        if role_sent:
            yield {"tool_calls": [head]}
        else:
            yield {"role": "assistant", "content": None, "tool_calls": [head], "refusal": None}
            role_sent = True
        for piece in _fragments(json.dumps(call.arguments)):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}


class FakeOpenAI:
    """The running fake server.

    Attributes:
        base_url: API root to put in `LlmOptions.base_url` (ends with "/v1").
        requests: JSON body of every request received, in order.
        headers: headers of every request received, in order.
        usage: the token counts sent at the end of each completion that asked for them
            (`stream_options.include_usage`), in order.
    """

    def __init__(self, script: Iterable[ScriptItem]) -> None:
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.usage: list[dict[str, int]] = []
        self._script: deque[ScriptItem] = deque(script)
        self._stop = asyncio.Event()
        self._completions = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Records the request and answers with the next script item."""
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if not self._script:
            return web.json_response({"error": {"message": "fake script exhausted"}}, status=500)
        item = self._script.popleft()
        if isinstance(item, HttpError):
            return web.Response(status=item.status, text=item.body, content_type="application/json")
        if isinstance(item, Stall) and not item.send_headers:
            await self._stop.wait()
            return web.Response(status=503)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        self._completions += 1
        completion_id = f"chatcmpl-fake{self._completions}"
        model = str(body.get("model", "fake-model"))
        if isinstance(item, Stall):
            if item.text_before:
                for delta in _deltas(Reply(text=item.text_before)):
                    await response.write(self._chunk(completion_id, model, delta))
            await self._stop.wait()
            return response
        if isinstance(item, Malformed):
            await response.write(self._chunk(completion_id, model, {"role": "assistant"}))
            await response.write(f"data: {item.payload}\n\n".encode())
            return response
        if isinstance(item, str):
            reply = Reply(text=item)
        elif isinstance(item, list):
            reply = Reply(tool_calls=item)
        else:
            reply = item
        deltas = list(_deltas(reply))
        for delta in deltas:
            await response.write(self._chunk(completion_id, model, delta))
        finish_reason = "tool_calls" if reply.tool_calls else "stop"
        await response.write(self._chunk(completion_id, model, {}, finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            # The real API's last chunk: no choices, the request's token counts.
            usage = {
                "prompt_tokens": len(json.dumps(body["messages"])) // 4,
                "completion_tokens": len(deltas),
            }
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            self.usage.append(usage)
            chunk = json.loads(self._chunk(completion_id, model, {})[6:])
            chunk["choices"], chunk["usage"] = [], usage
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    @staticmethod
    def _chunk(
        completion_id: str, model: str, delta: dict[str, Any], finish_reason: str | None = None
    ) -> bytes:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        return f"data: {json.dumps(chunk)}\n\n".encode()

    def stop(self) -> None:
        """Releases stalled requests so the server can shut down."""
        self._stop.set()


@asynccontextmanager
async def start_fake_openai(script: Iterable[ScriptItem]) -> AsyncIterator[FakeOpenAI]:
    """Runs a fake server for the duration of the block.

    Args:
        script: one item per expected request, in order.

    Yields:
        The running server; `base_url` is set.
    """
    fake = FakeOpenAI(script)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
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
