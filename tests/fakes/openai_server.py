"""A local fake of an OpenAI-compatible chat-completions server, for tests.

It listens on 127.0.0.1 on an ephemeral port, records every request, and answers it with a
script item, streamed in the chunk format of the real API. The item is either the next one of
a list (requests answered in the order they come), or, with a `Conversation`, the one for where
the request stands in the conversation: like a real server, each request is then answered from
what it contains, so requests started early on a speculative transcript (and dropped), retries
and hedges do not shift the answers of the requests that follow. A spoken call, whose number of
speculative requests depends on the pauses Whisper and the load produce, needs a `Conversation`;
a list suits requests whose order the test decides (failures injected in sequence).

The items:

- `str`: a text reply, streamed as several content deltas split on word boundaries;
- `list[FakeToolCall]`: tool calls, each streamed as a first fragment with id, type, name and
  empty arguments, then the arguments in several fragments; finish_reason "tool_calls";
- `Reply`: text followed by tool calls in one completion;
- `HttpError`: an error status with a JSON error body;
- `Stall`: accepts the request, optionally streams some text, then never sends anything more;
- `Malformed`: a stream whose chunk is not valid JSON.

A request with `stream_options.include_usage` gets the real API's trailing usage chunk (no
choices; counts recorded in `usage`).

A request after the script is exhausted gets HTTP 500, so a test that asks too often fails,
unless the server was given `default`, a function that writes the reply to any request. A
`Conversation` answers HTTP 500 to a request it has no item for.

Pacing like a real model: `ttft_ms` delays the first delta (the response headers go at once),
and `tokens_per_s` spaces the deltas after it (each word piece counts as one token). The
benchmarks run it as a process:

    python -m tests.fakes.openai_server --ttft-ms 300 --tokens-per-s 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
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


@dataclass(frozen=True)
class Conversation:
    """Answers each request by where it stands in the conversation, as a model at temperature 0
    gives the same answer to the same request.

    A request is placed by the number of caller (user) messages it carries, n, and the number
    of tool rounds after the last of them, k (assistant messages with tool calls: each round
    is the model's calls followed by their results). `turns[n][k]` answers it; n = 0 is the
    opening of the call, before the caller said anything. The caller's words are not read:
    whatever a speculative transcript said, its request is answered as the final one would be,
    and is dropped by the client when the words differ.

    Attributes:
        turns: for each caller turn, the completions of its reply, one per tool round.
    """

    turns: Mapping[int, Sequence[ScriptItem]]

    def answer(self, body: dict[str, Any]) -> ScriptItem:
        """The item for the request `body`; HTTP 500 when the script has none."""
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
        after = messages[users[-1] + 1 :] if users else messages
        rounds = sum(1 for m in after if m.get("role") == "assistant" and m.get("tool_calls"))
        items = self.turns.get(len(users), ())
        if rounds < len(items):
            return items[rounds]
        where = f"caller turn {len(users)}, tool round {rounds}"
        return HttpError(500, json.dumps({"error": {"message": f"no scripted answer ({where})"}}))


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

    def __init__(
        self,
        script: Iterable[ScriptItem] | Conversation,
        *,
        ttft_ms: float = 0.0,
        tokens_per_s: float | None = None,
        default: Callable[[dict[str, Any]], ScriptItem] | None = None,
    ) -> None:
        self.base_url = ""
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.usage: list[dict[str, int]] = []
        self._conversation: Conversation | None = None
        if isinstance(script, Conversation):
            self._conversation, script = script, ()
        self._script: deque[ScriptItem] = deque(script)
        self._ttft_s = max(ttft_ms, 0.0) / 1000.0
        self._token_s = 1.0 / tokens_per_s if tokens_per_s else 0.0
        self._default = default
        self._stop = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._completions = 0

    async def wait_for_request(
        self, match: Callable[[dict[str, Any]], bool], timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """The first request `match` accepts, received already or waited for.

        Raises:
            TimeoutError: none came within `timeout_s`.
        """
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: any(match(r) for r in self.requests))
        return next(r for r in self.requests if match(r))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Records the request and answers with its script item."""
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        async with self._arrived:
            self._arrived.notify_all()
        if self._conversation is not None:
            item = self._conversation.answer(body)
        elif self._script:
            item = self._script.popleft()
        elif self._default is not None:
            item = self._default(body)
        else:
            return web.json_response({"error": {"message": "fake script exhausted"}}, status=500)
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
        started = time.monotonic()
        if self._ttft_s:
            await asyncio.sleep(self._ttft_s)
        for index, delta in enumerate(deltas):
            if self._token_s and index > 1:  # the role delta and the first token go together
                await asyncio.sleep(max(0.0, started + self._ttft_s + (index - 1) * self._token_s
                                        - time.monotonic()))  # fmt: skip
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
async def start_fake_openai(
    script: Iterable[ScriptItem] | Conversation,
    *,
    ttft_ms: float = 0.0,
    tokens_per_s: float | None = None,
    default: Callable[[dict[str, Any]], ScriptItem] | None = None,
    port: int = 0,
) -> AsyncIterator[FakeOpenAI]:
    """Runs a fake server for the duration of the block.

    Args:
        script: one item per expected request, in order; or a `Conversation`, which answers
            each request by its content.
        ttft_ms: delay before the first delta of each completion.
        tokens_per_s: pace of the deltas after the first; None sends them at once.
        default: writes the reply to a request once the script is used up.
        port: the port to listen on (0: one the OS picks).

    Yields:
        The running server; `base_url` is set.
    """
    fake = FakeOpenAI(script, ttft_ms=ttft_ms, tokens_per_s=tokens_per_s, default=default)
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}/v1"
    try:
        yield fake
    finally:
        fake.stop()
        await runner.cleanup()


def spoken_reply(body: dict[str, Any]) -> str:
    """A different, realistic two-sentence answer to every request (never a cached phrase)."""
    n = len([m for m in body.get("messages", []) if m.get("role") == "user"])
    seed = int(time.monotonic_ns() // 1000) % 9000 + 1000
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
    return (
        f"Your order {seed} left our warehouse on {days[seed % 5]} morning, and it should "
        f"reach you within {2 + seed % 3} working days. Is there anything else about order "
        f"{seed} or turn {n} I can help you with?"
    )


async def _serve(port: int, ttft_ms: float, tokens_per_s: float | None) -> None:
    async with start_fake_openai(
        [], ttft_ms=ttft_ms, tokens_per_s=tokens_per_s, default=spoken_reply, port=port
    ) as fake:
        print(fake.base_url, flush=True)
        await asyncio.Event().wait()


def main() -> None:
    """Serves the scripted model until interrupted; prints its base URL on the first line."""
    parser = argparse.ArgumentParser(description="scripted OpenAI-compatible server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ttft-ms", type=float, default=300.0)
    parser.add_argument("--tokens-per-s", type=float, default=50.0)
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.port, args.ttft_ms, args.tokens_per_s or None))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
