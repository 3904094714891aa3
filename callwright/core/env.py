"""The one way `CALLWRIGHT_*` variables are parsed: booleans, numbers, limits, lists, choices.

Every reader of the environment goes through these, so "1/true/yes/on" and "0/false/no/off"
mean the same everywhere, a malformed value fails at start-up with the variable's name, and an
unset or empty variable keeps its default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
# Values that turn an optional limit off.
NO_LIMIT = ("0", "none", "off")


def text(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """The variable's value, stripped; `default` when unset or empty."""
    raw = env.get(name, "").strip()
    return raw or default


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean: 1/true/yes/on or 0/false/no/off (any case)."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise ValueError(f"{name} must be one of {'/'.join(TRUE)} or {'/'.join(FALSE)}, not {raw!r}")


def optional_flag(env: Mapping[str, str], name: str) -> bool | None:
    """A boolean, or None when unset (the caller decides)."""
    return flag(env, name, False) if env.get(name, "").strip() else None


def number(
    env: Mapping[str, str],
    name: str,
    default: float,
    minimum: float | None = None,
    positive: bool = False,
) -> float:
    """A number; `positive` requires > 0, `minimum` requires >= it."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, not {raw!r}") from exc
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}")
    return value


def integer(env: Mapping[str, str], name: str, default: int, minimum: int | None = None) -> int:
    """A whole number (see `number`)."""
    value = number(env, name, default, minimum)
    if value != int(value):
        raise ValueError(f"{name} must be a whole number")
    return int(value)


def limit(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A positive limit; 0/none/off turns it off (None)."""
    raw = env.get(name, "").strip().lower()
    if raw in NO_LIMIT:
        return None
    return number(env, name, default, positive=True) if raw else default  # type: ignore[arg-type]


def choice(env: Mapping[str, str], name: str, default: str, allowed: Sequence[str]) -> str:
    """One of `allowed`."""
    value = text(env, name, default) or default
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def items(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list (empty items dropped)."""
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())
