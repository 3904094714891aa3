"""Who may be called: the outbound destination policy and the per-credential rate limit.

Numbers must be E.164 (`+` and 7 to 15 digits). Premium-rate and other costly prefixes are
refused by default (`PREMIUM_PREFIXES`, and whatever libphonenumber's numbering plans classify
as premium-rate, shared-cost or personal; documented in docs/security.md); operators add their
own with `CALLWRIGHT_OUTBOUND_DENY`, or allow only some prefixes with `CALLWRIGHT_OUTBOUND_ALLOW`.
A deny always wins over an allow. The hourly limit of each credential holds for the whole
deployment (`compliance/outbound_limit.py`).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, cast

import phonenumbers
from aiohttp import web

from callwright.campaigns.scheduled import ScheduledCall
from callwright.compliance.outbound_limit import WINDOW_S, OutboundSlots
from callwright.compliance.tables import SqlStore
from callwright.config import SecuritySettings
from callwright.server.audit import record
from callwright.server.auth import principal_of
from callwright.server.limits import SlidingWindow
from callwright.store.base import CallStore

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
    """The destination policy, the per-credential hourly limit (every worker's calls, and this
    worker's own window of requests), and the pace of held-back calls (seconds between two,
    deployment-wide)."""

    def __init__(self, settings: SecuritySettings, store: CallStore) -> None:
        self.policy = DestinationPolicy.from_settings(settings)
        self.limits = SlidingWindow(settings.outbound_per_hour, LIMIT_WINDOW_S)
        self.slots = OutboundSlots(cast(SqlStore, store))
        self.scheduled_pace_s = 60.0 / settings.scheduled_per_minute


OUTBOUND = web.AppKey("outbound", OutboundGate)
LIMIT_WINDOW_S = WINDOW_S


class HeldBackLimits:
    """The hourly limit of the credential that asked for a held-back call, for the campaign
    runner (a `HeldBackLimit`).

    Asked for within the window, the call still holds the slot its request took: it goes out
    on that. Asked for longer ago, it takes a slot again when it goes out (named after the call,
    so it can give it back), and waits while the credential is at its limit.
    """

    def __init__(self, gate: OutboundGate) -> None:
        self._gate = gate

    async def admit(self, call: ScheduledCall) -> str | None:
        """Why the call may not go out yet, or None (it may, holding a slot if it counts)."""
        if call.created_by is None or time.time() - call.created_at < LIMIT_WINDOW_S:
            return None
        slot = await self._gate.slots.take(call.created_by, self._gate.limits.limit, _slot_of(call))
        if slot is not None:
            return None
        return f"the hourly outbound limit of {call.created_by} is reached"

    async def release(self, call: ScheduledCall) -> None:
        """The call placed no call after all: the slot it took, if any, is free again."""
        await self._gate.slots.release(_slot_of(call))


def _slot_of(call: ScheduledCall) -> str:
    return f"held-back:{call.scheduled_id}"


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


async def admit_outbound(request: web.Request, to: str) -> str:
    """Raises 403 for a refused destination, 429 past the credential's hourly limit; else
    returns the slot of that limit the call holds (`release_outbound` gives it back when the
    request places no call and holds none back).

    The limit counts the credential's calls on every worker (`OutboundSlots`: the count and
    the slot are one step, so requests racing each other on several workers cannot all take
    the last one), and this worker's own window counts every request it let through.
    """
    gate = request.app[OUTBOUND]
    refusal = gate.policy.refusal(to)
    if refusal is not None:
        await record(request, "outbound.refused", to, reason=refusal)
        raise outbound_error(403, "destination_refused", refusal)
    principal = principal_of(request)
    name, kind = (principal.name, principal.kind) if principal else ("anonymous", "anonymous")
    who = f"{kind}:{name}"
    slot = None
    if gate.limits.retry_after(who) is None:
        slot = await gate.slots.take(who, gate.limits.limit)
    if slot is None:
        await record(request, "outbound.refused", to, reason="rate limit")
        raise outbound_error(429, "rate_limited", "too many outbound calls; try again later")
    gate.limits.add(who)
    return slot


async def release_outbound(request: web.Request, slot: str) -> None:
    """Gives back the slot of a request refused before it placed a call or held one back."""
    await request.app[OUTBOUND].slots.release(slot)
