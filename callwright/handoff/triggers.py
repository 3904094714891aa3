"""When a call should go to a person: deterministic triggers, each one configurable.

Policy is code: these rules see every caller turn before the responder does, so an LLM (or
a flow with a bug) can never keep a caller who asked for a human, who is angry, or who is
going round in circles. Each trigger that fires says which one and why, for the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from callwright.flows.intents import find_cue, words

TriggerName = Literal[
    "explicit_request", "frustration", "loop", "low_confidence", "out_of_scope", "agent_decision"
]

# Phrases, not bare nouns: "Is the travel agent discount still on?" and "human resources"
# ask for no one. A bare noun asks for a person when it is the whole turn (`ALONE_CUES`).
EXPLICIT_CUES = (
    "an agent",
    "live agent",
    "real agent",
    "human agent",
    "agent please",
    "a human",
    "real human",
    "human being",
    "a person",
    "real person",
    "live person",
    "representative",
    "an operator",
    "the operator",
    "transfer me",
    "speak to someone",
    "talk to someone",
    "speak with someone",
    "talk with someone",
)
# A turn of only one of these nouns, with at most these few words around it ("Agent!",
# "A human, please.", "Operator, operator.") asks for a person.
ALONE_CUES = ("agent", "human", "operator", "person", "representative")
_ALONE_FILLERS = frozenset("a an the real live please uh um just".split())
ANGER_CUES = (
    "ridiculous",
    "useless",
    "frustrated",
    "frustrating",
    "annoying",
    "annoyed",
    "angry",
    "this is stupid",
    "waste of time",
    "not helping",
    "not listening",
    "terrible",
    "unacceptable",
    "fed up",
)
# A small sentiment lexicon: enough to see a call going sour, and explainable line by line.
NEGATIVE_WORDS = frozenset(
    "no not never wrong bad worse worst hate problem again still wait waiting why "
    "ugh confused confusing upset ridiculous useless terrible awful".split()
)
POSITIVE_WORDS = frozenset(
    "yes great thanks thank perfect good fine okay ok wonderful lovely excellent sure".split()
)
# A reply that asks the caller to say it again: a caller who then says the same words again
# does as asked (a misheard birthday, "Do I force 99t?", can read as a question).
SAY_AGAIN_CUES = (
    "didn't catch",
    "didn't understand",
    "didn't get that",
    "did not get that",
    "did not understand",
    "not sure i understood",
    "could you say it again",
    "could you repeat",
)
# A reply that did not understand: one that asks to hear it again, or found nothing to say.
NOT_UNDERSTOOD_CUES = (*SAY_AGAIN_CUES, "couldn't find", "i'm not sure")


@dataclass(frozen=True, slots=True)
class EscalationOptions:
    """Which triggers are on and how sensitive they are.

    Attributes:
        explicit: asking for a person ("agent", "representative", "transfer me") escalates.
        explicit_cues: the phrases of an explicit request.
        alone_cues: words that ask for a person when they are the whole turn ("Agent!").
        explicit_key: the keypad key that asks for a person.
        frustration: anger words, agitated repetition or falling sentiment escalate.
        anger_cues: phrases that are frustration on their own.
        repeated_word_run: the same word this many times in a row ("no, no, no") is agitation.
        sentiment_window: caller turns averaged for the sentiment trend.
        sentiment_floor: escalate when that average falls to this (per-turn scores are
            positive minus negative words, capped to [-2, 2]) and is lower than at the start.
        loops: escalate when the agent goes round in circles.
        misunderstood_turns: agent replies in a row that say it did not understand, or that
            repeat its previous reply word for word.
        repeated_question_overlap: a caller turn sharing this much of its words with an
            earlier one (of at least `min_question_words`) is the same question asked twice,
            unless it answers the agent's reply just before: a reply that asked the caller to
            say it again, or that understood them and asked them something ("Which would you
            like?" after offering other times than the ones asked for, said again).
        min_question_words: shorter turns ("yes", "no") are never a repeated question.
        low_confidence: escalate after several poorly transcribed turns in a row.
        confidence_floor: a turn whose transcript confidence is below this is poorly heard.
        low_confidence_turns: how many such turns in a row.
        out_of_scope: topics the agent marks as out of scope escalate.
        out_of_scope_cues: those topics' phrases; none by default (they are the agent's own:
            prescriptions at a doctor's office, investment advice at a bank).
        not_understood_cues: phrases of an agent reply that did not understand.
        say_again_cues: phrases of an agent reply that asks the caller to say it again.
    """

    explicit: bool = True
    explicit_cues: Sequence[str] = EXPLICIT_CUES
    alone_cues: Sequence[str] = ALONE_CUES
    explicit_key: str = "0"
    frustration: bool = True
    anger_cues: Sequence[str] = ANGER_CUES
    repeated_word_run: int = 3
    sentiment_window: int = 3
    sentiment_floor: float = -1.0
    loops: bool = True
    misunderstood_turns: int = 3
    repeated_question_overlap: float = 0.7
    min_question_words: int = 4
    low_confidence: bool = True
    confidence_floor: float = 0.45
    low_confidence_turns: int = 3
    out_of_scope: bool = True
    out_of_scope_cues: Sequence[str] = ()
    not_understood_cues: Sequence[str] = NOT_UNDERSTOOD_CUES
    say_again_cues: Sequence[str] = SAY_AGAIN_CUES


@dataclass(frozen=True, slots=True)
class Escalation:
    """A decision to hand the call to a person.

    Attributes:
        trigger: which rule fired.
        reason: why, in words an operator reads on the console.
        at_ms: when, on the call's audio timeline.
        detail: what the rule saw (the phrase, the scores, the repeated question).
    """

    trigger: TriggerName
    reason: str
    at_ms: float
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "reason": self.reason, "detail": self.detail}


def sentiment(tokens: list[str]) -> int:
    """Positive minus negative words of one turn, capped to [-2, 2]."""
    score = sum(t in POSITIVE_WORDS for t in tokens) - sum(t in NEGATIVE_WORDS for t in tokens)
    return max(-2, min(2, score))


_QUESTION_STARTS = frozenset(
    "what when where which who why how is are do does can could will".split()
)


def _is_question(text: str, tokens: list[str], min_words: int) -> bool:
    """A question worth remembering: long enough, and shaped like a question."""
    if len(tokens) < min_words:
        return False
    return text.rstrip().endswith("?") or tokens[0] in _QUESTION_STARTS


# Digits said again are dictation, not agitation: "five five five", "one one two", or a
# birthday the recogniser wrote as "19, 19, 19".
_NUMBER_WORDS = frozenset(
    "zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred double triple".split()
)


def _longest_run(tokens: list[str]) -> tuple[str, int]:
    """The word said most times in a row, and how many; numbers do not count."""
    best, run = ("", 0), 0
    for index, token in enumerate(tokens):
        if token.isdigit() or token in _NUMBER_WORDS:
            run = 0
            continue
        run = run + 1 if index and tokens[index - 1] == token else 1
        if run > best[1]:
            best = (token, run)
    return best


class EscalationTriggers:
    """Watches one call's turns; says when (and why) it should go to a person.

    Args:
        options: which triggers are on, and their thresholds.
    """

    def __init__(self, options: EscalationOptions | None = None) -> None:
        self.options = options or EscalationOptions()
        self._questions: list[tuple[str, set[str]]] = []
        self._scores: list[int] = []
        self._low_confidence_run = 0
        self._misunderstood_run = 0
        self._last_reply: list[str] = []
        # The agent's last reply asked the caller to say it again, or asked them something
        # (a choice, a day) having understood them: what they say next answers it.
        self._answering = False

    def on_key(self, digit: str, at_ms: float) -> Escalation | None:
        """A keypad key; the configured one (0) asks for a person."""
        if self.options.explicit and digit == self.options.explicit_key:
            return Escalation("explicit_request", f"the caller pressed {digit}", at_ms)
        return None

    def on_keyed_entry(self) -> None:
        """A complete keypad entry: a turn heard exactly, so a run of poorly heard turns
        ends (the agent's keypad offer worked; a person is not called for the next turn)."""
        self._low_confidence_run = 0

    def on_caller_turn(
        self, text: str, confidence: float | None, at_ms: float
    ) -> Escalation | None:
        """A caller turn, before the responder sees it; the first trigger that fires, if any."""
        opts = self.options
        tokens = words(text)
        question = _is_question(text, tokens, opts.min_question_words)
        checks = (
            (opts.explicit, self._explicit),
            (opts.out_of_scope, self._out_of_scope),
            (opts.frustration, self._frustration),
            (opts.loops and question and not self._answering, self._repeated_question),
            (opts.low_confidence, lambda t, at: self._low_confidence(confidence, t, at)),
        )
        fired = None
        for enabled, check in checks:
            if enabled and fired is None:
                fired = check(tokens, at_ms)
        if question:
            self._questions.append((text, set(tokens)))
        return fired

    def on_agent_reply(self, text: str, at_ms: float) -> Escalation | None:
        """The agent's reply; too many in a row that did not understand is a loop."""
        tokens = words(text)
        if not tokens:
            return None
        stuck = tokens == self._last_reply or find_cue(tokens, self.options.not_understood_cues)
        asked_again = find_cue(tokens, self.options.say_again_cues) is not None
        self._answering = asked_again or (not stuck and text.rstrip().endswith("?"))
        self._last_reply = tokens
        self._misunderstood_run = self._misunderstood_run + 1 if stuck else 0
        if not stuck:
            # The agent understood the turn however poorly it was heard: a run of hard turns
            # is one the agent also failed on, so its own repair (a narrower question, the
            # keypad) gets its chance before a person is called.
            self._low_confidence_run = 0
        if self.options.loops and self._misunderstood_run >= self.options.misunderstood_turns:
            self._misunderstood_run = 0
            return Escalation(
                "loop",
                f"the agent did not understand {self.options.misunderstood_turns} times in a row",
                at_ms,
                {"last_reply": text},
            )
        return None

    # --- the rules ---------------------------------------------------------------------

    def _explicit(self, tokens: list[str], at_ms: float) -> Escalation | None:
        cue = find_cue(tokens, self.options.explicit_cues)
        if cue is None:
            said = set(tokens) - _ALONE_FILLERS
            alone = [c for c in self.options.alone_cues if said == {c}]
            cue = alone[0] if alone else None
        if cue is None:
            return None
        return Escalation("explicit_request", "the caller asked for a person", at_ms, {"cue": cue})

    def _out_of_scope(self, tokens: list[str], at_ms: float) -> Escalation | None:
        cue = find_cue(tokens, self.options.out_of_scope_cues)
        if cue is None:
            return None
        reason = "the caller needs something the agent must not handle"
        return Escalation("out_of_scope", reason, at_ms, {"topic": cue})

    def _frustration(self, tokens: list[str], at_ms: float) -> Escalation | None:
        opts = self.options
        cue = find_cue(tokens, opts.anger_cues)
        if cue is not None:
            return Escalation("frustration", "the caller sounds angry", at_ms, {"cue": cue})
        word, run = _longest_run(tokens)
        if run >= opts.repeated_word_run:
            detail = {"word": word, "times": run}
            return Escalation("frustration", "the caller is repeating themselves", at_ms, detail)
        self._scores.append(sentiment(tokens))
        window = self._scores[-opts.sentiment_window :]
        if len(self._scores) > len(window):  # a trend needs turns before the window
            recent = sum(window) / len(window)
            earlier = self._scores[: -opts.sentiment_window]
            if recent <= opts.sentiment_floor and recent < sum(earlier) / len(earlier):
                detail = {"recent": round(recent, 2), "scores": list(self._scores)}
                return Escalation("frustration", "the caller's mood keeps falling", at_ms, detail)
        return None

    def _repeated_question(self, tokens: list[str], at_ms: float) -> Escalation | None:
        mine = set(tokens)
        for earlier, theirs in self._questions:
            overlap = len(mine & theirs) / max(len(mine | theirs), 1)
            if overlap >= self.options.repeated_question_overlap:
                reason = "the caller asked the same thing twice"
                return Escalation("loop", reason, at_ms, {"question": earlier})
        return None

    def _low_confidence(
        self, confidence: float | None, tokens: list[str], at_ms: float
    ) -> Escalation | None:
        if confidence is None or not tokens:
            return None
        if confidence >= self.options.confidence_floor:
            self._low_confidence_run = 0
            return None
        self._low_confidence_run += 1
        if self._low_confidence_run < self.options.low_confidence_turns:
            return None
        self._low_confidence_run = 0
        reason = f"{self.options.low_confidence_turns} turns in a row were hard to understand"
        return Escalation("low_confidence", reason, at_ms, {"confidence": round(confidence, 3)})
