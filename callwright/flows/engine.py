"""Node-based conversation flows: nodes, typed slots, tool policy, and per-call flow state.

A flow is a set of nodes. Each node says what it needs (typed slots, each with the question
that asks for it), which tools it may call, whether it needs a verified caller, and whether
its action must be read back and confirmed first. The engine's part is generic: pull slot
values out of a transcript (overwriting earlier ones, so "actually, make it Wednesday" keeps
the doctor and the reason), find what is still missing, remember where to go back to, and
answer "may this node call that tool?" for the deterministic and the LLM paths alike.

Example (a whole flow fits on a screen):

    BOOK = Node(
        "book",
        slots=(
            SlotSpec("doctor", "person", "Which doctor would you like to see?", "doctors"),
            SlotSpec("date", "date", "What day works for you?"),
            SlotSpec("time", "time", "What time would suit you?"),
        ),
        tools=frozenset({"check_availability", "book_appointment"}),
        requires_identity=True,
        confirm=True,
    )
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from callwright.flows import spanish
from callwright.flows.heard_numbers import hour_by_sound
from callwright.flows.names import Directory, NameMatch, Person
from callwright.flows.slots import (
    TimeSpec,
    extract_date,
    extract_digits,
    extract_dob,
    extract_phone,
    extract_reason,
    extract_time,
    extract_yes_no,
    keyed_time,
    repair_segments,
    without_markers,
    without_replaced,
)

SlotKind = Literal["date", "time", "person", "dob", "phone", "yes_no", "text", "digits", "reason"]


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """A typed piece of information a node needs.

    Attributes:
        name: key in the flow state.
        kind: how to extract it from a transcript.
        ask: the question that asks for it.
        directory: for kind "person", the name of the directory to match against.
        optional: the node can act without it.
        retry: a narrower question for when the answer was not understood ("Which day
            works for you?"); defaults to `ask`.
        keypad: how to key the value in, offered after repeated failures ("as eight digits:
            month, day and year"); empty when it cannot be keyed in.
    """

    name: str
    kind: SlotKind
    ask: str
    directory: str | None = None
    optional: bool = False
    retry: str = ""
    keypad: str = ""

    def __post_init__(self) -> None:
        kinds = get_args(SlotKind)
        if self.kind not in kinds:
            raise ValueError(f"slot {self.name!r}: unknown kind {self.kind!r}; one of {kinds}")


@dataclass(frozen=True, slots=True)
class Node:
    """One step of a flow.

    Attributes:
        name: unique within the flow.
        slots: what the node needs before it can act, in the order it asks for them.
        tools: tools the node may call; anything else is refused (LLM path included).
        requires_identity: the caller must be verified before the node runs.
        confirm: the node's action is irreversible: read the details back and get a yes.
        say: what the agent says on entering the node, if anything.
    """

    name: str
    slots: tuple[SlotSpec, ...] = ()
    tools: frozenset[str] = frozenset()
    requires_identity: bool = False
    confirm: bool = False
    say: str = ""

    def __post_init__(self) -> None:
        names = (self.tools,) if isinstance(self.tools, str) else tuple(self.tools)
        if isinstance(self.tools, str) or not all(isinstance(t, str) for t in names):
            raise TypeError(f"node {self.name!r}: tools are tool names, got {self.tools!r}")
        # A list, set or generator of names is as good as a frozenset (the dataclass is frozen).
        object.__setattr__(self, "tools", frozenset(names))

    def slot(self, name: str) -> SlotSpec | None:
        """The node's slot called `name`."""
        return next((s for s in self.slots if s.name == name), None)


@dataclass(frozen=True, slots=True)
class Flow:
    """A named set of nodes and the node a call starts in."""

    name: str
    start: str
    nodes: Mapping[str, Node]

    def __post_init__(self) -> None:
        if self.start not in self.nodes:
            raise ValueError(f"flow {self.name!r}: start node {self.start!r} is not in its nodes")
        renamed = sorted(f"{key!r}: {node.name!r}" for key, node in self.nodes.items()
                         if key != node.name)  # fmt: skip
        if renamed:
            raise ValueError(f"flow {self.name!r}: nodes must be keyed by their name ({renamed})")

    def node(self, name: str) -> Node:
        """The node called `name`."""
        return self.nodes[name]

    def allows(self, node: str, tool: str) -> bool:
        """May `node` call `tool`?"""
        return tool in self.nodes[node].tools

    def implied_node(
        self, given: Sequence[str], exclude: Iterable[str] = (), prefer: Sequence[str] = ()
    ) -> str | None:
        """The node that takes every slot in `given`, if any: the first of `prefer` that
        does, else the first in flow order; never one of `exclude`.

        A caller who names a doctor and a day without saying "book" still asks for the node
        that takes a doctor and a day. What the words say comes first: a node the caller's
        request leans to (`prefer`), and none the words rule out (`exclude`: "I can't make
        it Thursday" gives a day, but not one to book).
        """
        wanted = set(given)
        if not wanted:
            return None
        out = set(exclude)
        takes = [
            n.name
            for n in self.nodes.values()
            if wanted <= {s.name for s in n.slots} and n.name not in out
        ]
        return next((n for n in prefer if n in takes), takes[0] if takes else None)

    def all_slots(self) -> tuple[SlotSpec, ...]:
        """Every slot of every node, once per name (the first node's spec wins).

        Filling these on every turn is what lets a caller say things in their own order:
        the day and time given with the request, the doctor given while verifying.
        """
        seen: dict[str, SlotSpec] = {}
        for node in self.nodes.values():
            for spec in node.slots:
                seen.setdefault(spec.name, spec)
        return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """A slot value the caller must choose between ("Doctor Patel or Doctor Park?").

    One candidate means the match was loose and needs a yes ("Doctor Nguyen, is that
    right?").
    """

    slot: str
    candidates: tuple[Person, ...]


@dataclass(slots=True)
class FlowState:
    """Where one call is in its flow, and everything it has learned.

    Attributes:
        node: the current node.
        slots: slot values by name; they survive node changes and changes of mind.
        stack: (node, slot snapshot) to return to on "go back".
        verified: id of the caller once identity is verified.
        awaiting: what the last question asked for: a slot name, "confirm", "choice", or None.
        pending: details of an action waiting for confirmation, or of offered choices.
        last_said: the agent's last reply, for "repeat that".
        failures: how often each question failed, to stop asking after a few tries.
        resume: node to continue with after a detour (identity check).
    """

    node: str
    slots: dict[str, Any] = field(default_factory=dict)
    stack: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    verified: str | None = None
    awaiting: str | None = None
    pending: dict[str, Any] = field(default_factory=dict)
    last_said: str = ""
    failures: dict[str, int] = field(default_factory=dict)
    resume: str | None = None

    def go(self, node: str) -> None:
        """Moves to `node`, remembering where to go back to."""
        if node != self.node:
            self.stack.append((self.node, dict(self.slots)))
        self.node = node
        self.awaiting = None
        self.pending = {}

    def back(self) -> bool:
        """Returns to the previous node with its slots; False when there is none."""
        if not self.stack:
            return False
        self.node, self.slots = self.stack.pop()
        self.awaiting = None
        self.pending = {}
        return True

    def fail(self, what: str) -> int:
        """Counts a failed attempt at `what`; returns the count so far."""
        self.failures[what] = self.failures.get(what, 0) + 1
        return self.failures[what]

    def missing(self, node: Node) -> SlotSpec | None:
        """The first required slot of `node` not filled yet."""
        return next((s for s in node.slots if not s.optional and s.name not in self.slots), None)


@dataclass(frozen=True, slots=True)
class SlotContext:
    """What extractors need besides the words: the date and the directories."""

    today: dt.date
    directories: Mapping[str, Directory] = field(default_factory=dict)
    # The caller's language: Spanish slot phrases are rewritten first (`flows/spanish.py`).
    language: str = "en"


_CANONICAL_KINDS = frozenset({"date", "time", "dob", "yes_no", "digits", "phone"})


def extract(spec: SlotSpec, text: str, ctx: SlotContext, asked: bool | None = None) -> Any:
    """The value of one slot in `text`: a typed value, an `Ambiguous`, or None.

    `asked` says whether the open question asks for this slot (None: not known). An answer
    may then be shorter than the value said unasked (for a time, a number alone is the hour:
    "ten, please"); a person not asked for is only named by a full name, a title, or a last
    name that is no common word (`Directory.match`).
    """
    if ctx.language == "es" and spec.kind in _CANONICAL_KINDS:
        text = spanish.canonical(text)
    elif ctx.language == "es" and spec.kind == "person":
        text = spanish.without_accents(text)
    if spec.kind == "date":
        return extract_date(text, ctx.today)
    if spec.kind == "time":
        found: TimeSpec | None = extract_time(text, asked=bool(asked))
        return found
    if spec.kind == "dob":
        return extract_dob(text, ctx.today)
    if spec.kind == "reason":
        return extract_reason(text, ctx.today)
    if spec.kind == "phone":
        return extract_phone(text)
    if spec.kind == "yes_no":
        return extract_yes_no(text)
    if spec.kind == "digits":
        return extract_digits(text) or None
    if spec.kind == "person":
        directory = ctx.directories[spec.directory or spec.name]
        match: NameMatch = directory.match(text, asked)
        if match.best is not None and not match.sure:
            return Ambiguous(spec.name, (match.best,))
        if match.best is not None:
            return match.best
        if len(match.candidates) > 1:
            return Ambiguous(spec.name, match.candidates)
        return None
    stripped = text.strip()
    return stripped or None


REPAIR_SORRY = "Sorry, I didn't catch that."
REPAIR_AGAIN = "Sorry, I still didn't get that."
REPAIR_KEYPAD = "You can also type it on your keypad, {keypad}."


def reprompt(
    spec: SlotSpec,
    failures: int,
    narrower: str = "",
    person: str = "Or ask for a person, and I'll put you through.",
    repair: tuple[str, str, str] | None = None,
) -> str:
    """What to say when an answer to `spec`'s question was not understood.

    The first time, a narrower question instead of the whole prompt; from the second time
    on, also another way through: the keypad when the value can be keyed in, else a person.

    Args:
        spec: the slot that was asked for.
        failures: how many answers to it were not understood, this one included.
        narrower: a narrower question built for this call (listing the doctors, say);
            defaults to the spec's own.
        person: how the agent offers a person (the words its handoff trigger knows).
        repair: the apology, the second apology and the keypad offer (with `{keypad}`) in
            the call's language; English by default.
    """
    sorry, again, keypad = repair or (REPAIR_SORRY, REPAIR_AGAIN, REPAIR_KEYPAD)
    question = narrower or spec.retry or spec.ask
    if failures < 2:
        return f"{sorry} {question}"
    if spec.keypad:
        return f"{again} {keypad.format(keypad=spec.keypad)} {person}"
    return f"{again} {question} {person}"


def fill(
    state: FlowState, specs: Sequence[SlotSpec], text: str, ctx: SlotContext
) -> tuple[list[str], Ambiguous | None]:
    """Extracts every slot of `specs` found in `text` into `state`, overwriting old values.

    Free-text and yes/no slots are only filled when the last question asked for them: "yes"
    answers a question, it is not a value to pick up from any sentence. Typed values are
    read from the sentence without the part a correction replaces ("11 instead of 10" is
    11), so a correction overwrites the slot it corrects.

    Returns:
        The names of the slots that changed, and an ambiguity to resolve, if any.
    """
    changed: list[str] = []
    ambiguous: Ambiguous | None = None
    corrected = without_replaced(text)
    # "Tuesday, no, sorry, Wednesday", "Thursday no wait Friday": a typed value is read from
    # the last stretch after a self-repair that gives one of its kind.
    segments = repair_segments(corrected)
    for spec in specs:
        if spec.kind in ("text", "yes_no", "digits") and state.awaiting != spec.name:
            continue
        # Offered times ("choice") ask for a time too: "eleven would be good" answers them.
        asked = state.awaiting == spec.name or (spec.kind == "time" and state.awaiting == "choice")
        if spec.kind in ("text", "yes_no"):
            value = extract(spec, text, ctx, asked)
        else:
            value = _repaired(spec, segments, ctx, asked)
        keyed = text.strip()
        if (
            spec.kind == "time"
            and state.awaiting == spec.name
            and keyed.isascii()
            and keyed.isdigit()
        ):
            # Typed on the keypad (offered after answers not understood), in the part of
            # the day already said ("in the afternoon", its hour lost).
            kept = state.slots.get(spec.name)
            value = keyed_time(keyed, kept.period if isinstance(kept, TimeSpec) else None)
        elif spec.kind == "time" and _expects_time(state, spec, specs) and not _has_hour(value):
            # A time is expected and none was heard: an hour may be there as other words.
            respelled = hour_by_sound(corrected) if ctx.language == "en" else None
            heard = extract(spec, respelled, ctx) if respelled else None
            value = heard if _has_hour(heard) else value
        if isinstance(value, Ambiguous):
            ambiguous = ambiguous or value
        elif value is not None and state.slots.get(spec.name) != value:
            state.slots[spec.name] = value
            changed.append(spec.name)
    return changed, ambiguous


# Values built from parts (a date of birth, digits) are read from the whole sentence: their
# extractors know which part a repair replaces ("March 12th, 1984. No wait, 1985").
_READ_WHOLE = frozenset({"dob", "phone", "digits"})


def _repaired(spec: SlotSpec, segments: list[str], ctx: SlotContext, asked: bool) -> Any:
    """The slot's value in the last segment that gives one (see `flows.repairs`); a reason
    runs on through the segments after it that give none ("because I have no appetite")."""
    if spec.kind in _READ_WHOLE:
        return extract(spec, "".join(segments), ctx, asked)
    value: Any = None
    for i, segment in enumerate(segments):
        found = extract(spec, segment, ctx, asked)
        if spec.kind == "time" and _has_hour(value) and not _has_hour(found):
            # "at ten, or rather eleven": a number alone repairing a time is a time; a part
            # of the day alone ("at 3, no, in the afternoon") does not undo the hour.
            again = extract(spec, f"at {without_markers(segment)}", ctx)
            found = again if _has_hour(again) else None
        if found is not None and spec.kind == "reason":
            end = i + 1
            while end < len(segments) and extract(spec, segments[end], ctx) is None:
                end += 1
            found = extract(spec, "".join(segments[i:end]), ctx) or found
        if found is not None:
            value = found
    return value


def _has_hour(value: Any) -> bool:
    return isinstance(value, TimeSpec) and value.time is not None


def _expects_time(state: FlowState, spec: SlotSpec, specs: Sequence[SlotSpec]) -> bool:
    """Whether the open question expects a time: it asks for this slot, offers options to
    choose from (times, in a booking), or asks for another slot of the task while this one
    is still missing ("What day?" is often answered "Monday at ten")."""
    if state.awaiting in (spec.name, "choice"):
        return True
    asked_other = any(s.name == state.awaiting for s in specs)
    return asked_other and spec.name not in state.slots
