"""Streaming responder for any OpenAI-compatible chat-completions server.

Works with OpenAI itself and with local servers that speak the same protocol (llama.cpp,
vLLM, Ollama, LM Studio). Each content delta is yielded as soon as its SSE chunk arrives, so
text-to-speech can start on the first sentence. Tool calls run through a `ToolRegistry` and
their results go back to the model, for a bounded number of rounds.

Failures raise `LlmError`; this module never invents a fallback reply, because what to say
when the model is down is the caller's decision.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from callwright.core.provider_events import report_provider_event
from callwright.core.responder import (
    CallInfo,
    EndCall,
    Message,
    ResponseEvent,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolResult,
    TurnContext,
    Working,
)
from callwright.llm.completion_stream import (
    CompletionStream,
    LlmStreamError,
    content_of,
    first_to_answer,
)
from callwright.tools.registry import TOOL_MARGIN_MS, ToolRegistry

log = logging.getLogger(__name__)

# Words a completion writes while a tool that changes something is offered wait this long (in
# characters, about two sentences) for the completion to show whether it calls one: a preamble
# to a call is short; past this it is an answer, and waiting longer would only delay it.
HOLD_MAX_CHARS = 160

INTERRUPTED_MARKER = " [interrupted by caller]"
END_CALL_TOOL = "end_call"
# A tool result longer than this is cut before the model reads it (about 2,000 tokens).
MAX_TOOL_RESULT_CHARS = 8000
# Said when the model ends the call without a word of its own.
GOODBYE_LINE = "Thank you for calling. Goodbye."
MAX_END_REASON_CHARS = 120
DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant on a phone call. Your replies are spoken aloud: keep "
    "them short and conversational, one or two sentences, with no lists, markdown or emoji."
)
_EXCERPT_CHARS = 500

Chat = list[dict[str, Any]]


class LlmError(Exception):
    """The model server failed: HTTP error, timeout, or a stream that could not be parsed.

    Attributes:
        status: HTTP status when the server answered with an error status, else None.
        body: excerpt of the error body, else None.
    """

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class LlmOptions:
    """How to reach the model and how it should answer.

    Attributes:
        base_url: API root, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8080/v1".
        model: model name sent with every request.
        api_key: sent as a bearer token when set.
        system_prompt: first message of every request.
        temperature: sampling temperature.
        max_tokens: cap on the length of one completion.
        request_timeout_s: limit for getting response headers, and for any silence of the
            stream once it has started.
        first_token_timeout_s: limit from sending a request to its first content or tool-call
            delta; a caller waiting in silence is the failure that matters most.
        max_tool_rounds: how many times one reply may run tools and ask the model again.
        stream_usage: asks for the token counts at the end of each stream
            (`stream_options.include_usage`), reported as `TokenUsage` events; turn it off
            for a server that rejects the option.
        hedge_after_s: when the first token has not come this long after the request, a
            second request goes out (to `hedge_base_url`, or the same server) and the first
            of the two to answer is used, the other cancelled; None never hedges.
        hedge_base_url: where the hedge goes; None: `base_url`.
        hedge_model: the model the hedge asks; None: `model`.
        preemptive: whether `prepare` may start a request on a speculative transcript.
        max_history_chars: the conversation sent with each request, at most (about a
            quarter as many tokens); the oldest turns are left out past it, so an hour's call
            neither overflows a small model's context nor costs quadratically. Raise it for a
            long-context model.
    """

    base_url: str
    model: str
    api_key: str | None = None
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    temperature: float = 0.4
    max_tokens: int = 300
    request_timeout_s: float = 10.0
    first_token_timeout_s: float = 4.0
    max_tool_rounds: int = 4
    stream_usage: bool = True
    hedge_after_s: float | None = None
    hedge_base_url: str | None = None
    hedge_model: str | None = None
    preemptive: bool = True
    max_history_chars: int = 16_000


def _wire_call(call: ToolCall) -> dict[str, Any]:
    function = {"name": call.name, "arguments": json.dumps(call.arguments)}
    return {"id": call.call_id, "type": "function", "function": function}


_LANGUAGE_NAMES = {"es": "Spanish", "fr": "French", "de": "German", "it": "Italian"}
_LANGUAGE_NAMES |= {"pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "zh": "Chinese"}


def in_language(system_prompt: str, context: TurnContext) -> str:
    """The system prompt, told to answer in the call's language when it is not English."""
    if context.language == "en":
        return system_prompt
    name = _LANGUAGE_NAMES.get(context.language, f"the language with code {context.language}")
    note = f"The caller speaks {name}: answer in {name}."
    return f"{system_prompt}\n\n{note}" if system_prompt else note


EARLIER_LEFT_OUT = "(Earlier turns of this call are left out.)"


def to_chat_messages(
    system_prompt: str, history: Sequence[Message], max_history_chars: int | None = None
) -> Chat:
    """Converts the conversation to chat-completions messages.

    An interrupted assistant message gets `INTERRUPTED_MARKER` appended so the model knows
    the caller heard only that much and cut it off.

    Args:
        system_prompt: leading system message; omitted when empty.
        history: the conversation so far.
        max_history_chars: when set, the oldest turns are left out until the conversation
            fits (always from a caller's turn on, so no tool result loses its call, and never
            the last caller turn); the system prompt then says so.

    Returns:
        The `messages` list of a chat-completions request.
    """
    turns = _wire_history(history)
    if max_history_chars is not None:
        turns = _recent(turns, max_history_chars)
        if len(turns) < len(history):
            system_prompt = f"{system_prompt}\n\n{EARLIER_LEFT_OUT}".strip()
    head: Chat = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return head + turns


def _recent(turns: Chat, budget: int) -> Chat:
    """The newest turns that fit `budget` characters, starting at a caller's turn.

    Measured from the newest back, only as far as the budget reaches: a long call's request
    costs what is sent, not the whole call."""
    total, earliest = 0, None  # the earliest caller's turn from which the rest fits
    for i in range(len(turns) - 1, -1, -1):
        total += len(json.dumps(turns[i], default=str))
        if total > budget:
            break
        if turns[i]["role"] == "user":
            earliest = i
    else:
        return turns  # all of it, the greeting before the first caller turn included
    if earliest is not None:
        return turns[earliest:]
    last = next((i for i in range(len(turns) - 1, -1, -1) if turns[i]["role"] == "user"), None)
    return turns[last:] if last is not None else turns


def _wire_history(history: Sequence[Message]) -> Chat:
    messages: Chat = []
    for message in history:
        if message.role == "tool":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": message.tool_call_id,
                    "content": capped(message.content),
                }
            )
        elif message.role == "assistant":
            content: str | None = message.content
            if message.interrupted:
                content = (message.content.rstrip() + INTERRUPTED_MARKER).lstrip()
            entry: dict[str, Any] = {"role": "assistant", "content": content}
            if message.tool_calls:
                entry["content"] = content or None
                entry["tool_calls"] = [_wire_call(call) for call in message.tool_calls]
            messages.append(entry)
        else:
            messages.append({"role": message.role, "content": message.content})
    return messages


def _tool_message(result: ToolResult) -> dict[str, Any]:
    if result.error is not None:
        content = json.dumps({"error": result.error})
    elif isinstance(result.result, str):
        content = result.result
    else:
        content = json.dumps(result.result, default=str)
    return {"role": "tool", "tool_call_id": result.call.call_id, "content": capped(content)}


def capped(content: str) -> str:
    """A tool's result as the model reads it: at most `MAX_TOOL_RESULT_CHARS`, said so when
    cut. A tool that returns a whole table would otherwise be sent with every request of the
    call (history trimming keeps the current turn whole)."""
    if len(content) <= MAX_TOOL_RESULT_CHARS:
        return content
    kept = content[:MAX_TOOL_RESULT_CHARS]
    return f"{kept}\n[the result was cut here: {len(content)} characters in all]"


@dataclass(slots=True)
class _PendingCall:
    call_id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class _Completion:
    """What one streamed completion produced besides the yielded text."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, _PendingCall] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: TokenUsage | None = None

    def add_fragment(self, fragment: dict[str, Any]) -> None:
        index = fragment.get("index")
        call_id = fragment.get("id")
        if not isinstance(index, int):
            # Some servers omit the index: a fragment belongs to the call with its id (some
            # repeat the id on every fragment), a new id is a new call, none the latest call.
            known = next(
                (i for i, p in self.calls.items() if call_id and p.call_id == call_id), None
            )
            if known is not None:
                index = known
            else:
                index = len(self.calls) if call_id or not self.calls else max(self.calls)
        pending = self.calls.setdefault(index, _PendingCall())
        pending.call_id = call_id or pending.call_id
        function = fragment.get("function") or {}
        pending.name = function.get("name") or pending.name
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # a server that sends the object itself, not its JSON
            arguments = json.dumps(arguments)
        pending.arguments += arguments or ""

    def tool_calls(self) -> list[tuple[ToolCall, str | None]]:
        """The finished calls, each with an error when its arguments are unusable."""
        out: list[tuple[ToolCall, str | None]] = []
        for index in sorted(self.calls):
            pending = self.calls[index]
            error: str | None = None
            try:
                arguments = json.loads(pending.arguments) if pending.arguments.strip() else {}
            except json.JSONDecodeError:
                arguments, error = {}, f"arguments are not valid JSON: {pending.arguments[:200]}"
            if not isinstance(arguments, dict):
                arguments, error = {}, "arguments must be a JSON object"
            call_id = pending.call_id or f"call_{uuid.uuid4().hex[:24]}"
            out.append((ToolCall(call_id, pending.name, arguments), error))
        return out

    def apply(self, data: str) -> str | None:
        """Folds one SSE data payload in; returns its content text, if any."""
        text: str | None = None
        try:
            chunk = json.loads(data)
            if "error" in chunk:
                raise LlmError(f"error in stream: {json.dumps(chunk['error'])[:_EXCERPT_CHARS]}")
            # Only choice 0 is ever requested; the trailing usage chunk has no choices at all.
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                self.usage = TokenUsage(
                    int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
                )
            for choice in chunk.get("choices") or []:
                if choice.get("index", 0) == 0:
                    delta = choice.get("delta") or {}
                    for fragment in delta.get("tool_calls") or []:
                        self.add_fragment(fragment)
                    text = delta.get("content") or None
                    self.finish_reason = choice.get("finish_reason") or self.finish_reason
            if not isinstance(text, str | None):
                raise TypeError("content is not a string")
        except (ValueError, TypeError, AttributeError) as exc:
            raise LlmError(f"malformed stream chunk ({exc}): {data[:200]!r}") from exc
        return text


class OpenAICompatResponder:
    """Serves one call. Created by `OpenAICompatResponderFactory.for_call`."""

    def __init__(
        self,
        call: CallInfo,
        options: LlmOptions,
        session: Callable[[], aiohttp.ClientSession],
        tools: ToolRegistry | None = None,
        greeting: str | None = None,
    ) -> None:
        self.call = call
        self._options = options
        self._session = session
        self._tools = tools
        self._greeting = greeting
        self._url = options.base_url.rstrip("/") + "/chat/completions"
        hedge_root = options.hedge_base_url or options.base_url
        self._hedge_url = hedge_root.rstrip("/") + "/chat/completions"
        # A request started on a speculative transcript, and the payload it was sent with.
        self._prefetch: tuple[str, CompletionStream] | None = None
        # Added to this responder's `llm` call event (e.g. the route that chose the model).
        self.note: dict[str, Any] = {}

    def prepare(self, context: TurnContext | None) -> None:
        """Starts the first request of the reply to `context` before it is asked for.

        `respond` uses it only if it would send exactly the same request (the caller's last
        words compared without case and punctuation); otherwise it is cancelled and a new
        request goes out. Preparing the same request again (a second look at the same pause)
        keeps the one in flight. None (the caller went on talking) cancels a prepared request.
        """
        if context is None or not self._options.preemptive or context.trigger != "user_turn":
            self._drop_prefetch()
            return
        messages = to_chat_messages(
            in_language(self._options.system_prompt, context),
            context.history,
            self._options.max_history_chars,
        )
        payload = self._payload(messages, final=self._options.max_tool_rounds == 0)
        if self._prefetch is not None and self._prefetch[0] == _request_key(payload):
            return  # the same request is already out: keep its head start
        self._drop_prefetch()
        stream = self._start(payload, "primary")
        self._prefetch = (_request_key(payload), stream)
        # When the head start began, on the call's clock: the benchmark sets it against the
        # caller's last speech sample and the end of the turn.
        report_provider_event("llm_prepared", {"model": payload.get("model")})
        # Unclaimed for this long, the turn went another way: do not read it forever.
        expire_s = self._options.first_token_timeout_s + self._options.request_timeout_s
        asyncio.get_running_loop().call_later(expire_s, self._expire, stream)

    async def preview(self) -> AsyncIterator[str]:
        """The text of the prepared request's reply as it streams (`PreviewsReply`), taking
        nothing from it: `respond` still reads it all. Ends at the end of the text, at a tool
        call, on an error, or when the prepared request is dropped; empty if none is prepared.
        """
        if self._prefetch is None:
            return
        async for data in self._prefetch[1].replay():
            text = content_of(data)
            if text == "":
                return
            if text is not None:
                yield text

    def has_preview(self) -> bool:
        """Whether a prepared request is in flight (`PreviewsReply`)."""
        return self._prefetch is not None

    def _expire(self, stream: CompletionStream) -> None:
        if self._prefetch is not None and self._prefetch[1] is stream:
            self._drop_prefetch()

    def _drop_prefetch(self) -> None:
        if self._prefetch is not None:
            self._prefetch[1].close()
            self._prefetch = None

    async def close(self) -> None:
        """Cancels a prepared request (the call ended)."""
        self._drop_prefetch()

    async def respond(self, context: TurnContext) -> AsyncIterator[ResponseEvent]:
        """Streams the reply to the latest turn of `context.history`.

        Raises:
            LlmError: the server failed, timed out, or sent something unparseable.
        """
        if context.trigger == "call_start" and self._greeting:
            yield TextDelta(self._greeting)
            return
        messages = to_chat_messages(
            in_language(self._options.system_prompt, context),
            context.history,
            self._options.max_history_chars,
        )
        rounds = self._options.max_tool_rounds
        spoke = False  # words of this reply already said (an earlier round's, or this one's)
        for round_index in range(rounds + 1):
            completion = _Completion()
            final = round_index == rounds
            first = round_index == 0
            # Words written before a call that changes something ("Done, it's cancelled.")
            # would be heard before the call ran, or was held for the caller's yes: while such
            # a tool is offered, a completion's words wait until it is known to call none.
            hold = not final and self._tools is not None and self._tools.offers_changes()
            held: list[str] = []
            stream_of = self._stream(messages, completion, final=final, first=first)
            async with aclosing(stream_of) as stream:
                async for text in stream:
                    if not hold:
                        spoke = True
                        yield TextDelta(text)
                        continue
                    held.append(text)
                    if sum(map(len, held)) > HOLD_MAX_CHARS:  # an answer, not a preamble
                        hold, spoke = False, True
                        yield TextDelta("".join(held))
                        held.clear()
                    else:
                        yield Working()  # the model is writing: no stall, though nothing is said
            if completion.usage is not None:
                yield completion.usage
            calls = completion.tool_calls() if completion.calls else []
            changes = self._tools is not None and any(
                self._tools.changes_things(call.name) for call, _ in calls
            )
            if held and not changes:
                spoke = True
                yield TextDelta("".join(held))
            elif held:
                log.info("words before a call that changes something were not said: %d chars",
                         sum(map(len, held)))  # fmt: skip
                completion.text.clear()  # the caller never heard them
            if not completion.calls:
                return
            end = next((call for call, _ in calls if call.name == END_CALL_TOOL), None)
            if final and end is None:
                raise LlmError(f"model still calling tools after {rounds} tool rounds")
            results: list[ToolResult | None] = []
            async with aclosing(self._run_all(calls, said=spoke)) as running:
                async for event in running:
                    if isinstance(event, list):
                        results = event
                        continue
                    spoke = spoke or isinstance(event, TextDelta)  # a filler was said
                    yield event
            if end is not None:
                if not spoke:
                    # A hang-up is never silent: the caller hears that the call is over.
                    yield TextDelta(GOODBYE_LINE)
                yield EndCall(_end_reason(end.arguments.get("reason")))
                return
            content = "".join(completion.text) or None
            wire_calls = [_wire_call(call) for call, _ in calls]
            messages.append({"role": "assistant", "content": content, "tool_calls": wire_calls})
            messages.extend(_tool_message(result) for result in results if result is not None)

    async def _run_all(
        self, calls: list[tuple[ToolCall, str | None]], said: bool
    ) -> AsyncGenerator[ResponseEvent | list[ToolResult | None], None]:
        """Runs a completion's calls side by side. Yields how long they may take (`Working`,
        for the watchdog), a tool's filler if they are slow and nothing was said yet, each
        result as it comes (so one a barge-in interrupts the others of is still recorded), and
        last all the results in the calls' order."""
        tasks = [asyncio.ensure_future(self._run(call, error)) for call, error in calls]
        tools = self._tools
        budget = Working(TOOL_MARGIN_MS)  # how long the calls may take, for the watchdog
        try:
            if tools is not None:
                longest = max((tools.longest_ms(call.name) for call, _ in calls), default=0.0)
                budget = Working(longest + TOOL_MARGIN_MS)
                yield budget
                fillers = [tools.filler(call.name) for call, error in calls if error is None]
                filler = next((f for f in fillers if f is not None), None)
                if filler is not None and not said:
                    line, slow_after_s = filler
                    _, slow = await asyncio.wait(tasks, timeout=slow_after_s)
                    if slow:
                        yield TextDelta(f"{line} ")
                        yield budget  # words reset the watchdog's wait
            pending: set[asyncio.Future[ToolResult | None]] = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:  # those done together, in the calls' order
                    if task in done and (result := task.result()) is not None:
                        yield result
                if pending and tools is not None:
                    # A result restarts the watchdog's short first-event wait: the tools
                    # still running get their own time again.
                    yield budget
            yield [task.result() for task in tasks]
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()

    async def _run(self, call: ToolCall, error: str | None) -> ToolResult | None:
        """Runs one call; None for an `end_call` that only signals the end of the call."""
        registered = self._tools is not None and call.name in self._tools
        if error is not None:
            return ToolResult(call=call, result=None, error=error)
        if call.name == END_CALL_TOOL and not registered:
            return None
        if self._tools is None:
            return ToolResult(call=call, result=None, error=f"unknown tool {call.name!r}")
        return await self._tools.run(call)

    def _payload(self, messages: Chat, final: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self._options.model,
            "messages": messages,
            "stream": True,
            "temperature": self._options.temperature,
            "max_tokens": self._options.max_tokens,
        }
        if self._options.stream_usage:
            payload["stream_options"] = {"include_usage": True}
        if self._tools is not None and len(self._tools) > 0:
            payload["tools"] = self._tools.schemas()
            if final:
                # Out of tool rounds: the model must now answer in words.
                payload["tool_choice"] = "none"
        return payload

    def _start(self, payload: dict[str, Any], label: str) -> CompletionStream:
        """Sends `payload` to the primary endpoint or the hedge endpoint, read in the background."""
        options = self._options
        url = self._hedge_url if label == "hedge" else self._url
        if label == "hedge" and options.hedge_model:
            payload = {**payload, "model": options.hedge_model}
        timeout_s = min(options.request_timeout_s, options.first_token_timeout_s)
        return CompletionStream(lambda: self._post(payload, timeout_s, url), label)

    async def _post(
        self, payload: dict[str, Any], timeout_s: float, url: str | None = None
    ) -> aiohttp.ClientResponse:
        url = url or self._url
        headers = {"Accept": "text/event-stream"}
        if self._options.api_key:
            headers["Authorization"] = f"Bearer {self._options.api_key}"
        response: aiohttp.ClientResponse | None = None
        try:
            async with asyncio.timeout(max(timeout_s, 0.0)):
                response = await self._session().post(url, json=payload, headers=headers)
                if response.status < 400:
                    return response
                body = await response.text(errors="replace")
        except (TimeoutError, aiohttp.ClientError) as exc:
            if response is not None:
                response.close()
            what = f"no response within {timeout_s:.1f}s" if isinstance(exc, TimeoutError) else exc
            raise LlmError(f"POST {url} failed: {what}") from exc
        response.release()
        excerpt = body[:_EXCERPT_CHARS]
        raise LlmError(
            f"POST {url} answered HTTP {response.status}: {excerpt}",
            status=response.status,
            body=excerpt,
        )

    async def _open(self, payload: dict[str, Any], first: bool) -> CompletionStream:
        """The request for `payload`: the prepared one if it matches, else a new (hedged) one."""
        prefetch, self._prefetch = self._prefetch, None
        preemptive: str | None = None
        stream: CompletionStream | None = None
        hedged = False
        if prefetch is not None and first and prefetch[0] == _request_key(payload):
            stream, preemptive = prefetch[1], "used"
        elif prefetch is not None:
            prefetch[1].close()
            preemptive = "discarded"
        if stream is None:
            options = self._options
            stream, hedged = await first_to_answer(
                lambda label: self._start(payload, label),
                options.hedge_after_s,
                has_hedge=options.hedge_after_s is not None,
            )
        # Recorded when there is something to tell: a head start, a hedge, or a route.
        if first and (preemptive or hedged or self.note):
            model = payload.get("model")
            if stream.label == "hedge":
                model = self._options.hedge_model or model
            note = {"model": model, "endpoint": stream.label, "preemptive": preemptive}
            report_provider_event("llm", note | {"hedged": hedged} | self.note)
        return stream

    async def _stream(
        self, messages: Chat, completion: _Completion, *, final: bool, first: bool = False
    ) -> AsyncGenerator[str, None]:
        """Requests one completion and yields its content deltas; fills `completion`."""
        options = self._options
        loop = asyncio.get_running_loop()
        first_token_deadline = loop.time() + options.first_token_timeout_s
        stream = await self._open(self._payload(messages, final), first)
        started = False
        try:
            while True:
                timeout_s = (
                    options.request_timeout_s if started else first_token_deadline - loop.time()
                )
                try:
                    data = await stream.next(timeout_s)
                except TimeoutError as exc:
                    what = "stalled for" if started else "sent no first token within"
                    limit = options.request_timeout_s if started else options.first_token_timeout_s
                    raise LlmError(f"stream from {self._url} {what} {limit:g}s") from exc
                except LlmStreamError as exc:
                    raise LlmError(f"stream from {self._url} broke: {exc}") from exc
                if data is None or data.strip() == "[DONE]":
                    done = data is not None or completion.finish_reason is not None
                    break
                text = completion.apply(data)
                started = started or text is not None or bool(completion.calls)
                if text is not None:
                    completion.text.append(text)
                    yield text
        finally:
            stream.close()
        if not done:
            raise LlmError(f"stream from {self._url} ended before the completion finished")


def _request_key(payload: dict[str, Any]) -> str:
    """A request as `prepare` compares it: the caller's last words without case or punctuation."""
    messages = list(payload.get("messages") or [])
    if messages and messages[-1].get("role") == "user":
        words = re.findall(r"\w+", str(messages[-1].get("content") or "").lower())
        messages[-1] = {**messages[-1], "content": " ".join(words)}
    return json.dumps({**payload, "messages": messages}, sort_keys=True, default=str)


class OpenAICompatResponderFactory:
    """Creates per-call responders that share one HTTP session.

    Args:
        options: server, model and limits.
        tools: tools offered to the model; None offers none.
        greeting: said at call start without asking the model; None asks the model.
    """

    name: str = "openai"

    def __init__(
        self, options: LlmOptions, tools: ToolRegistry | None = None, greeting: str | None = None
    ) -> None:
        self.options = options
        self.tools = tools
        self.greeting = greeting
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The HTTP session shared by this factory's responders (created on first use)."""
        return self._get_session()

    def _get_session(self) -> aiohttp.ClientSession:
        # Created on first use, because aiohttp binds a session to the running loop.
        if self._session is None or self._session.closed:
            # Timeouts are enforced per phase by the responder, so none here would cut a stream.
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        return self._session

    def for_call(self, call: CallInfo) -> OpenAICompatResponder:
        """Returns the responder that will serve `call`."""
        return OpenAICompatResponder(
            call, self.options, self._get_session, tools=self.tools, greeting=self.greeting
        )

    async def close(self) -> None:
        """Closes the HTTP session; a later request opens a new one."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _end_reason(reason: Any) -> str:
    """The model's reason for hanging up as the call's end reason: one line of at most
    `MAX_END_REASON_CHARS` (it is the model's free text, which a caller may steer)."""
    text = " ".join(reason.split())[:MAX_END_REASON_CHARS] if isinstance(reason, str) else ""
    return text or "completed"
