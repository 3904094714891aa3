"""What a caller asks for: cue words and meaning weighed together, and when to ask instead.

`Recogniser.decide` reads a turn in four steps:

1. What the words rule out. An intent whose cue is said under a negation ("I'm not
   cancelling") is not meant. An intent that `creates` (a booking) is not meant when the turn
   speaks of one the caller already has: a definite noun the intents act on ("my
   appointment", "the visit", "my Thursday visit") or the creating verb in the past ("I
   booked for Friday").
2. A cue word of the intent itself ("cancel", "reschedule"), in priority order. A cue made
   only of the shared noun ("appointment") is not one: every task is about an appointment;
   nor is a cue heard as its noun ("cancellation policy"), nor a creating intent's cue that
   meaning gives clearly to another intent ("when am I seeing the doctor" is a look-up).
3. Meaning, when a `Meaning` is given (`kb.intents.IntentMeaning`): the intent most like the
   turn, if its score clears `floor` and beats the runner-up and no intent at all (`OTHER`:
   the knowledge base's questions) by `margin`. Past the floor but within the margin, it is
   asked about, not guessed: the two close intents are `choices` to ask between ("move it
   or cancel it?"), or the one intent, when only no intent is close ("book one?"). Closer to
   no intent than to any intent is no intent. A turn that only tells ("my kid has had a
   fever since last night") and asks for nothing (`asks`) is asked about too.
4. The shared noun alone ("an appointment, please"): the creating intent, as without meaning.

Without a `Meaning` (no embedder installed) steps 1, 2 and 4 run alone: cue words as before,
in any inflection, negations and existing things respected.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from callwright.flows.intents import CueMatch, Intent, Said
from callwright.flows.wordforms import is_negator

OTHER = ""  # the key of "no intent" (texts that ask for none) among similarities
# Chosen by `python -m callwright.kb.intents` on the example receptionist's labels.
FLOOR = 0.32
MARGIN = 0.08
# How much more like another intent a turn must be for a creating intent's cue not to count.
OVERRULE = 0.1
# Before a noun, these make it one the caller has ("my appointment", "the visit").
_DEFINITE = frozenset("my the that this our your his her their its".split())
# How a turn that asks for something reads (see `asks`).
_FILLERS = frozenset("hi hello hey um uh oh so well yeah yes okay ok and but please".split())
_SUBJECTS = frozenset(
    "i i'm i've i'd my we we're we've our he he's she she's it it's they their the this that"
    " there there's his her you your".split()
)
_QUESTION_OPENERS = frozenset(
    "what what's when where which who how why is are am do does did can could would will".split()
)
_ASKING = frozenset(
    """can could would will can't couldn't won't wouldn't want wants wanna like need needs
    needed please help calling phoning ringing hoping looking trying wondering i'd""".split()
)
_HAVE = frozenset({"have", "has", "got", "going"})  # "I have to", "I'm going to"
_DONE = frozenset({"did", "already"})  # "did I book", "I already booked"
_BETWEEN = 2  # words that may stand between them ("my Thursday visit", "the next one")


class Meaning(Protocol):
    """Scores a turn against each intent's examples (blocking; run off the event loop)."""

    def similarities(self, text: str) -> Mapping[str, float]:
        """Per intent name (and `OTHER`), how much the turn is like its examples."""
        ...


@dataclass(frozen=True, slots=True)
class IntentVerdict:
    """What a turn asks for.

    Attributes:
        intent: the intent to act on; None when nothing is sure.
        choices: with no intent, the two likeliest to ask between (empty: ask nothing).
        ranking: the intents not ruled out, likeliest first (by meaning, else priority).
        excluded: intents the words rule out (negated, or creating what the caller has).
        how: what decided: "cue", "meaning", "noun", or "" for nothing.
        leaning: the intent most like the turn by meaning, past the floor and ahead of the
            other intents by the margin, whether or not the turn is more like a question:
            slots said with it ask for it ("any openings on Friday?").
        scores: the similarities by meaning of the intents not ruled out (and `OTHER`).
    """

    intent: str | None = None
    choices: tuple[str, ...] = ()
    ranking: tuple[str, ...] = ()
    excluded: frozenset[str] = frozenset()
    how: str = ""
    leaning: str | None = None
    scores: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recogniser:
    """Recognises the intent of a caller's turn (see the module doc).

    Args:
        intents: in priority order.
        items: nouns the intents act on ("appointment", "visit"): alone they name no task.
        meaning: scores by meaning, if an embedder is available.
        floor: lowest score by meaning that counts.
        margin: how far the best must be ahead of the runner-up to be taken.
    """

    intents: Sequence[Intent]
    items: Sequence[str] = ()
    meaning: Meaning | None = None
    floor: float = FLOOR
    margin: float = MARGIN

    def tuned(self, floor: float, margin: float) -> Recogniser:
        """The same recogniser with other thresholds."""
        return dataclasses.replace(self, floor=floor, margin=margin)

    async def judge(self, text: str) -> IntentVerdict:
        """`decide` on the turn, its meaning scored on a worker thread."""
        sims = None
        if self.meaning is not None and len(text.split()) >= 2:
            sims = await asyncio.to_thread(self.meaning.similarities, text)
        return self.decide(text, sims)

    def decide(self, text: str, sims: Mapping[str, float] | None = None) -> IntentVerdict:
        """The verdict on `text`, given its similarities by meaning (None: words only)."""
        said = Said.of(text)
        items = frozenset(w for i in self.items for w in (i.lower(), f"{i.lower()}s"))
        excluded = self.ruled_out(said, items)
        open_ = [i for i in self.intents if i.name not in excluded]
        ranking = tuple(i.name for i in open_)
        scored = {n: s for n, s in (sims or {}).items() if n == OTHER or n in ranking}
        if scored:
            ranking = tuple(sorted(ranking, key=lambda n: -scored.get(n, -1.0)))
        tasks = sorted(((s, n) for n, s in scored.items() if n != OTHER), reverse=True)
        # The task the turn leans to stands out from the other tasks, if not from questions.
        ahead = len(tasks) < 2 or tasks[0][0] - tasks[1][0] >= self.margin
        leaning = tasks[0][1] if tasks and tasks[0][0] >= self.floor and ahead else None
        verdict = IntentVerdict(
            ranking=ranking, excluded=frozenset(excluded), leaning=leaning, scores=scored
        )
        for intent in open_:
            found = intent.find(said)
            if found is None or _only_items(said, found, items) or _past(said, found, intent):
                continue
            if _nominal(said, found):
                continue  # "cancellation policy" names a thing; meaning says if it is asked
            if intent.creates and self._overruled(intent.name, scored):
                continue
            return dataclasses.replace(verdict, intent=intent.name, how="cue")
        if tasks and tasks[0][0] >= self.floor and tasks[0][0] > scored.get(OTHER, -1.0):
            best, name = tasks[0]
            runner = tasks[1][0] if len(tasks) > 1 else -1.0
            sure = best - max(runner, scored.get(OTHER, -1.0)) >= self.margin
            if sure and asks(said):
                return dataclasses.replace(verdict, intent=name, how="meaning")
            if sure:  # "My kid has had a fever since last night": book one?
                return dataclasses.replace(verdict, choices=(name,))
            if best - runner < self.margin:
                return dataclasses.replace(verdict, choices=(name, tasks[1][1]))
            # One task stands out, but the turn is nearly as like a question: ask if it is it.
            return dataclasses.replace(verdict, choices=(name,))
        for intent in open_:
            found = intent.find(said)
            if found is not None and _only_items(said, found, items):
                if tasks and scored.get(OTHER, -1.0) > tasks[0][0]:
                    break  # "what's the cost of an appointment": a question about one
                return dataclasses.replace(verdict, intent=intent.name, how="noun")
        return verdict

    def _overruled(self, name: str, scored: Mapping[str, float]) -> bool:
        """Whether meaning clearly says a creating intent's cue is not meant: the turn is much
        more like another intent ("when am I seeing the doctor" is a look-up, not a booking;
        "see the doctor" is said of a visit booked as of one to book).

        Being more like no intent does not overrule a cue: a question about the business and a
        request with a day in it ("can I schedule something for Friday") are alike.
        """
        if name not in scored:
            return False
        others = [s for n, s in scored.items() if n not in (name, OTHER)]
        return bool(others) and max(others) - scored[name] >= OVERRULE

    def ruled_out(self, said: Said, items: frozenset[str]) -> set[str]:
        """Intents a turn's words rule out: negated, or creating what the caller has."""
        out = {i.name for i in self.intents if i.find(said, negated=True) and not i.find(said)}
        creating = [(i, i.find(said)) for i in self.intents if i.creates]
        done = any(found is not None and _past(said, found, i) for i, found in creating)
        if done or _refers_to_one(said, items):
            for intent, found in creating:
                asked = found is not None and not _only_items(said, found, items)
                if not (asked and found is not None and not _past(said, found, intent)):
                    out.add(intent.name)  # "book my son's appointment" still books
        return out


def asks(said: Said) -> bool:
    """Whether a turn asks for something rather than only telling: a question, a modal or a
    verb of wanting ("can", "I'd like", "I need"), "please", a negation ("I can't make it"),
    or an imperative ("scrap my booking": no subject before its verb)."""
    first = next((w for w in said.words if w not in _FILLERS), "")
    if not first or first in _QUESTION_OPENERS or first not in _SUBJECTS:
        return True
    return any(
        w in _ASKING or is_negator(w) or (w == "to" and i and said.words[i - 1] in _HAVE)
        for i, w in enumerate(said.words)
    )


def _only_items(said: Said, found: CueMatch, items: frozenset[str]) -> bool:
    """Whether a cue was heard as nothing but nouns the intents share: "appointment", "my
    appointments", or "booking" for the cue "book" (the thing, not the verb)."""
    heard = said.words[found.start : found.start + found.length]
    return any(w in items for w in heard) and all(w in items or w in _DEFINITE for w in heard)


def _nominal(said: Said, found: CueMatch) -> bool:
    """Whether a cue was heard as the noun made from its verb ("cancellation")."""
    return any(
        w.endswith(("ation", "ations"))
        for w in said.words[found.start : found.start + found.length]
    )


def _past(said: Said, found: CueMatch, intent: Intent) -> bool:
    """Whether a creating intent's cue is said in the past ("I booked", "did I book"): done,
    not asked for."""
    if not intent.creates:
        return False
    before = said.words[max(0, found.start - 2) : found.start]
    return said.words[found.start].endswith("ed") or any(w in _DONE for w in before)


def _refers_to_one(said: Said, items: frozenset[str]) -> bool:
    """Whether the turn names an item the caller already has ("my appointment")."""
    for i, word in enumerate(said.words):
        if word in items and any(
            said.words[j] in _DEFINITE for j in range(max(0, i - _BETWEEN - 1), i)
        ):
            return True
    return False
