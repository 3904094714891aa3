"""A tool call's arguments checked against the tool's JSON schema before it runs.

The model writes the arguments; nothing it invents may reach a backend unseen. Checked here,
for every tool on every path: no argument the schema does not name (unless it allows
`additionalProperties`), each one of its declared type (a boolean is not the string "false",
a number is not a boolean; a number written as text is, the tool converts it), and within its
`enum` if it has one (a number written as text counts as the number); an array's items are
checked against its `items`. The subset of JSON Schema our tools' schemas use
(`agents/tool_schema.py` writes them from type hints); nested objects are checked by type only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}


def argument_errors(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
    """What is wrong with `arguments` for a tool with parameters `schema`, or None."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    if schema.get("additionalProperties", False) is not True:
        unknown = sorted(set(arguments) - set(properties))
        if unknown:
            return f"unknown argument(s) {', '.join(unknown)}; it takes {', '.join(properties)}"
    for name, value in arguments.items():
        spec = properties.get(name)
        if isinstance(spec, Mapping):
            problem = _value_error(spec, value)
            if problem:
                return f"argument {name}: {problem}"
    return None


def _value_error(spec: Mapping[str, Any], value: Any) -> str | None:
    if "anyOf" in spec:  # Optional[...] and unions: one of them must fit
        options = [o for o in spec["anyOf"] if isinstance(o, Mapping)]
        if options and all(_value_error(o, value) for o in options):
            return f"{value!r} fits none of its types"
        return None
    kind = spec.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(_is(k, value) for k in kinds):
        return f"expected {' or '.join(kinds)}, got {type(value).__name__} {value!r:.40}"
    if "enum" in spec and not _in_enum(value, spec["enum"]):
        return f"{value!r:.40} is not one of {spec['enum']}"
    positions = spec.get("prefixItems")
    if isinstance(positions, list) and isinstance(value, list | tuple):
        if len(value) != len(positions):
            return f"expected {len(positions)} items, got {len(value)}"
        for index, (each, item) in enumerate(zip(positions, value, strict=True)):
            problem = _value_error(each, item) if isinstance(each, Mapping) else None
            if problem:
                return f"item {index}: {problem}"
    items = spec.get("items")
    if isinstance(items, Mapping) and isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = _value_error(items, item)
            if problem:
                return f"item {index}: {problem}"
    return None


def _in_enum(value: Any, allowed: Any) -> bool:
    """Whether `value` is one of `allowed`, a number written as text counting as the number."""
    if value in allowed:
        return True
    numbers = [v for v in allowed if isinstance(v, int | float) and not isinstance(v, bool)]
    return isinstance(value, str) and any(str(v) == value.strip() for v in numbers)


def _is(kind: str, value: Any) -> bool:
    types = _TYPES.get(kind)
    if types is None:
        return True  # a type this check does not know: not refused here
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            return False
        if isinstance(value, str):  # models write numbers as text; the tool converts them
            return _parses(int if kind == "integer" else float, value)
        if isinstance(value, float) and not math.isfinite(value):
            return False  # NaN passes every comparison a tool makes ("refund at most 50")
        if kind == "integer" and isinstance(value, float):
            return value.is_integer()
    return isinstance(value, types)


def _parses(kind: type, text: str) -> bool:
    try:
        number = kind(text.strip())
    except ValueError:
        return False
    return not (isinstance(number, float) and not math.isfinite(number))
