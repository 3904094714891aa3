"""Who may be called: the outbound destination policy and the per-credential rate limit.

Numbers must be E.164 (`+` and 7 to 15 digits). Premium-rate and other costly prefixes are
refused by default (`PREMIUM_PREFIXES`, and whatever libphonenumber's numbering plans classify
as premium-rate, shared-cost or personal; documented in docs/security.md); operators add their
own with `CALLWRIGHT_OUTBOUND_DENY`, or allow only some prefixes with `CALLWRIGHT_OUTBOUND_ALLOW`.
A deny always wins over an allow.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import phonenumbers
from aiohttp import web

from callwright.campaigns.scheduled import ScheduledCall
from callwright.config import SecuritySettings
from callwright.server.audit import record
from callwright.server.auth import AUTHENTICATOR, principal_of
from callwright.server.limits import SlidingWindow
from callwright.server.scheduled import SCHEDULED

E164 = re.compile(r"\+[1-9][0-9]{6,14}")

# Refused unless the operator removes them by code: numbers that bill the caller per minute.
PREMIUM_PREFIXES: tuple[str, ...] = (
    "+1900",  # North America: premium-rate services
    "+1976",  # North America: premium-rate (legacy 976 exchanges)
    "+4490",  # UK: 090 premium-rate
    "+4491",  # UK: 091 premium-rate
    "+4498",  # UK: 098 sexual entertainment services
    "+4409",  # UK: 09 written with the trunk zero kept (+44 09...)
    "+979",  # International Premium Rate Service (ITU)
    "+881",  # Global Mobile Satellite System
    "+882",  # International Networks (shared-cost and premium ranges)
    "+883",  # International Networks
    "+870",  # Inmarsat
    "+3389",  # France: 089 premium-rate
    "+49900",  # Germany: 0900 premium-rate
    "+34803",  # Spain: 803, 806, 807 premium-rate
    "+34806",
    "+34807",
    "+3989",  # Italy: 89x premium-rate
    "+61190",  # Australia: 190 premium-rate
)


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """Which numbers outbound calls may go to."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = PREMIUM_PREFIXES

    @classmethod
    def from_settings(cls, settings: SecuritySettings) -> DestinationPolicy:
        return cls(allow=settings.outbound_allow, deny=PREMIUM_PREFIXES + settings.outbound_deny)

    def refusal(self, number: str) -> str | None:
        """Why `number` may not be called, or None if it may."""
        if not E164.fullmatch(number):
            return "the destination must be an E.164 number (+ and 7 to 15 digits)"
        if any(number.startswith(prefix) for prefix in self.deny):
            return "the destination is on the deny-list (premium-rate or blocked prefix)"
        if _costly(number):
            return "the destination is a premium-rate, shared-cost or personal number"
        if self.allow and not any(number.startswith(prefix) for prefix in self.allow):
            return "the destination is not on the allow-list"
        return None


# What the numbering plans say bills the caller, in every country libphonenumber knows: the
# prefix list above covers only some, and personal numbers (UK 070) are a known fraud route.
_COSTLY_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    }
)


def _costly(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False  # the E.164 check above already said what a number must look like
    return phonenumbers.number_type(parsed) in _COSTLY_TYPES


class OutboundGate:
    """The destination policy, the per-credential hourly limit of one server, and the pace of
    held-back calls (seconds between two, deployment-wide)."""

    def __init__(self, settings: SecuritySettings) -> None:
        self.policy = DestinationPolicy.from_settings(settings)
        self.limits = SlidingWindow(settings.outbound_per_hour, LIMIT_WINDOW_S)
        self.scheduled_pace_s = 60.0 / settings.scheduled_per_minute


OUTBOUND = web.AppKey("outbound", OutboundGate)
LIMIT_WINDOW_S = 3600.0
# What a credential's hourly limit counts in the audit log: calls it placed, calls it asked
# for that calling hours held back (counted when asked for, or they would all go out on top of
# the limit when the window opens), and dials that failed (the platform may have placed one
# whose answer never came; this worker's own window counts every attempt too).
COUNTED_ACTIONS = ("outbound.place", "outbound.scheduled", "outbound.failed")


async def calls_in_window(app: web.Application, kind: str, name: str) -> int:
    """The outbound calls that count against this credential's limit now (every worker's).

    Besides the audit log's entries, a held-back call that went out more than a window after
    it was asked for counts again when it goes out: its request no longer does.
    """
    since = time.time() - LIMIT_WINDOW_S
    access = app[AUTHENTICATOR].access
    used = await access.count_audit(COUNTED_ACTIONS, name, kind, since=since)
    return used + await app[SCHEDULED].placed_for(f"{kind}:{name}", since, LIMIT_WINDOW_S)


async def held_back_limit(app: web.Application, call: ScheduledCall) -> str | None:
    """Why a held-back call may not go out yet for the credential that asked for it, or None.

    Asked for within the window, its request still counts: it goes out on that. Asked for
    longer ago, it counts again now, so it waits while the credential is at its limit.
    """
    if call.created_by is None or time.time() - call.created_at < LIMIT_WINDOW_S:
        return None
    kind, _, name = call.created_by.partition(":")
    if await calls_in_window(app, kind, name) < app[OUTBOUND].limits.limit:
        return None
    return f"the hourly outbound limit of {call.created_by} is reached"


def outbound_error(status: int, code: str, message: str, **extra: Any) -> web.HTTPError:
    """A JSON error for the outbound API; `extra` adds fields (e.g. `retry_at`)."""
    error_class: dict[int, type[web.HTTPError]] = {
        400: web.HTTPBadRequest,
        403: web.HTTPForbidden,
        409: web.HTTPConflict,
        429: web.HTTPTooManyRequests,
    }
    body = {"error": code, "message": message} | extra
    return error_class[status](text=json.dumps(body), content_type="application/json")


async def admit_outbound(request: web.Request, to: str) -> None:
    """Raises 403 for a refused destination, 429 past the credential's hourly limit.

    The limit counts this credential's calls (`calls_in_window`, every worker's, held-back
    ones included), plus this worker's own window, which also covers requests racing each
    other here.
    """
    gate = request.app[OUTBOUND]
    refusal = gate.policy.refusal(to)
    if refusal is not None:
        await record(request, "outbound.refused", to, reason=refusal)
        raise outbound_error(403, "destination_refused", refusal)
    principal = principal_of(request)
    name, kind = (principal.name, principal.kind) if principal else ("anonymous", "anonymous")
    placed = await calls_in_window(request.app, kind, name)
    who = f"{kind}:{name}"
    if placed >= gate.limits.limit or gate.limits.retry_after(who) is not None:
        await record(request, "outbound.refused", to, reason="rate limit")
        raise outbound_error(429, "rate_limited", "too many outbound calls; try again later")
    gate.limits.add(who)
