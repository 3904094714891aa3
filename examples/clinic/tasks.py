"""What the caller wants done: the clinic's task intents read by cue words and by meaning
(`callwright.flows.requests`), and the clinic's own rules on top of them.

The rules are about how callers say the clinic's tasks, not about particular phrasings:
Whisper's many takes on "reschedule" ("rescage"), a moving verb with the appointment ("move
it", "push that appointment") and a question of when about the caller's own appointment.
"""

from __future__ import annotations

import dataclasses

from callwright.flows.engine import Flow, FlowState, SlotContext, SlotSpec, fill
from callwright.flows.intents import words
from callwright.flows.requests import IntentVerdict, Recogniser
from callwright.flows.wordforms import without_negated
from examples.clinic.flow import TASK_INTENTS, TASK_ITEMS
from examples.clinic.wording import Wording

# Cue words only: inside a task, and when no sentence embedder is installed.
BY_WORDS = Recogniser(TASK_INTENTS, TASK_ITEMS)
# What the receptionist calls each task when it asks which one the caller means.
TASK_NAMES = {
    "book": "book a new appointment",
    "reschedule": "move your appointment",
    "cancel": "cancel your appointment",
    "lookup": "check when your appointment is",
}
CREATING = frozenset(i.name for i in TASK_INTENTS if i.creates)

_MOVE_VERBS = frozenset({"move", "change", "shift", "push", "postpone", "switch", "bring"})
_APPOINTMENT_WORDS = frozenset({"appointment", "appointments", "booking", "visit", "it", "that"})


def task_intent(text: str) -> str | None:
    """What the caller wants done, by cue words; tolerant of Whisper's takes on "reschedule"."""
    verdict = BY_WORDS.decide(text)
    return _by_rule(text, verdict.intent) or verdict.intent


async def judge_task(recogniser: Recogniser, text: str) -> IntentVerdict:
    """What the caller wants done, by cue words and meaning (see `Recogniser.decide`)."""
    verdict = await recogniser.judge(text)
    ruled = _by_rule(text, verdict.intent)
    if ruled is None:
        return verdict
    return dataclasses.replace(verdict, intent=ruled, choices=(), how="cue")


def _by_rule(text: str, intent: str | None) -> str | None:
    """The task the clinic's own rules find, when they overrule `intent`."""
    said = words(text)
    if any(w.startswith(("resch", "resc", "re-sch")) for w in said):
        return "reschedule"
    if intent not in (None, "book"):
        return None
    # "appointment" alone reads as a booking; what the caller does with it decides.
    refers = [i for i, w in enumerate(said) if w in _APPOINTMENT_WORDS]
    if any(w in _MOVE_VERBS for w in said) and refers and "book" not in said:
        return "reschedule"  # "move that appointment to Wednesday", "can I move it?"
    asks_when = "when" in said or ("what" in said and ("time" in said or "day" in said))
    if asks_when and any(i > 0 and said[i - 1] in ("my", "next") for i in refers):
        return "lookup"  # "when my appointment is", "what time is my next appointment"
    return None


class TaskRequests:
    """The menu's side of tasks, a mixin of `Receptionist`: what the caller asks for, which
    task a request with slots implies, and asking which task is meant."""

    state: FlowState
    flow: Flow
    w: Wording
    _tasks: Recogniser
    _slot_ctx: SlotContext

    def say(self, text: str) -> None:
        raise NotImplementedError

    async def advance(self) -> None:
        raise NotImplementedError

    def _fill(self, text: str) -> tuple[list[str], object]:
        raise NotImplementedError

    def _keep_identity(self, text: str) -> None:
        raise NotImplementedError

    def _task_slots(self) -> tuple[SlotSpec, ...]:
        raise NotImplementedError

    def _choice(self, text: str, count: int) -> int | None:
        raise NotImplementedError

    def _yes_no(self, text: str) -> bool | None:
        raise NotImplementedError

    async def _start_task(self, task: str, text: str) -> None:
        """Goes into `task` with what `text` gave for it."""
        self.state.go(task)
        _, ambiguous = self._fill(text)
        if ambiguous is not None:
            self.state.pending["unsure"] = ambiguous
        self._keep_identity(text)
        await self.advance()

    def _ask_which_task(self, choices: tuple[str, ...], text: str) -> None:
        """Asks which of two tasks the caller means ("move your appointment, or cancel it?"),
        or whether they mean the one ("book a new appointment?")."""
        named = self.w.join_or([TASK_NAMES[c] for c in choices])
        self.say(self.w.says("which_task", tasks=named))
        self.state.awaiting = "task_choice"
        self.state.pending = {"choices": choices, "request": text}

    async def _task_chosen(self, text: str, verdict: IntentVerdict) -> bool:
        """Goes into the task the caller picks after `_ask_which_task`; False if none."""
        choices: tuple[str, ...] = self.state.pending.pop("choices", ())
        request: str = self.state.pending.pop("request", "")
        picked = verdict.intent if verdict.intent in choices else None
        if picked is None and verdict.leaning in choices and verdict.intent is None:
            picked = verdict.leaning
        index = self._choice(text, len(choices))
        picked = choices[index] if picked is None and index is not None else picked
        answer = self._yes_no(text)
        if picked is None and len(choices) == 1 and answer is True:
            picked = choices[0]  # "Would you like to book a new appointment?" "Yes, please."
        if picked is None and answer is False and len(words(text)) <= 3:
            self.say(self.w.lines["nothing_to_go_back"])  # "No": what then?
            return True
        if picked is None:
            return False
        await self._start_task(picked, f"{request}. {text}")
        return True

    async def _judge(self, text: str) -> IntentVerdict:
        """What the caller asks for in the menu (by meaning too, in English)."""
        if self.w.language != "en":
            return IntentVerdict(intent=self.w.intent(text), how="cue")
        return await judge_task(self._tasks, text)

    def _implied_task(self, text: str, verdict: IntentVerdict) -> str | None:
        """The task the slots said in `text` imply, if any (see `Flow.implied_node`).

        Not one the words rule out (`IntentVerdict.excluded`), and not a booking when every
        slot said is under a negation ("I can't make it Thursday": a day the caller has, not
        one to book); the task the request leans to by meaning first.
        """
        given = self._slots_in(text)
        if not given:
            return None
        exclude = set(verdict.excluded)
        if not set(given) & set(self._slots_in(without_negated(text))):
            exclude |= CREATING
        prefer = [verdict.leaning] if verdict.leaning else []
        return self.flow.implied_node(given, exclude, prefer)

    def _slots_decide(self, verdict: IntentVerdict, implied: str, text: str) -> bool:
        """Whether the slots said choose the task: between two tasks alike ("Is Doctor Nguyen
        free Wednesday?": book or look up), or against a task by meaning that takes none of
        them when the one that does is past the floor too ("anything with Doctor Lopez on
        Thursday?" is no look-up)."""
        if implied not in CREATING:
            return False  # a day said to move or cancel names the one the caller has
        if verdict.intent is None:
            return implied in verdict.choices
        if verdict.how != "meaning" or implied == verdict.intent:
            return False
        takes = {s.name for s in self.flow.node(verdict.intent).slots}
        return not takes & set(self._slots_in(text)) and (
            verdict.scores.get(implied, 0.0) >= self._tasks.floor
        )

    def _slots_in(self, text: str) -> list[str]:
        """The task slots `text` gives (a reason alone is none)."""
        changed, ambiguous = fill(
            FlowState(self.state.node), self._task_slots(), text, self._slot_ctx
        )
        given = [c for c in changed if c != "reason"]
        if ambiguous is not None:
            given.append(ambiguous.slot)
        return given
