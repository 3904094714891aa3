"""A small typed registry of tools a responder may call.

Tools are async functions described by a JSON schema. The registry turns them into the
chat-completions `tools` list and runs the calls the model makes. `run` never raises for a
tool's failure: a missing argument, a timeout or an exception becomes a `ToolResult` with
`error` set, because the model can usually recover (apologise, ask again) when told what
went wrong, whereas an exception would end the turn in silence.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from callwright.llm.base import ToolCall, ToolResult

logger = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]
H = TypeVar("H", bound=Handler)

# What the chat-completions API accepts as a function name.
_VALID_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _empty_object_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {}}


@dataclass(slots=True)
class Tool:
    """One tool the model may call.

    Attributes:
        name: function name the model uses (letters, digits, `_` and `-`; at most 64).
        description: what the tool does and when to use it; the model reads this.
        parameters: JSON schema of the keyword arguments (an `object` schema).
        handler: async function called with the arguments as keyword arguments.
        timeout_s: how long one call may take before it is abandoned.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler
    timeout_s: float = 5.0

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
        self._tools[tool.name] = tool
        return tool

    def tool(
        self,
        name: str | None = None,
        *,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        timeout_s: float = 5.0,
    ) -> Callable[[H], H]:
        """Decorator that registers an async function as a tool.

        Args:
            name: tool name; defaults to the function's name.
            description: defaults to the function's docstring.
            parameters: JSON schema of the arguments; defaults to an object with no properties.
            timeout_s: how long one call may take.

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

    async def run(self, call: ToolCall) -> ToolResult:
        """Runs one tool call.

        Args:
            call: the call the model made.

        Returns:
            The result; `error` is set when the tool is unknown, an argument is missing, the
            tool timed out or raised. Cancellation is not caught.
        """
        started = time.perf_counter()

        def done(result: Any = None, error: str | None = None) -> ToolResult:
            latency_ms = round((time.perf_counter() - started) * 1000.0, 1)
            return ToolResult(call=call, result=result, error=error, latency_ms=latency_ms)

        tool = self._tools.get(call.name)
        if tool is None:
            available = ", ".join(self._tools) or "none"
            return done(error=f"unknown tool {call.name!r}; available tools: {available}")
        required = tool.parameters.get("required", [])
        missing = [arg for arg in required if arg not in call.arguments]
        if missing:
            return done(error=f"missing required argument(s): {', '.join(missing)}")
        deadline = asyncio.timeout(tool.timeout_s)
        try:
            async with deadline:
                result = await tool.handler(**call.arguments)
        except Exception as exc:
            # A TimeoutError the handler raised itself is a failure, not our timeout.
            if isinstance(exc, TimeoutError) and deadline.expired():
                return done(error=f"tool {call.name!r} timed out after {tool.timeout_s:g}s")
            logger.warning("tool %r failed", call.name, exc_info=True)
            return done(error=f"{type(exc).__name__}: {exc}")
        return done(result=result)
