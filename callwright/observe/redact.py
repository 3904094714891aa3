"""Personal data out of logs, traces, stored transcripts and exports.

A `RedactionPolicy` says, per kind of personal data, whether to redact it ("[PHONE]"), mask it
(keep the last digits or the first letter: "[PHONE …0100]") or keep it. Names are only found
where marked: names the call was given in parameters marked as names, and self-introductions
("my name is Ada Lovelace"). The raw transcript is stored only when `keep_raw_transcript` is set,
and `RetentionJob` deletes it and the recordings after `retention_days`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from callwright.core import env as read
from callwright.store.base import CallStore, PurgeResult

log = logging.getLogger(__name__)

Action = Literal["redact", "mask", "keep"]
KINDS = ("email", "card", "dob", "phone", "address", "name")

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
# Capitalized words that follow "this is" or "I'm" without being a name.
_NOT_NAMES = "|".join(
    """Sorry So Not Sure Calling Just Here Fine Good Great Okay Ok The A An It That This Very
    Really Afraid Glad Happy Looking Trying Still Going Available Back Done Ready
    Doctor Dr Mr Mrs Ms Your My Our Is Are In On At Calling About Interested""".split()
)
# One part of a name: a capital and lower-case letters, and parts joined by an apostrophe or a
# hyphen; at least two letters in all (a lone capital is no name to learn).
_NAME_PART = r"[A-ZÀ-Ý](?:[a-zß-ÿ]++|(?=['’-][A-Za-zÀ-ÿ]))(?:['’-][A-Za-zÀ-ÿ][a-zß-ÿ]*+)*+"
# Every pattern runs in time linear in the text: no quantifier nests another that can match the
# same characters, repeats are possessive (`*+`, `++`: no backtracking into them), and matches
# may only start where a lookbehind allows, so a long run is not rescanned from each character.
# Text is also capped at MAX_TEXT_CHARS before any matching.
_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++"),
    # 13-19 digits in groups; Luhn-checked below so long phone numbers are not taken for cards.
    "card": re.compile(r"(?<![\w])(?:\d[ -]?){12,18}\d(?![\w])"),
    # Dates with a year: a date of birth (appointment days rarely carry one).
    "dob": re.compile(
        rf"(?:\b\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{2}}|{_YEAR})\b"
        rf"|\b{_YEAR}-\d{{2}}-\d{{2}}\b"
        rf"|\b{_MONTHS}\.?\s{{1,3}}{_DAY},?\s{{1,3}}{_YEAR}\b"
        rf"|\b{_DAY}\s{{1,3}}(?:of\s{{1,3}})?{_MONTHS},?\s{{1,3}}{_YEAR}\b)",
        re.IGNORECASE,
    ),
    # A run of digits and the usual separators; `_phone` keeps the part that ends on a digit
    # not followed by a letter and needs 7+ digits: "+1 (555) 010-0100", "555 0100 123".
    "phone": re.compile(r"(?<![\w+])\+?\(?\d[\d\s().-]*+"),
    "address": re.compile(
        r"\b\d{1,5}[A-Za-z]?\s{1,3}(?:[A-Z][\w'-]*+\s{1,3}){1,3}"
        r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl"
        r"|terrace|close|square)\b\.?",
        re.IGNORECASE,
    ),
    # The cue in any case, the name capitalized (as recognizers write names): "I'm sorry",
    # "this is the office" and "I am not sure" introduce nobody.
    # Spanish cues too ("me llamo", "mi nombre es": the agents speak it), and accented names.
    # A name's part may join others by an apostrophe or a hyphen ("O'Brien", "Mary-Jane"); a
    # title before it is not part of it ("this is Dr Okafor").
    "name": re.compile(
        r"\b(?i:my name is|my name's|name's|name is|this is|i am|i'm|me llamo|mi nombre es)"
        r"\s{1,3}(?:(?:Dr|Doctor|Mr|Mrs|Ms|Miss)\.?\s{1,3})?"
        r"(?!(?:" + _NOT_NAMES + r")\b)"
        r"(?P<name>"
        + _NAME_PART
        + r"(?:\s{1,3}(?!(?:"
        + _NOT_NAMES
        + r")\b)"
        + _NAME_PART
        + r")?)",
    ),
}
# Read-only view for tests and benchmarks that exercise each pattern on its own.
PATTERNS: Mapping[str, re.Pattern[str]] = MappingProxyType(_PATTERNS)
# Longer text is cut (with a marker) before matching: a bound on the work one string can cause.
MAX_TEXT_CHARS = 32 * 1024
_TRUNCATED = "…[truncated]"
_NAME_PARAMETERS = ("name", "caller_name", "first_name", "last_name", "patient_name")


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What to do with each kind of personal data, and what to keep.

    Attributes:
        phone, dob, card, email, address, name: the action per kind.
        name_parameters: call parameters whose values are names (redacted wherever they occur).
        keep_raw_transcript: also store the unredacted transcript (until retention).
        retention_days: raw transcripts and recordings older than this are deleted; None keeps
            them forever.
        record_retention_days: whole call records (the redacted lines, events, timelines,
            usage) of calls older than this are deleted; None (the default) keeps them.
    """

    phone: Action = "redact"
    dob: Action = "redact"
    card: Action = "redact"
    email: Action = "redact"
    address: Action = "redact"
    name: Action = "redact"
    name_parameters: tuple[str, ...] = _NAME_PARAMETERS
    keep_raw_transcript: bool = False
    retention_days: float | None = 30.0
    record_retention_days: float | None = None

    def action(self, kind: str) -> Action:
        action: Action = getattr(self, kind)
        return action

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RedactionPolicy:
        """CALLWRIGHT_REDACT="phone=mask,name=keep", CALLWRIGHT_KEEP_RAW_TRANSCRIPT=1,
        CALLWRIGHT_RETENTION_DAYS=30 (0 or "none": keep forever),
        CALLWRIGHT_RECORD_RETENTION_DAYS (unset, 0 or "none": keep whole records forever)."""
        env = os.environ if env is None else env
        policy = cls()
        for item in read.items(env, "CALLWRIGHT_REDACT"):
            kind, _, action = item.partition("=")
            if kind not in KINDS or action not in ("redact", "mask", "keep"):
                raise ValueError(f"CALLWRIGHT_REDACT: bad item {item!r}")
            overrides: dict[str, Any] = {kind: action}
            policy = replace(policy, **overrides)
        keep_raw = read.flag(env, "CALLWRIGHT_KEEP_RAW_TRANSCRIPT", False)
        retention = read.limit(env, "CALLWRIGHT_RETENTION_DAYS", 30.0)
        records = read.limit(env, "CALLWRIGHT_RECORD_RETENTION_DAYS", None)
        return replace(
            policy,
            keep_raw_transcript=keep_raw,
            retention_days=retention,
            record_retention_days=records,
        )


def _phone_end(run: str, text: str, run_end: int) -> int:
    """Where the phone number in a run of digits and separators ends (0: nowhere).

    It ends on a digit that is not followed by a letter or digit: the run's last digit if the
    text goes on with something else, else the last digit followed by a separator. One pass.
    """
    after = text[run_end : run_end + 1]
    for i in range(len(run) - 1, -1, -1):
        if not run[i].isdigit():
            continue
        following = run[i + 1 : i + 2] or after
        if not following or not (following.isalnum() or following == "_"):
            return i + 1
        # An extension glued on ("555-010-0100x23"): the number ends before it.
        if i == len(run) - 1 and following in "xX" and text[run_end + 1 : run_end + 2].isdigit():
            return i + 1
    return 0


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class Redactor:
    """Applies a policy to text and to nested JSON-like values.

    Args:
        policy: what to do with each kind.
        names: names marked for this call (e.g. from its parameters).
    """

    policy: RedactionPolicy = field(default_factory=RedactionPolicy)
    names: tuple[str, ...] = ()

    def for_call(self, parameters: Mapping[str, str]) -> Redactor:
        """A redactor that also knows the names marked in a call's parameters."""
        marked = [parameters[k] for k in self.policy.name_parameters if parameters.get(k)]
        return replace(self, names=(*self.names, *marked))

    def learn(self, text: str) -> Redactor:
        """A redactor that also knows the names this text introduces ("my name is ...").

        A name the caller gave once is marked for the rest of the call, wherever it appears.
        """
        if self.policy.name == "keep":
            return self
        found = [m.group("name") for m in _PATTERNS["name"].finditer(text)]
        new = [n for n in found if n not in self.names]
        if not new:
            return self
        parts = [p for n in new for p in n.split() if len(p) > 2]
        return replace(self, names=(*self.names, *new, *parts))

    def text(self, text: str) -> str:
        """The text with every personal datum handled per the policy."""
        if not text:
            return text
        if len(text) > MAX_TEXT_CHARS:
            text = text[:MAX_TEXT_CHARS] + _TRUNCATED
        text = self._names(text, self.names)
        for kind in KINDS:
            if self.policy.action(kind) != "keep":
                text = _PATTERNS[kind].sub(lambda m, k=kind: self._match(k, m), text)  # type: ignore[misc]
        return text

    def _names(self, text: str, names: Sequence[str]) -> str:
        if self.policy.name == "keep":
            return text
        for name in sorted(names, key=len, reverse=True):
            if name.strip():
                pattern = re.compile(rf"\b{re.escape(name.strip())}\b", re.IGNORECASE)
                text = pattern.sub(lambda m: self._replace("name", m.group(0)), text)
        return text

    def names_again(self, names: Sequence[str]) -> Callable[[Any], Any]:
        """Redacts only `names` in a value this redactor's policy was already applied to.

        What a name learned late in a call changes in what was stored before it: the stored
        lines are redacted already, so only the new names are looked for, and a string that
        does not contain one (most of a long call) costs a substring test, not every pattern.
        """
        wanted = [n.strip() for n in names if n.strip()]
        folded = [n.casefold() for n in wanted]

        def again(value: Any) -> Any:
            if isinstance(value, str):
                lowered = value.casefold()
                if not any(n in lowered for n in folded):
                    return value
                return self._names(value, wanted)
            if isinstance(value, Mapping):
                return {k: again(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [again(v) for v in value]
            return value

        return again

    def with_field_names(self, value: Any) -> Redactor:
        """A redactor that also knows the names held in `value`'s name fields (the policy's
        `name_parameters`: a tool's `{"name": "Ada Lovelace"}`), and their parts ("Thanks Ada").
        """
        if self.policy.name == "keep":
            return self
        found: list[str] = []

        def collect(inner: Any) -> None:
            if isinstance(inner, Mapping):
                for key, item in inner.items():
                    if key in self.policy.name_parameters and isinstance(item, str):
                        if item.strip() and item.strip() not in self.names:
                            found.append(item.strip())
                    collect(item)
            elif isinstance(inner, list | tuple):
                for item in inner:
                    collect(item)

        collect(value)
        if not found:
            return self
        parts = [p for n in found for p in n.split() if len(p) > 2]
        return replace(self, names=(*self.names, *found, *parts))

    def value(self, value: Any) -> Any:
        """Redacts every string inside dicts, lists and tuples (keys are left as they are)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def _match(self, kind: str, match: re.Match[str]) -> str:
        found = match.group(0)
        if kind == "card" and not _luhn(re.sub(r"\D", "", found)):
            return found
        if kind == "phone":
            end = _phone_end(found, match.string, match.end())
            if sum(c.isdigit() for c in found[:end]) < 7:
                return found
            return self._replace(kind, found[:end]) + found[end:]
        if kind == "name":
            name = match.group("name")
            return found[: len(found) - len(name)] + self._replace("name", name)
        return self._replace(kind, found)

    def _replace(self, kind: str, found: str) -> str:
        label = kind.upper()
        if self.policy.action(kind) == "mask":
            digits = re.sub(r"\D", "", found)
            if kind in ("phone", "card") and len(digits) >= 4:
                return f"[{label} …{digits[-4:]}]"
            return f"[{label} {found.strip()[:1]}…]"
        return f"[{label}]"


# Credentials that travel in URLs: query values named like one, and stream tokens in the path.
# A decimal fraction is no credential: the latency log's "first_token=212.4" stays readable.
_SECRET_QUERY = re.compile(
    r"(?i)((?<![\w-])[\w-]{0,32}(?:token|key|secret|signature|password|sig)=)"
    r"(?!\d++\.\d++(?:[&;#\s\"]|$))[^&;#\s\"]++"
)
_STREAM_PATH = re.compile(r"(/stream/)[^/?#\s\"]++")
_QUOTED = re.compile(r'"([^"]*+)"')
ACCESS_LOGGER = "aiohttp.access"


def mask_secrets(text: str) -> str:
    """The text with URL credentials (`?token=...`, `/stream/<token>`) replaced by "[SECRET]"."""
    text = _SECRET_QUERY.sub(r"\1[SECRET]", text)
    return _STREAM_PATH.sub(r"\1[SECRET]", text)


def redact_access_line(line: str, redactor: Redactor) -> str:
    """An access-log line with only its quoted parts (request line, referrer, agent) redacted.

    The address, time, status and size stay as they are ("200 1234" is not a phone number).
    """
    if len(line) > MAX_TEXT_CHARS:
        line = line[:MAX_TEXT_CHARS] + _TRUNCATED

    def quoted(match: re.Match[str]) -> str:
        inner = mask_secrets(match.group(1))
        method, space, rest = inner.partition(" ")
        target, space2, version = rest.rpartition(" ")
        if space and space2 and method.isupper() and version.startswith("HTTP/"):
            return f'"{method} {redactor.text(target)} {version}"'
        return f'"{redactor.text(inner)}"'

    return _QUOTED.sub(quoted, line)


_LOG_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # C0 controls and DEL, not TAB


def _escaped(match: re.Match[str]) -> str:
    return match.group(0).encode("unicode_escape").decode("ascii")


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message (and traceback) redacted.

    Attach it to handlers (filters on loggers do not see records propagated from children).
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("callwright.redact")
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the template, drop the arguments
            message = str(record.msg)
        if record.name == ACCESS_LOGGER:
            message = redact_access_line(message, self._redactor)
        else:
            message = self._redactor.text(mask_secrets(message))
        # One record, one line: a CR or LF a stranger put in a SIP header or a message forges
        # a log line of its own, and an ESC rewrites a terminal's; they are shown escaped.
        record.msg = _LOG_CONTROL.sub(_escaped, message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._redactor.text(
                logging.Formatter().formatException(record.exc_info)
            )
        return True


def install_log_redaction(
    redactor: Redactor, handlers: Iterable[logging.Handler] | None = None
) -> None:
    """Adds a `RedactingFilter` to the given handlers (default: the root logger's), once each."""
    for handler in logging.getLogger().handlers if handlers is None else handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(redactor))


class RetentionJob:
    """Deletes raw transcripts and recordings older than the policy's retention period, and
    whole call records older than the record retention period.

    Args:
        store: the call store.
        retention_days: age limit of raw transcripts and recordings; None keeps them.
        clock: wall-clock seconds (injectable for tests).
        record_retention_days: age limit of whole records of calls that are over; None keeps
            them.
    """

    def __init__(
        self,
        store: CallStore,
        retention_days: float | None,
        clock: Callable[[], float] = time.time,
        record_retention_days: float | None = None,
    ) -> None:
        self._store = store
        self._days = retention_days
        self._clock = clock
        self._record_days = record_retention_days

    async def run_once(self) -> PurgeResult:
        """One pass; returns what it deleted."""
        now = self._clock()
        calls = 0
        if self._record_days is not None:
            calls = await self._store.purge_calls_before(now - self._record_days * 86400.0)
        result = PurgeResult(calls=calls)
        if self._days is not None:
            parts = await self._store.purge_before(now - self._days * 86400.0)
            result = replace(parts, calls=calls)
        if result.raw_utterances or result.recordings or result.calls:
            log.info(
                "retention: deleted %d raw transcript lines, %d recordings and %d call records",
                result.raw_utterances,
                result.recordings,
                result.calls,
            )
        return result

    async def run(self, interval_s: float = 3600.0) -> None:
        """Runs a pass now and then every `interval_s`, until cancelled."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("retention pass failed")
            await asyncio.sleep(interval_s)
