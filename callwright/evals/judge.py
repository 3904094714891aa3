"""Judging a finished call by its record: tool calls, escalation, outcome, words, latency.

Only the call record is read (the store's `CallDetail`: events, transcript, timelines,
outcome), never an agent's internals, so any agent can be judged the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from callwright.evals.scenario import Expectation, ExpectedToolCall
from callwright.observe.kpis import percentile  # nearest rank, as the KPIs
from callwright.store.base import ESCALATION_KINDS, CallDetail


@dataclass(slots=True)
class JudgedState:
    """What the judge saw in the record (also what the reports show)."""

    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    escalated: bool = False
    outcome: str | None = None
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (role, text)
    ttfa_ms: list[float] = field(default_factory=list)
    unanswered: int = 0  # caller turns the agent never answered (nor was cut off in)

    @property
    def agent_text(self) -> list[str]:
        return [text for role, text in self.transcript if role == "agent"]

    @property
    def ttfa_p95_ms(self) -> float | None:
        """Over every caller turn: one never answered counts as an endless wait."""
        return percentile([*self.ttfa_ms, *([math.inf] * self.unanswered)], 95)


@dataclass(slots=True)
class Verdict:
    """Pass or fail, and every reason it failed."""

    passed: bool
    reasons: list[str]
    state: JudgedState


def state_of(detail: CallDetail) -> JudgedState:
    """The judged state of a stored call."""
    calls = [dict(e.data) for e in detail.events if e.kind == "tool_call"]
    return JudgedState(
        tool_calls=calls,
        escalated=any(e.kind in ESCALATION_KINDS for e in detail.events),
        outcome=detail.record.outcome,
        transcript=[(u.role, u.text) for u in detail.utterances],
        ttfa_ms=[t.ttfa_ms for t in detail.timelines if t.ttfa_ms is not None],
        unanswered=sum(
            t.turn_index >= 1 and t.ttfa_ms is None and not t.interrupted for t in detail.timelines
        ),
    )


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def value_matches(expected: Any, actual: Any) -> bool:
    """Equal; strings ignoring case, or the expected words appearing together in the actual."""
    if isinstance(expected, str) and isinstance(actual, str):
        want, got = _words(expected), _words(actual)
        if not want:
            return not got
        return any(got[i : i + len(want)] == want for i in range(len(got) - len(want) + 1))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    if isinstance(expected, str) and isinstance(actual, int | float):
        return value_matches(expected, str(actual))
    return bool(expected == actual)


def call_matches(expected: ExpectedToolCall, actual: dict[str, Any]) -> bool:
    """Same tool, succeeded, and every expected argument matches (a subset)."""
    if actual.get("name") != expected.name or actual.get("error"):
        return False
    arguments = actual.get("arguments") or {}
    return all(
        key in arguments and value_matches(value, arguments[key])
        for key, value in expected.arguments.items()
    )


def _describe(call: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in (call.get("arguments") or {}).items())
    failed = f" failed: {call['error']}" if call.get("error") else ""
    return f"{call.get('name')}({args}){failed}"


def judge(expect: Expectation, detail: CallDetail) -> Verdict:
    """Checks every expectation against the record; the reasons say what differed."""
    state = state_of(detail)
    reasons: list[str] = []
    for wanted in expect.tool_calls:
        if not any(call_matches(wanted, call) for call in state.tool_calls):
            same = [_describe(c) for c in state.tool_calls if c.get("name") == wanted.name]
            seen = "; got " + "; ".join(same) if same else "; never called"
            reasons.append(f"no {wanted.name} with {wanted.arguments}{seen}")
    for name in expect.no_tool_calls:
        made = [c for c in state.tool_calls if c.get("name") == name and not c.get("error")]
        if made:
            reasons.append(f"{name} must not be called; got {_describe(made[0])}")
    if expect.escalated is not None and state.escalated != expect.escalated:
        reasons.append("escalated to a person" if state.escalated else "never escalated")
    if expect.outcome is not None and state.outcome != expect.outcome:
        reasons.append(f"outcome {state.outcome!r}, expected {expect.outcome!r}")
    said = "\n".join(state.agent_text)
    for pattern in expect.says:
        if not re.search(pattern, said, re.IGNORECASE):
            reasons.append(f"agent never said /{pattern}/")
    for pattern in expect.never_says:
        found = re.search(pattern, said, re.IGNORECASE)
        if found:
            reasons.append(f"agent said {found.group(0)!r} (/{pattern}/ is forbidden)")
    p95 = state.ttfa_p95_ms
    if expect.ttfa_p95_ms is not None and p95 is not None and p95 > expect.ttfa_p95_ms:
        unanswered = (
            f" ({state.unanswered} caller turns never answered)" if state.unanswered else ""
        )
        reasons.append(f"TTFA p95 {p95:.0f} ms over the {expect.ttfa_p95_ms:.0f} ms budget"
                       f"{unanswered}")  # fmt: skip
    if detail.record.status == "active":
        reasons.append("the call never finished")
    return Verdict(not reasons, reasons, state)
