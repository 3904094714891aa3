"""What the campaign runner dials through, as the server gives it: the dialer, the compliance
gate and the hourly limit of who asked for a held-back call, and what each of them answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from callwright.campaigns.scheduled import ScheduledCall


@dataclass(frozen=True, slots=True)
class GateRefusal:
    """Why a contact may not be dialled now.

    Attributes:
        code: "do_not_call", "outside_calling_hours", "no_consent", "destination_refused".
        reason: in words.
        retry_at: epoch seconds when the call may be placed (calling hours), else None.
    """

    code: str
    reason: str
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class Dialled:
    call_id: str
    call_sid: str


class DialRefused(Exception):
    """The platform clearly placed no call (it refused the request, or the request never
    left): the contact may be dialled again. Any other failure of a dial may have placed one."""


class Dialer(Protocol):
    """Places one call (the server's Twilio REST path) and says which call it became.

    Raises `DialRefused` when no call was placed; any other exception leaves that unknown.
    """

    async def dial(
        self, to: str, from_: str, parameters: dict[str, str], purpose: str | None
    ) -> Dialled: ...


# The compliance checks before a dial: (number, consent purpose or None for any).
Gate = Callable[[str, str | None], Awaitable[GateRefusal | None]]


class HeldBackLimit(Protocol):
    """The hourly outbound limit of whoever asked for a held-back call (`server/outbound.py`).

    A call it admits may hold a slot of that limit, taken for it across every worker; the slot
    is given back if the call does not go out after all, and kept if it did (or may have).
    """

    async def admit(self, call: ScheduledCall) -> str | None:
        """Why the call may not go out yet, or None: it may (holding a slot if it counts)."""
        ...

    async def release(self, call: ScheduledCall) -> None:
        """The call `admit` let through placed no call: its slot, if it took one, is free."""
        ...


class NoHeldBackLimit:
    """No limit on held-back calls (a runner without a server: tests, simulations)."""

    async def admit(self, call: ScheduledCall) -> str | None:
        return None

    async def release(self, call: ScheduledCall) -> None:
        return None
