"""JSON schemas from Python signatures and Google-style docstrings, for `@tool`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import re
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any, Literal, get_args, get_origin

from callwright.core.responder import CallInfo
from callwright.tools.registry import ToolRefused

Handler = Callable[..., Awaitable[Any]]
_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Example|Examples):")


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
        values = [m.value for m in hint]
        return {"type": _json_type(values[0]) if values else "string", "enum": values}
    if origin is Literal:
        values = list(get_args(hint))
        return {"type": _json_type(values[0]), "enum": values}
    if origin is tuple and len(get_args(hint)) > 1 and get_args(hint)[1] is not Ellipsis:
        # A fixed pair (tuple[int, str]): each position its own type.
        positions = [json_schema(a) for a in get_args(hint)]
        count = len(positions)
        return {"type": "array", "prefixItems": positions, "minItems": count, "maxItems": count}
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        args = get_args(hint)
        items = json_schema(args[0]) if args and args[0] is not Ellipsis else {}
        return {"type": "array", "items": items}
    if origin is dict or hint is dict:
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):
        args = get_args(hint)
        options = [json_schema(a) for a in args if a is not type(None)]
        if type(None) in args:  # Optional: the model may send null ("not given")
            options.append({"type": "null"})
        return options[0] if len(options) == 1 else {"anyOf": options}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        fields = typing.get_type_hints(hint)
        needed = [
            f.name
            for f in dataclasses.fields(hint)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        schema = {"type": "object", "properties": {n: json_schema(t) for n, t in fields.items()}}
        return schema | ({"required": needed} if needed else {})
    if hint is Any:
        return {}
    raise TypeError(f"no JSON schema for type {hint!r}")


def coerce(hint: Any, name: str, value: Any) -> Any:
    """An argument as its type hint says (the model sends dates as strings, numbers as text).

    Optional and union hints take the first of their types the value converts to; list items
    and dataclass fields are converted one by one.

    Raises:
        ToolRefused: the value cannot be that type; the model is told, and no retry is made.
    """
    try:
        return _coerce(hint, value)
    except (ValueError, TypeError) as exc:
        raise ToolRefused(f"argument {name}: {exc}") from exc


def _coerce(hint: Any, value: Any) -> Any:
    origin = get_origin(hint)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        errors: list[str] = []
        for option in (a for a in get_args(hint) if a is not type(None)):
            try:
                return _coerce(option, value)
            except (ValueError, TypeError) as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors) or f"{value!r} fits none of its types")
    if origin is Literal:
        values = get_args(hint)
        if value in values:  # the member itself (2.0 given for Literal[1, 2] is the 2)
            return next(v for v in values if v == value)
        matched = [v for v in values if isinstance(value, str) and str(v) == value.strip()]
        if matched:
            return matched[0]
        raise ValueError(f"{value!r} is not one of {list(values)}")
    if origin is tuple and isinstance(value, list | tuple):
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[int, ...]: every item an int
            return tuple(_coerce(args[0], v) for v in value)
        if args and len(args) != len(value):
            raise ValueError(f"expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v) for a, v in zip(args or [Any] * len(value), value, strict=True))
    if origin in (list, set, frozenset) and isinstance(value, list | tuple):
        args = get_args(hint)
        item = args[0] if args else Any
        items = [_coerce(item, v) for v in value]
        return items if origin is list else origin(items)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type) and isinstance(value, dict):
        fields = typing.get_type_hints(hint)
        return hint(**{k: _coerce(fields.get(k, Any), v) for k, v in value.items()})
    if hint is dt.date and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if hint is dt.time and isinstance(value, str):
        return dt.time.fromisoformat(value)
    if hint is dt.datetime and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _enum_member(hint, value)
    if hint is int and isinstance(value, str | float) and not isinstance(value, bool):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    if hint is float and isinstance(value, str | int) and not isinstance(value, bool):
        return float(value)
    if hint in (str, int, float, bool) and not isinstance(value, hint):
        raise ValueError(f"expected {hint.__name__}, got {type(value).__name__} {value!r:.40}")
    return value


def _enum_member(hint: type[enum.Enum], value: Any) -> enum.Enum:
    """The member of `hint` with the value `value` (or its value written as text)."""
    try:
        return hint(value)
    except ValueError:
        for member in hint:
            if isinstance(value, str) and str(member.value) == value.strip():
                return member
        raise


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"
