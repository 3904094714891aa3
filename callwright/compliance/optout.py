"""Opt-out: a caller who asks not to be called again is, on every call and for every agent.

Policy is code, like the escalation triggers (`handoff/triggers.py`): these rules see every
caller turn before the responder does, so no prompt or flow can keep calling someone who said
"stop calling me". The rules are patterns (a verb of stopping or removing, a verb of calling or
a list, and the caller as its object), not a list of sentences, so "quit phoning this number",
"please remove my number from your calling list" and "I want to opt out" all count. A request
under a negation ("don't take me off the list") does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callwright.compliance.consent import ConsentRecords
from callwright.compliance.dnc import DoNotCallList
from callwright.compliance.log import ComplianceLog
from callwright.compliance.numbers import NumberError, to_e164
from callwright.compliance.tables import SqlStore
from callwright.flows.intents import words

_CALL = r"(?:call|calling|calls|ring|ringing|phone|phoning|contact|contacting|text|texting|bother|bothering|dial|dialing|dialling)"  # noqa: E501
_ME = r"(?:me|us|my (?:phone|number|cell|mobile|house|home)|this (?:number|phone|house|line)|here)"
_LIST = r"(?:list|lists|database|system|records|directory|roster)"
# A list named by what it is for: with one of these before it, the list's own word may be
# missing or misheard ("take me off your calling, Liz" is how a recogniser heard "calling list").
_LIST_KIND = r"(?:calling|contact|contacts|dialing|dialling|mailing|marketing|sales)"
# Lists a caller may leave that are not for calling them: "take me off the waiting list".
_OTHER_LIST = r"(?:waiting|wait|standby|cancellation|guest|shopping)\b"
_NEGATION = frozenset(("don't", "dont", "not", "never", "no", "won't", "wouldn't", "shouldn't"))

# Each pattern runs over the turn's words joined by single spaces.
_STOP = re.compile(
    rf"\b(?:stop|quit|cease|no more|enough)\s+(?:\w+\s+)?{_CALL}(?:\s+{_ME}\b|$|\s+(?!you\b|him\b|her\b|them\b)\w+)"  # noqa: E501
)
_NEVER_AGAIN = re.compile(
    rf"\b(?:(?:don't|dont|do not|shouldn't)\s+(?:ever\s+)?{_CALL}\s+{_ME}\s+(?:again|anymore|any more|ever)|never\s+{_CALL}\s+{_ME})\b"  # noqa: E501
)
_REMOVE = re.compile(
    rf"\b(?:take|remove|delete|drop|get|scratch|cross|strike)\s+(?:me|us|my (?:name|number|phone number)|this number)\s+(?:off|from|out of)\s+(?:(?:(?!{_OTHER_LIST})\w+\s+){{0,4}}?{_LIST}\b|(?:your|the|this)\s+{_LIST_KIND}\b)"  # noqa: E501
)
_DO_NOT_CALL_LIST = re.compile(
    r"\b(?:(?:put|add|place|register|sign)\s+(?:me|us|my (?:name|number|phone number)|this number)"
    r"\s+(?:on|to|up for)|i'm on|im on|i am on|we're on|we are on)\s+(?:\w+\s+){0,2}?"
    r"(?:do not|don't|dont) call (?:list|registry)\b"
)
# "Don't call me." / "Please do not contact this number.": the request ends the sentence (the
# turn) or is made for good; "don't call me Bob" or "don't call me back yet" asks for no
# such thing.
_DONT_CALL = re.compile(
    rf"\b(?:don't|dont|do not)\s+(?:ever\s+)?{_CALL}\s+{_ME}(?:\s+(?:again|anymore|any more|ever|at all|please))*$"  # noqa: E501
)
# "I don't want any more calls", "I do not want to be called again".
_NO_MORE_CALLS = re.compile(
    r"\b(?:don't|dont|do not)\s+want\s+(?:any\s+more|anymore|more|your|these|those)\s+(?:phone\s+)?calls\b"  # noqa: E501
    r"|\b(?:don't|dont|do not)\s+want\s+to\s+be\s+(?:called|contacted|phoned)(?:\s+(?:again|anymore|any more|ever))?(?:$|\s+(?:again|anymore|by you|from you))"  # noqa: E501
)
_OPT_OUT = re.compile(r"\b(?:opt me out|opt out|opting out|unsubscribe me|unsubscribe)\b")
_LOSE_NUMBER = re.compile(r"\b(?:lose|delete|forget|erase) my (?:phone )?number\b")

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("stop_calling", _STOP),
    ("never_again", _NEVER_AGAIN),
    ("do_not_call_me", _DONT_CALL),
    ("no_more_calls", _NO_MORE_CALLS),
    ("remove_from_list", _REMOVE),
    ("do_not_call_list", _DO_NOT_CALL_LIST),
    ("opt_out", _OPT_OUT),
    ("lose_my_number", _LOSE_NUMBER),
)
# Patterns that a preceding negation turns around ("don't stop calling me" is no opt-out).
_NEGATABLE = frozenset(("stop_calling", "remove_from_list", "opt_out", "do_not_call_list"))

CONFIRMATION = (
    "Understood. I've added your number to our do-not-call list, and you won't get calls "
    "like this from us again. Goodbye."
)


@dataclass(frozen=True, slots=True)
class OptOutOptions:
    """Whether callers can opt out, and how.

    Attributes:
        enabled: the policy watches every caller turn (and the key, if any).
        key: a keypad key that opts out on its own ("" for none).
        confirmation: what the caller hears before the call ends.
        default_region: the country of caller numbers written without a country code.
    """

    enabled: bool = True
    key: str = ""
    confirmation: str = CONFIRMATION
    default_region: str = "US"


@dataclass(frozen=True, slots=True)
class OptOut:
    """A caller's request not to be called again.

    Attributes:
        how: "speech" or "key".
        rule: which pattern matched ("stop_calling", "remove_from_list"...), or the key.
        evidence: the words that matched (or the key pressed).
        at_ms: when, on the call's audio timeline.
    """

    how: str
    rule: str
    evidence: str
    at_ms: float

    def to_dict(self) -> dict[str, str]:
        return {"how": self.how, "rule": self.rule, "evidence": self.evidence}


def find_opt_out(text: str) -> tuple[str, str] | None:
    """The rule and matched words if `text` asks not to be called again, else None."""
    tokens = words(text)
    joined = " ".join(tokens)
    for rule, pattern in PATTERNS:
        for match in pattern.finditer(joined):
            before = joined[: match.start()].split()[-2:]
            if rule in _NEGATABLE and any(word in _NEGATION for word in before):
                continue
            return rule, match.group(0).strip()
    return None


class OptOutPolicy:
    """Watches one call's caller turns and keys for an opt-out.

    Args:
        options: whether it is on, and the key.
    """

    def __init__(self, options: OptOutOptions | None = None) -> None:
        self.options = options or OptOutOptions()
        self.fired: OptOut | None = None

    def on_caller_turn(self, text: str, at_ms: float) -> OptOut | None:
        """A caller turn, before anything else sees it; the opt-out it asks for, if any."""
        if not self.options.enabled or self.fired is not None:
            return None
        found = find_opt_out(text)
        if found is None:
            return None
        self.fired = OptOut("speech", found[0], found[1], at_ms)
        return self.fired

    def on_key(self, digit: str, at_ms: float) -> OptOut | None:
        """A keypad key at the start of an entry; the configured one opts out."""
        opts = self.options
        if not opts.enabled or not opts.key or digit != opts.key or self.fired is not None:
            return None
        self.fired = OptOut("key", "key", digit, at_ms)
        return self.fired


async def add_to_do_not_call(
    store: SqlStore,
    number: str | None,
    opt_out: OptOut,
    region: str = "US",
    call_id: str | None = None,
) -> dict[str, object]:
    """Puts the caller's number on the do-not-call list, revokes its consent records, and
    writes the compliance log; what happened, for the call's record."""
    outcome: dict[str, object]
    e164: str | None = None
    if not number:
        outcome = {"added": False, "why": "the caller's number is unknown"}
    else:
        try:
            e164 = to_e164(number, region)
        except NumberError:
            outcome = {"added": False, "why": "the caller id is not a phone number"}
        else:
            reason = f"{opt_out.how}: {opt_out.evidence}"
            added = await DoNotCallList(store).add(e164, "opt_out", reason, region)
            revoked = await ConsentRecords(store).revoke(e164, "opted out during a call")
            outcome = {"added": added, "already_listed": not added, "consent_revoked": revoked}
    await ComplianceLog(store).append("opt_out", e164, call_id, **opt_out.to_dict(), **outcome)
    return outcome
