"""What the agent's open question expects, and whether a transcript already holds it.

End-of-turn detection asks this: after "What is your full name and date of birth?", the answer
"Maria Garcia, March twelfth, nineteen eighty four." is whole, although a date at the end of a
sentence would otherwise read as a caller still dictating. Three sources, best first:

- a flow's state: the slot it is awaiting, or the node's missing slots (`from_flow`);
- any responder's own account (`ExpectsAnswer.expected_answer`, which flows implement);
- the agent's last question, read for what it asks (`from_question`): the LLM path and
  agents with their own code get this without writing anything.
"""

from __future__ import annotations

import datetime as dt
import re

from callwright.core.responder import ExpectedAnswer
from callwright.flows.engine import Flow, FlowState, SlotSpec
from callwright.flows.slots import (
    extract_date,
    extract_digits,
    extract_dob,
    extract_phone,
    extract_time,
    extract_yes_no,
)

# Awaiting values that are not slot names but questions answered by yes or no.
_YES_NO_AWAITING = frozenset({"confirm", "anything_else"})
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
# How a question names what it asks for, most specific first. Each pattern maps to a kind.
_QUESTION_KINDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"\b(date of birth|birth ?date|birthday|born)\b", "dob"),
        (r"\b(phone|telephone|mobile|cell|callback) number\b", "phone"),
        (r"\b(account|order|member|policy|reference|confirmation|card) number\b", "digits"),
        (r"\b(what|which) (day|date)\b|\bwhen would\b|\bwhat day\b", "date"),
        (r"\b(what|which) time\b|\bwhat hour\b", "time"),
        (r"\b(your|the patient's|the caller's) (full |first |last )?name\b", "person"),
    )
)
_YES_NO_OPENERS = frozenset(
    """is are was were do does did can could would will shall should have has may""".split()
)


def from_flow(flow: Flow, state: FlowState) -> ExpectedAnswer | None:
    """The slots a flow's open question asks for, from the state the responder left."""
    node = flow.nodes.get(state.node)
    if node is None:
        return None
    awaiting = state.awaiting
    if awaiting in _YES_NO_AWAITING:
        return ExpectedAnswer(("yes_no",), (awaiting,))
    if awaiting is not None:
        spec = node.slot(awaiting)
        return _of((spec,)) if spec is not None else None
    if node.name == flow.start:
        return None  # an open "how can I help?": nothing in particular is expected
    missing = tuple(s for s in node.slots if not s.optional and s.name not in state.slots)
    return _of(missing) if missing else None


def from_question(text: str) -> ExpectedAnswer | None:
    """What the last sentence of an agent line asks for, if it is a question."""
    question = _last_question(text)
    if question is None:
        return None
    lowered = question.lower()
    kinds: list[str] = []
    for pattern, kind in _QUESTION_KINDS:
        if pattern.search(lowered) and kind not in kinds:
            kinds.append(kind)
    if "dob" in kinds and "date" in kinds:
        kinds.remove("date")
    if kinds:
        return ExpectedAnswer(tuple(kinds))
    words = _WORD.findall(lowered)
    if words and words[0] in _YES_NO_OPENERS and " or " not in lowered:
        return ExpectedAnswer(("yes_no",))
    return None


def answers(expected: ExpectedAnswer, text: str, today: dt.date | None = None) -> bool:
    """True when `text` holds a value for every kind `expected` asks for."""
    if not expected.kinds or not text.strip():
        return False
    day = today or dt.date.today()
    return all(_holds(kind, text, day) for kind in expected.kinds)


def _of(specs: tuple[SlotSpec, ...]) -> ExpectedAnswer | None:
    if not specs:
        return None
    return ExpectedAnswer(tuple(s.kind for s in specs), tuple(s.name for s in specs))


def _last_question(text: str) -> str | None:
    stripped = text.strip()
    if not stripped.endswith("?"):
        return None
    sentences = re.split(r"(?<=[.!?])\s+", stripped)
    return sentences[-1]


def _holds(kind: str, text: str, today: dt.date) -> bool:
    if kind == "dob":
        return extract_dob(text, today) is not None
    if kind == "date":
        return extract_date(text, today) is not None or extract_dob(text, today) is not None
    if kind == "time":
        return extract_time(text, asked=True) is not None  # "ten, please" answers "What time?"
    if kind == "phone":
        return extract_phone(text) is not None
    if kind == "digits":
        return len(extract_digits(text)) >= 3
    if kind == "yes_no":
        return extract_yes_no(text) is not None
    if kind == "person":
        return _names_someone(text)
    return bool(_WORD.search(text))  # "text": any words answer it


def _names_someone(text: str) -> bool:
    """A name is there: a capitalised word past the first (the recogniser capitalises names),
    or the words after "name is" / "this is" / "it's"."""
    if re.search(r"\b(name is|name's|this is|it's|i am|i'm)\s+[A-Za-z]", text, re.IGNORECASE):
        return True
    words = _WORD.findall(text)
    return any(w[0].isupper() and w != "I" and not _is_calendar(w) for w in words[1:]) or (
        0 < len(words) <= 3 and words[0][0].isupper() and not _is_calendar(words[0])
    )


_CALENDAR = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)


def _is_calendar(word: str) -> bool:
    return word.lower() in _CALENDAR
