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

import dataclasses
import datetime as dt
import enum
import inspect
import re
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin, overload

from callwright.core.responder import CallInfo
from callwright.tools.registry import Tool, ToolRefused

Handler = Callable[..., Awaitable[Any]]
IdempotencyKey = Literal["call", "arguments"] | Callable[[dict[str, Any]], str] | None

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Example|Examples):")


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

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self.handler(*args, **kwargs)

    def key_for(self, arguments: dict[str, Any], call_id: str) -> str | None:
        """The idempotency key of a call with these arguments, or None for no key."""
        import hashlib
        import json

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
        )

    return decorate(function) if function is not None else decorate


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (text before the first section) and the `Args:` descriptions."""
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in doc.splitlines():
        heading = _SECTION.match(line)
        if heading:
            section, current = heading.group(1), None
            continue
        if section is None:
            summary.append(line.strip())
        elif section in ("Args", "Arguments", "Parameters") and line.strip():
            entry = re.match(r"^\s*(\*{0,2}\w+)(?:\s*\([^)]*\))?\s*:\s*(.*)$", line)
            if entry and (current is None or _indent(line) <= _indent_of_args(doc)):
                current = entry.group(1).lstrip("*")
                args[current] = entry.group(2).strip()
            elif current is not None:
                args[current] = f"{args[current]} {line.strip()}".strip()
    return " ".join(p for p in summary if p).strip(), args


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _indent_of_args(doc: str) -> int:
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*(Args|Arguments|Parameters):", line):
            following = next((n for n in lines[i + 1 :] if n.strip()), "")
            return _indent(following)
    return 0


def schema_of(handler: Handler, arg_docs: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    """The `object` schema of `handler`'s parameters, and its `CallInfo` parameter's name."""
    hints = typing.get_type_hints(handler)
    properties: dict[str, Any] = {}
    required: list[str] = []
    call_param: str | None = None
    for param in inspect.signature(handler).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name == "idempotency_key":
            continue  # filled by the runtime, never by the model
        hint = hints.get(param.name)
        if hint is CallInfo:
            call_param = param.name
            continue
        if hint is None:
            raise TypeError(f"{handler.__name__}: parameter {param.name!r} needs a type hint")
        prop = json_schema(hint)
        if param.name in arg_docs:
            prop["description"] = arg_docs[param.name]
        properties[param.name] = prop
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema, call_param


def json_schema(hint: Any) -> dict[str, Any]:
    """The JSON schema of one Python type hint."""
    origin = get_origin(hint)
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint is dt.date:
        return {"type": "string", "format": "date"}
    if hint is dt.time:
        return {"type": "string", "description": "HH:MM, 24 hours"}
    if hint is dt.datetime:
        return {"type": "string", "format": "date-time"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"type": "string", "enum": [m.value for m in hint]}
    if origin is Literal:
        values = list(get_args(hint))
        return {"type": _json_type(values[0]), "enum": values}
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        args = get_args(hint)
        items = json_schema(args[0]) if args and args[0] is not Ellipsis else {}
        return {"type": "array", "items": items}
    if origin is dict or hint is dict:
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if len(options) == 1:
            return json_schema(options[0])
        return {"anyOf": [json_schema(a) for a in options]}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        fields = typing.get_type_hints(hint)
        return {
            "type": "object",
            "properties": {n: json_schema(t) for n, t in fields.items()},
            "required": list(fields),
        }
    if hint is Any:
        return {}
    raise TypeError(f"no JSON schema for type {hint!r}")


def coerce(hint: Any, name: str, value: Any) -> Any:
    """An argument as its type hint says (the model sends dates as strings, numbers as text).

    Raises:
        ToolRefused: the value cannot be that type; the model is told, and no retry is made.
    """
    try:
        if hint is dt.date and isinstance(value, str):
            return dt.date.fromisoformat(value)
        if hint is dt.time and isinstance(value, str):
            return dt.time.fromisoformat(value)
        if hint is dt.datetime and isinstance(value, str):
            return dt.datetime.fromisoformat(value)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return hint(value)
        if hint is int and isinstance(value, str | float) and not isinstance(value, bool):
            return int(value)
        if hint is float and isinstance(value, str | int) and not isinstance(value, bool):
            return float(value)
    except ValueError as exc:
        raise ToolRefused(f"argument {name}: {exc}") from exc
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"
