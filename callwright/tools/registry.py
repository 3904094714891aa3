"""A small typed registry of tools a responder may call.

Tools are async functions described by a JSON schema. The registry turns them into the
chat-completions `tools` list and runs the calls the model makes. `run` never raises for a
tool's failure: a missing argument, a timeout or an exception becomes a `ToolResult` with
`error` set, because the model can usually recover (apologise, ask again) when told what
went wrong, whereas an exception would end the turn in silence.

Tools with side effects (booking, cancelling) carry an idempotency key: the same key never
runs the handler twice (a duplicate waits for, then shares, the first call's result), and
the handler receives the key so the system of record can enforce it too. Retries with
exponential backoff apply to timeouts and exceptions; for side-effect tools they are safe
only because of that key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from callwright.core.responder import TextDelta, ToolCall, ToolResult
from callwright.tools.arguments import argument_errors

logger = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]
H = TypeVar("H", bound=Handler)

# What the chat-completions API accepts as a function name.
_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _empty_object_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {}}


# Beyond the longest a tool may run (`ToolRegistry.longest_ms`), for whatever waits on it: the
# result's handling, and a model's next request, which has its own first budget.
TOOL_MARGIN_MS = 500.0


@dataclass(slots=True)
class Tool:
    """One tool the model may call.

    Attributes:
        name: function name the model uses (letters, digits, `_` and `-`; at most 64).
        description: what the tool does and when to use it; the model reads this.
        parameters: JSON schema of the keyword arguments (an `object` schema).
        handler: async function called with the arguments as keyword arguments.
        timeout_s: how long one attempt may take before it is abandoned.
        retries: further attempts after a timeout or an exception.
        backoff_s: wait before the first retry; doubled for each further one.
        side_effect: the tool changes something (books, cancels); its calls are deduplicated
            by idempotency key and the handler gets the key as `idempotency_key`.
        slow_after_s: `run_with_filler` speaks a filler when a call takes longer than this.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler
    timeout_s: float = 5.0
    retries: int = 0
    backoff_s: float = 0.2
    side_effect: bool = False
    slow_after_s: float = 0.7

    def schema(self) -> dict[str, Any]:
        """Returns this tool in the chat-completions `tools` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


class ToolRegistry:
    """The tools offered to a responder, and the runner of the calls it makes.

    Args:
        tools: tools to register up front.
    """

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        # Results of side-effect calls by idempotency key; in-flight ones as futures.
        self._done: dict[str, asyncio.Future[ToolResult]] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool) -> Tool:
        """Adds a tool.

        Args:
            tool: the tool to add.

        Returns:
            The tool, so the call can be used inline.

        Raises:
            ValueError: the name is not a valid function name or is already registered.
        """
        if not _VALID_NAME.match(tool.name):
            raise ValueError(f"invalid tool name {tool.name!r}: use [A-Za-z0-9_-], at most 64")
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is already registered")
        if tool.timeout_s <= 0:
            raise ValueError(f"tool {tool.name!r}: timeout_s must be positive")
        if tool.retries < 0 or tool.backoff_s < 0:
            raise ValueError(f"tool {tool.name!r}: retries and backoff_s must not be negative")
        self._tools[tool.name] = tool
        return tool

    def tool(
        self,
        name: str | None = None,
        *,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        timeout_s: float = 5.0,
        retries: int = 0,
        side_effect: bool = False,
    ) -> Callable[[H], H]:
        """Decorator that registers an async function as a tool.

        Args:
            name: tool name; defaults to the function's name.
            description: defaults to the function's docstring.
            parameters: JSON schema of the arguments; defaults to an object with no properties.
            timeout_s: how long one attempt may take.
            retries: further attempts after a failure.
            side_effect: deduplicate calls by idempotency key (see `Tool`).

        Returns:
            A decorator that registers the function and returns it unchanged.
        """

        def decorate(handler: H) -> H:
            self.register(
                Tool(
                    name=name or handler.__name__,
                    description=description or (handler.__doc__ or "").strip(),
                    parameters=parameters if parameters is not None else _empty_object_schema(),
                    handler=handler,
                    timeout_s=timeout_s,
                    retries=retries,
                    side_effect=side_effect,
                )
            )
            return handler

        return decorate

    def get(self, name: str) -> Tool | None:
        """Returns the tool called `name`, or None."""
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def schemas(self) -> list[dict[str, Any]]:
        """Returns every tool in the chat-completions `tools` format, in registration order."""
        return [tool.schema() for tool in self._tools.values()]

    def changes_things(self, name: str) -> bool:
        """Does a call of `name` change something (book, cancel, refund)?"""
        tool = self._tools.get(name)
        return tool is not None and tool.side_effect

    def offers_changes(self) -> bool:
        """Is any tool the model is offered now one that changes something?"""
        return any(self.changes_things(tool.name) for tool in self._tools.values())

    def longest_ms(self, name: str) -> float:
        """The longest a call of `name` may run: every attempt to its timeout, and the waits
        between them (0 for an unknown tool)."""
        tool = self._tools.get(name)
        if tool is None:
            return 0.0
        waits = sum(tool.backoff_s * 2**k for k in range(tool.retries))
        return (tool.timeout_s * (tool.retries + 1) + waits) * 1000.0

    def filler(self, name: str) -> tuple[str, float] | None:
        """The line said while a slow call of `name` runs, and after how many seconds; None:
        none is said."""
        return None

    @staticmethod
    def idempotency_key(call: ToolCall, scope: str = "") -> str:
        """A key that is the same for the same tool, arguments and scope (e.g. the call id)."""
        canonical = json.dumps([scope, call.name, call.arguments], sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    async def run(self, call: ToolCall, idempotency_key: str | None = None) -> ToolResult:
        """Runs one tool call, with its retries.

        Args:
            call: the call the model (or a flow) made.
            idempotency_key: for side-effect tools, the key that makes a repeat of this call a
                no-op; defaults to `idempotency_key(call)`. Ignored for other tools.

        Returns:
            The result; `error` is set when the tool is unknown, an argument is missing, or
            every attempt timed out or raised. Cancellation is not caught.
        """
        tool = self._tools.get(call.name)
        if tool is None or not tool.side_effect:
            return await self._run_attempts(call, tool, None)
        key = idempotency_key or self.idempotency_key(call)
        earlier = self._done.get(key)
        if earlier is not None:
            first = await asyncio.shield(earlier)
            if first.error is None:
                logger.info(
                    "tool %r: duplicate call %s answered from key %s", call.name, call.call_id, key
                )
                return ToolResult(call=call, result=first.result, latency_ms=0.0)
        future: asyncio.Future[ToolResult] = asyncio.get_running_loop().create_future()
        self._done[key] = future
        try:
            result = await self._run_attempts(call, tool, key)
        except BaseException:
            del self._done[key]
            future.cancel()
            raise
        future.set_result(result)
        if result.error is not None:
            del self._done[key]  # a failed call may be tried again
        return result

    def invalid(self, call: ToolCall) -> str | None:
        """Why `call`'s arguments do not fit its tool's schema (`tools/arguments.py`), or None
        (an unknown tool is the run's to report)."""
        tool = self._tools.get(call.name)
        if tool is None:
            return None
        required = tool.parameters.get("required", [])
        missing = [arg for arg in required if arg not in call.arguments]
        if missing:
            return f"missing required argument(s): {', '.join(missing)}"
        return argument_errors(tool.parameters, call.arguments)

    async def run_many(self, calls: Sequence[ToolCall], scope: str = "") -> list[ToolResult]:
        """Runs calls concurrently; results in the order of `calls`."""
        keys = [self.idempotency_key(call, scope) if scope else None for call in calls]
        return list(
            await asyncio.gather(*(self.run(c, k) for c, k in zip(calls, keys, strict=True)))
        )

    async def run_with_filler(
        self, call: ToolCall, filler: str, idempotency_key: str | None = None
    ) -> AsyncIterator[TextDelta | ToolResult]:
        """Runs a call; yields `filler` to be spoken if it takes longer than the tool's
        `slow_after_s`, then the result.
        """
        task = asyncio.ensure_future(self.run(call, idempotency_key))
        tool = self._tools.get(call.name)
        slow_after = tool.slow_after_s if tool is not None else 1.0
        try:
            done, _ = await asyncio.wait({task}, timeout=slow_after)
            if not done:
                yield TextDelta(filler)
            yield await task
        finally:
            if not task.done():
                task.cancel()

    async def _run_attempts(self, call: ToolCall, tool: Tool | None, key: str | None) -> ToolResult:
        started = time.perf_counter()

        def done(result: Any = None, error: str | None = None) -> ToolResult:
            latency_ms = round((time.perf_counter() - started) * 1000.0, 1)
            return ToolResult(call=call, result=result, error=error, latency_ms=latency_ms)

        if tool is None:
            available = ", ".join(self._tools) or "none"
            return done(error=f"unknown tool {call.name!r}; available tools: {available}")
        problem = self.invalid(call)
        if problem is not None:
            return done(error=problem)
        arguments = dict(call.arguments)
        if key is not None:
            arguments["idempotency_key"] = key
        error = ""
        for attempt in range(tool.retries + 1):
            if attempt:
                await asyncio.sleep(tool.backoff_s * 2 ** (attempt - 1))
            deadline = asyncio.timeout(tool.timeout_s)
            try:
                async with deadline:
                    return done(result=await tool.handler(**arguments))
            except Exception as exc:
                # A TimeoutError the handler raised itself is a failure, not our timeout.
                if isinstance(exc, TimeoutError) and deadline.expired():
                    error = f"tool {call.name!r} timed out after {tool.timeout_s:g}s"
                else:
                    logger.warning(
                        "tool %r failed (attempt %d)", call.name, attempt + 1, exc_info=True
                    )
                    error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, ToolRefused):
                    break
        return done(error=error)


class ToolRefused(Exception):
    """A tool declines a call for a reason retrying cannot fix (a policy, a bad argument)."""
