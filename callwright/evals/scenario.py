"""Spoken scenario files: loading and checking them, with errors that name the file and field.

The format is documented in docs/evals.md. Dates in lines, personas and expectations may be
written relative to the day the suite runs, so a suite never goes stale:
`{date:thursday}` is the ISO date of the next Thursday after today, `{date:thursday+7}` the
one a week later, `{spoken:thursday+7}` the same day as a caller says it ("Thursday,
December 10th"), `{date:today+2}` two days from today.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from callwright.sim.conditions import CONDITIONS
from callwright.sim.voices import parse_voice

DEFAULT_VOICE = "festival:slt_hts"
DEFAULT_CONDITIONS = ("clean", "phone")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TEMPLATE = re.compile(r"\{(date|spoken):([a-z]+)(?:\+(\d+))?\}")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class CallerLine:
    """One scripted caller turn: words (`say`) or keypad keys (`keys`)."""

    say: str = ""
    keys: str = ""
    after: str | None = None  # a regex the agent's words must match before this line


@dataclass(frozen=True, slots=True)
class ExpectedToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What must be true of the call record afterwards (every field given is checked)."""

    tool_calls: tuple[ExpectedToolCall, ...] = ()
    no_tool_calls: tuple[str, ...] = ()
    escalated: bool | None = None
    outcome: str | None = None
    says: tuple[str, ...] = ()
    never_says: tuple[str, ...] = ()
    ttfa_p95_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """One spoken scenario.

    Attributes:
        name: unique id.
        description: what it tests.
        lines: a scripted caller's turns, in order (empty for a persona caller).
        persona: a rule-driven caller's facts (name, date_of_birth, doctor, day, time, reason,
            answer_yes, goal), empty for a scripted caller.
        expect: the judged state.
        conditions: the audio conditions it runs under.
        voice: the caller's voice (`engine:voice[@wpm]`).
        tags: labels; "fast" puts it in the CI subset.
        source: the file it came from.
        pronounce: how the caller says words its voice would read wrong, as a respelling
            the synthesizer reads right ({"Nguyen": "Nuh-win"}): flite reads an unknown name
            letter by letter, which no caller does. Only what the voice says changes.
    """

    name: str
    description: str
    lines: tuple[CallerLine, ...]
    persona: dict[str, Any]
    expect: Expectation
    conditions: tuple[str, ...]
    voice: str = DEFAULT_VOICE
    tags: tuple[str, ...] = ()
    source: str = ""
    pronounce: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    today: dt.date | None = None  # the day its relative dates were resolved against

    def on(self, today: dt.date) -> Scenario:
        """The scenario with its relative dates resolved against `today` (a call's own date:
        a suite started before midnight judges a call made after it by the call's day)."""
        if today == self.today or not self.raw:
            return self
        where = self.source.rsplit(" (", 1)[0]
        return parse_scenario(self.raw, where, today)


def resolve_dates(text: str, today: dt.date) -> str:
    """Replaces `{date:...}` and `{spoken:...}` templates (see the module docstring)."""

    def one(match: re.Match[str]) -> str:
        kind, base, plus = match.group(1), match.group(2), int(match.group(3) or 0)
        if base == "today":
            day = today
        elif base in WEEKDAYS:
            ahead = (WEEKDAYS.index(base) - today.weekday() - 1) % 7 + 1
            day = today + dt.timedelta(days=ahead)
        else:
            raise ValueError(f"unknown day {base!r} in {match.group(0)}")
        day += dt.timedelta(days=plus)
        if kind == "date":
            return day.isoformat()
        n = day.day
        suffix = "th" if 11 <= n <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{day.strftime('%A, %B')} {n}{suffix}"

    return _TEMPLATE.sub(one, text)


def _resolve(value: Any, today: dt.date) -> Any:
    if isinstance(value, str):
        return resolve_dates(value, today)
    if isinstance(value, list):
        return [_resolve(v, today) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, today) for k, v in value.items()}
    return value


class _Fields:
    """Reads one mapping of a file, remembering where it is for error messages."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ScenarioError(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data = data
        self.where = where

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.where}.{key}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.error(key, f"expected {names}, got {type(value).__name__} {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        for index, item in enumerate(value):
            if not isinstance(item, str | int):
                raise self.error(f"{key}[{index}]", f"expected a string, got {item!r}")
        return tuple(str(v) for v in value)

    def only(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.data) - allowed)
        if unknown:
            raise self.error(unknown[0], f"unknown field; allowed: {', '.join(sorted(allowed))}")


def _regexes(fields: _Fields, key: str) -> tuple[str, ...]:
    patterns = fields.strings(key)
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise fields.error(f"{key}[{index}]", f"not a regular expression: {exc}") from None
    return patterns


def _expectation(data: Any, where: str) -> Expectation:
    f = _Fields(data, where)
    f.only({"tool_calls", "no_tool_calls", "escalated", "outcome", "says", "never_says",
            "ttfa_p95_ms"})  # fmt: skip
    calls = []
    for index, item in enumerate(f.get("tool_calls", list, [])):
        call = _Fields(item, f"{where}.tool_calls[{index}]")
        call.only({"name", "arguments"})
        name = call.get("name", str)
        if not name:
            raise call.error("name", "required")
        calls.append(ExpectedToolCall(name, dict(call.get("arguments", dict, {}))))
    budget = f.get("ttfa_p95_ms", (int, float))
    return Expectation(
        tool_calls=tuple(calls),
        no_tool_calls=f.strings("no_tool_calls"),
        escalated=f.get("escalated", bool),
        outcome=f.get("outcome", str),
        says=_regexes(f, "says"),
        never_says=_regexes(f, "never_says"),
        ttfa_p95_ms=float(budget) if budget is not None else None,
    )


def _caller(data: Any, where: str) -> tuple[tuple[CallerLine, ...], dict[str, Any]]:
    f = _Fields(data, where)
    f.only({"lines", "persona"})
    lines_data, persona = f.get("lines", list), f.get("persona", dict)
    if (lines_data is None) == (persona is None):
        raise ScenarioError(f"{where}: give exactly one of `lines` or `persona`")
    lines = []
    for index, item in enumerate(lines_data or []):
        line = _Fields(item, f"{where}.lines[{index}]")
        line.only({"say", "keys", "after"})
        say, keys = line.get("say", str, ""), str(line.get("keys", (str, int), ""))
        if bool(say) == bool(keys):
            raise line.error("say", "give exactly one of `say` or `keys`")
        if keys and not re.fullmatch(r"[0-9*#]+", keys):
            raise line.error("keys", f"keypad keys are 0-9, * and #, got {keys!r}")
        after = line.get("after", str)
        if after is not None:
            _regexes(_Fields({"after": [after]}, line.where), "after")
        lines.append(CallerLine(say, keys, after))
    if persona is not None:
        p = _Fields(persona, f"{where}.persona")
        p.only({"name", "date_of_birth", "doctor", "day", "time", "reason", "answer_yes",
                "goal", "max_turns"})  # fmt: skip
    return tuple(lines), dict(persona or {})


def parse_scenario(data: Any, where: str, today: dt.date | None = None) -> Scenario:
    """One scenario from its parsed YAML mapping; `where` prefixes error messages."""
    f = _Fields(data, where)
    f.only({"name", "description", "caller", "expect", "conditions", "voice", "tags", "pronounce"})
    name = f.get("name", str)
    if not name or not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", name):
        raise f.error(
            "name", f"required: lower-case letters, digits, '-', '_' or '.', got {name!r}"
        )
    where = f"{where} ({name})"
    f.where = where
    if "caller" not in data:
        raise f.error("caller", "required")
    resolved = _resolve(data, today or dt.date.today())
    lines, persona = _caller(resolved["caller"], f"{where}.caller")
    if "expect" not in data:
        raise f.error("expect", "required")
    expect = _expectation(resolved["expect"], f"{where}.expect")
    conditions = f.strings("conditions") or DEFAULT_CONDITIONS
    for index, cond in enumerate(conditions):
        if cond not in CONDITIONS:
            known = ", ".join(CONDITIONS)
            raise f.error(f"conditions[{index}]", f"unknown condition {cond!r}; known: {known}")
        if cond == "talk_over" and persona:
            raise f.error(f"conditions[{index}]", "talk_over needs a scripted caller (`lines`)")
    voice = f.get("voice", str, DEFAULT_VOICE)
    try:
        parse_voice(voice)
    except ValueError as exc:
        raise f.error("voice", str(exc)) from None
    return Scenario(
        raw=data,
        today=today or dt.date.today(),
        name=name,
        description=f.get("description", str, ""),
        lines=lines,
        persona=persona,
        expect=expect,
        conditions=tuple(conditions),
        voice=voice,
        tags=f.strings("tags"),
        source=where,
        pronounce=_pronounce(f.get("pronounce", dict, {}), f"{where}.pronounce"),
    )


def _pronounce(data: dict[Any, Any], where: str) -> dict[str, str]:
    if not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in data.items()):
        raise ScenarioError(f"{where}: expected words mapped to how they are said")
    return dict(data)


def load_file(path: Path, today: dt.date | None = None) -> list[Scenario]:
    """The scenarios of one file (one mapping, or a list under `scenarios:`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if isinstance(data, dict) and "scenarios" in data:
        items = data["scenarios"]
        if not isinstance(items, list):
            raise ScenarioError(f"{path}.scenarios: expected a list")
        # A file's `pronounce` applies to each of its scenarios; a scenario's own adds to it.
        shared = data.get("pronounce") or {}
        if not isinstance(shared, dict) or set(data) - {"scenarios", "pronounce"}:
            raise ScenarioError(f"{path}: only `scenarios` and `pronounce` at the top level")
        if shared:
            items = [
                {**item, "pronounce": {**shared, **(item.get("pronounce") or {})}}
                if isinstance(item, dict)
                else item
                for item in items
            ]
        return [parse_scenario(item, f"{path}[{i}]", today) for i, item in enumerate(items)]
    return [parse_scenario(data, str(path), today)]


def load_scenarios(path: Path, today: dt.date | None = None) -> list[Scenario]:
    """Every scenario under `path` (a file, or a folder of *.yaml / *.yml), names unique."""
    files = sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")]) if path.is_dir() else [path]
    if not files:
        raise ScenarioError(f"{path}: no scenario files (*.yaml)")
    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    for file in files:
        for scenario in load_file(file, today):
            if scenario.name in seen:
                raise ScenarioError(
                    f"{scenario.source}.name: {scenario.name!r} is also in {seen[scenario.name]}"
                )
            seen[scenario.name] = scenario.source
            scenarios.append(scenario)
    return scenarios
