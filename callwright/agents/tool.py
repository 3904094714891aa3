"""`@tool`: an async function becomes a tool the agent may call, its schema from its signature.

The JSON schema of the arguments comes from the type hints; the description and each
argument's description come from the Google-style docstring:

    @tool(timeout=3.0, confirm=True, filler="One moment while I file that.")
    async def start_return(order_id: str, reason: Literal["damaged", "wrong size"]) -> str:
        '''Opens a return for an order.

        Args:
            order_id: the order number the caller read out.
            reason: why the item goes back.
        '''

A parameter annotated `CallInfo` is not an argument the model fills: it receives the call
being served (its id, channel, caller number).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, overload

from callwright.agents.tool_schema import coerce, parse_docstring, schema_of
from callwright.core.responder import CallInfo
from callwright.tools.registry import Tool

Handler = Callable[..., Awaitable[Any]]
IdempotencyKey = Literal["call", "arguments"] | Callable[[dict[str, Any]], str] | None


@dataclass(frozen=True, slots=True)
class FunctionTool:
    """A tool defined by an async function (see `tool`); calling it calls the function.

    Attributes:
        name: the function name the model uses.
        description: the docstring's text before its sections.
        parameters: JSON schema of the arguments.
        handler: the function.
        timeout: seconds one attempt may take.
        retries: further attempts after a timeout or an exception.
        idempotency_key: "call" (the same arguments run once per phone call), "arguments"
            (once ever), a function of the arguments returning the key, or None.
        confirm: the tool has side effects: it runs only after the caller says yes to a
            read-back of the arguments (`confirm_prompt`, else a generic one).
        confirm_prompt: the read-back, formatted with the arguments ("Return order
            {order_id}?").
        filler: said when the call takes longer than `slow_after` seconds.
        slow_after: see `filler`.
        call_param: the name of the parameter that receives the `CallInfo`, if any.
        requires: tools that must have succeeded earlier in the same call, with the same
            values for the arguments they share, before this one may run ("check the
            return is eligible before creating it"); the model is told which is missing.
        identifies: a successful call verifies who the caller is (a lookup by name and date
            of birth): the tools of flow nodes with `requires_identity` run only after one.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Handler
    timeout: float = 5.0
    retries: int = 0
    idempotency_key: IdempotencyKey = None
    confirm: bool = False
    confirm_prompt: str | None = None
    filler: str | None = None
    slow_after: float = 0.7
    call_param: str | None = None
    requires: tuple[str, ...] = ()
    identifies: bool = False

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self.handler(*args, **kwargs)

    def key_for(self, arguments: dict[str, Any], call_id: str) -> str | None:
        """The idempotency key of a call with these arguments, or None for no key."""
        if self.idempotency_key is None and not self.confirm:
            return None
        if callable(self.idempotency_key):
            basis: Any = [self.name, self.idempotency_key(arguments)]
        elif self.idempotency_key == "arguments":
            basis = [self.name, arguments]
        else:  # "call", and confirmed tools by default: a yes said twice still runs once
            basis = [call_id, self.name, arguments]
        canonical = json.dumps(basis, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def for_call(self, call: CallInfo) -> Tool:
        """The registry tool that runs this function for `call`."""
        handler = self.handler
        call_param = self.call_param
        accepts_key = "idempotency_key" in inspect.signature(handler).parameters
        try:
            hints = typing.get_type_hints(handler)
        except Exception:  # a handler built at run time (HTTP tools) has no usable hints
            hints = {}

        async def run(**arguments: Any) -> Any:
            key = arguments.pop("idempotency_key", None)
            arguments = {k: coerce(hints.get(k), k, v) for k, v in arguments.items()}
            if accepts_key:
                arguments["idempotency_key"] = key
            if call_param is not None:
                arguments[call_param] = call
            return await handler(**arguments)

        return Tool(
            name=self.name,
            description=self.description,
            parameters=self.parameters,
            handler=run,
            timeout_s=self.timeout,
            retries=self.retries,
            side_effect=self.idempotency_key is not None or self.confirm,
            slow_after_s=self.slow_after,
        )


@overload
def tool(function: Handler, /) -> FunctionTool: ...


@overload
def tool(
    function: None = None,
    /,
    *,
    name: str | None = None,
    timeout: float = 5.0,
    retries: int = 0,
    idempotency_key: IdempotencyKey = None,
    confirm: bool = False,
    confirm_prompt: str | None = None,
    filler: str | None = None,
    slow_after: float = 0.7,
    requires: Sequence[str] = (),
    identifies: bool = False,
) -> Callable[[Handler], FunctionTool]: ...


def tool(
    function: Handler | None = None,
    /,
    *,
    name: str | None = None,
    timeout: float = 5.0,
    retries: int = 0,
    idempotency_key: IdempotencyKey = None,
    confirm: bool = False,
    confirm_prompt: str | None = None,
    filler: str | None = None,
    slow_after: float = 0.7,
    requires: Sequence[str] = (),
    identifies: bool = False,
) -> FunctionTool | Callable[[Handler], FunctionTool]:
    """Makes an async function a tool; use as `@tool` or `@tool(timeout=..., confirm=True)`.

    Args:
        function: the function, when used without parentheses.
        name: the name the model calls it by; defaults to the function's name.
        timeout: seconds one attempt may take.
        retries: further attempts after a timeout or an exception (exponential backoff).
        idempotency_key: "call", "arguments", a function of the arguments, or None.
        confirm: side effects: run only after the caller's yes (implies a "call" key).
        confirm_prompt: the read-back question, formatted with the arguments.
        filler: a line to say when the call is slow.
        slow_after: seconds before the filler is said.
        requires: tools that must have succeeded earlier in the call with the same values
            for the arguments they share (steps of a flow that must not be skipped).
        identifies: a successful call verifies the caller (opens `requires_identity` nodes).

    Returns:
        A `FunctionTool` (or a decorator making one).

    Raises:
        TypeError: the function is not async, or a parameter has no usable type hint.
    """

    def decorate(handler: Handler) -> FunctionTool:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"@tool needs an async function, got {handler!r}")
        description, arg_docs = parse_docstring(inspect.getdoc(handler) or "")
        parameters, call_param = schema_of(handler, arg_docs)
        return FunctionTool(
            name=name or handler.__name__,
            description=description,
            parameters=parameters,
            handler=handler,
            timeout=timeout,
            retries=retries,
            idempotency_key=idempotency_key,
            confirm=confirm,
            confirm_prompt=confirm_prompt,
            filler=filler,
            slow_after=slow_after,
            call_param=call_param,
            requires=tuple(requires),
            identifies=identifies,
        )

    return decorate(function) if function is not None else decorate
