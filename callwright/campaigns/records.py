"""What a campaign is and where it stands: its plan (who calls whom, for what, how fast), its
state and each contact's, as `campaigns/store.py` reads them from the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CampaignStatus = Literal["scheduled", "running", "paused", "cancelled", "finished"]
ContactStatus = Literal["pending", "dialing", "in_call", "done", "failed", "skipped", "unknown"]


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    """What a campaign is: who calls whom, for what, and how fast.

    Attributes:
        name: for people.
        from_number: the caller id (E.164).
        purpose: the consent purpose its calls need ("appointment_reminders").
        concurrency: calls at once.
        pace_s: at least this long between two dials.
        max_attempts: dials per contact (busy and no-answer are retried).
        retry_backoff_s: wait before the second attempt; doubled for each next one.
        starts_at: epoch seconds; no dial before.
        parameters: passed to every call (per-contact parameters win).
        agent: the name of the configured agent that takes its calls (None: the server's).
    """

    name: str
    from_number: str
    purpose: str
    concurrency: int = 2
    pace_s: float = 2.0
    max_attempts: int = 3
    retry_backoff_s: float = 900.0
    starts_at: float = 0.0
    parameters: dict[str, str] = field(default_factory=dict)
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    plan: CampaignPlan
    status: CampaignStatus
    created_at: float
    last_dial_at: float | None


@dataclass(frozen=True, slots=True)
class ContactState:
    campaign_id: str
    contact_id: str
    number: str
    parameters: dict[str, str]
    status: ContactStatus
    attempts: int
    next_at: float
    call_id: str | None
    call_sid: str | None
    outcome: str | None
    detail: str | None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}
