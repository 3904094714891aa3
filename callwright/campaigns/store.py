"""Campaigns and their contacts in the call store's database, shared by every worker.

A contact moves pending → dialing (claimed by one worker, atomically) → in_call (the platform
took the call) → done / failed / skipped; busy and no-answer go back to pending with a later
`next_at` until the attempts run out. A contact left in `dialing` by a worker that died is not
dialled again (the dial may have gone out): it becomes `unknown` for an operator to look at.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from callwright.campaigns.contacts import Contact
from callwright.campaigns.records import (
    Campaign,
    CampaignPlan,
    CampaignStatus,
    ContactState,
    ContactStatus,
)
from callwright.compliance.tables import SchemaTables

OPEN_CONTACT = ("pending", "dialing", "in_call")
# What `silent_calls` writes on a contact it marks unknown: a final status that comes after
# all (a transferred call can outlast the agent's longest) still settles it.
SILENT_CALL_DETAIL = "no final call status was heard"
INSERT_BATCH = 50


_CONTACT_COLUMNS = (
    "campaign_id, contact_id, number, parameters_json, status, attempts, next_at, call_id,"
    " call_sid, outcome, detail"
)

# A campaign's agent is in a table of its own (added after the first release of the schema).
_SELECT_CAMPAIGNS = (
    "SELECT c.*, a.agent AS agent FROM campaigns c"
    " LEFT JOIN campaign_agents a ON a.campaign_id = c.campaign_id"
)


# A pending contact becomes `dialing` only while its campaign runs with fewer contacts
# `dialing` or `in_call` than its concurrency, and `pace_s` has passed since its last dial (by
# the runner's clock, reckoned as the runner's own early look does: `now - last_dial_at`).
_CLAIM_WITHIN_LIMITS = (
    "UPDATE campaign_contacts SET status = 'dialing', claimed_by = ?,"
    " attempts = attempts + 1, updated_at = ?"
    " WHERE campaign_id = ? AND contact_id = ? AND status = 'pending'"
    " AND attempts = ? AND next_at = ?"
    " AND EXISTS (SELECT 1 FROM campaigns c WHERE c.campaign_id = ? AND c.status = 'running'"
    " AND (c.pace_s <= 0 OR c.last_dial_at IS NULL OR ? - c.last_dial_at >= c.pace_s)"
    " AND c.concurrency > (SELECT COUNT(*) FROM campaign_contacts a"
    " WHERE a.campaign_id = ? AND a.status IN ('dialing', 'in_call')))"
)


def _contact(row: dict[str, Any]) -> ContactState:
    params = json.loads(row.pop("parameters_json"))
    return ContactState(parameters=params, **row)


class CampaignStore(SchemaTables):
    """Campaign tables in the call store's database."""

    schema_package = "callwright.campaigns"

    async def create(
        self, plan: CampaignPlan, contacts: list[Contact], status: CampaignStatus = "running"
    ) -> str:
        await self._ensure()
        campaign_id = uuid.uuid4().hex[:16]
        now = time.time()
        await self._store.sql_execute(
            "INSERT INTO campaigns (campaign_id, name, from_number, purpose, status, concurrency,"
            " pace_s, max_attempts, retry_backoff_s, starts_at, parameters_json, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                campaign_id, plan.name, plan.from_number, plan.purpose, status,
                plan.concurrency, plan.pace_s, plan.max_attempts, plan.retry_backoff_s,
                plan.starts_at, json.dumps(plan.parameters), now,
            ),
        )  # fmt: skip
        if plan.agent is not None:
            await self._store.sql_execute(
                "INSERT INTO campaign_agents (campaign_id, agent) VALUES (?, ?)",
                (campaign_id, plan.agent),
            )
        for start in range(0, len(contacts), INSERT_BATCH):
            batch = contacts[start : start + INSERT_BATCH]
            values = ", ".join("(?, ?, ?, ?, 'pending', 0, ?, ?)" for _ in batch)
            params: list[Any] = []
            for index, contact in enumerate(batch, start=start):
                params += [campaign_id, f"c{index:06d}", contact.number,
                           json.dumps(contact.parameters), plan.starts_at, now]  # fmt: skip
            await self._store.sql_execute(
                "INSERT INTO campaign_contacts (campaign_id, contact_id, number, parameters_json,"
                f" status, attempts, next_at, updated_at) VALUES {values}",
                tuple(params),
            )
        return campaign_id

    async def get(self, campaign_id: str) -> Campaign | None:
        await self._ensure()
        rows = await self._store.sql_fetch(
            f"{_SELECT_CAMPAIGNS} WHERE c.campaign_id = ?", (campaign_id,)
        )
        return _campaign(rows[0]) if rows else None

    async def all(self, status: str | None = None) -> list[Campaign]:
        await self._ensure()
        sql, params = _SELECT_CAMPAIGNS, tuple[str, ...]()
        if status is not None:
            sql, params = sql + " WHERE c.status = ?", (status,)
        rows = await self._store.sql_fetch(sql + " ORDER BY c.created_at DESC", params)
        return [_campaign(r) for r in rows]

    async def set_status(
        self, campaign_id: str, status: CampaignStatus, only_from: tuple[str, ...]
    ) -> bool:
        """Moves a campaign to `status` if it is in one of `only_from`; True if it moved."""
        await self._ensure()
        marks = ", ".join("?" for _ in only_from)
        changed = await self._store.sql_execute(
            f"UPDATE campaigns SET status = ? WHERE campaign_id = ? AND status IN ({marks})",
            (status, campaign_id, *only_from),
        )
        return changed > 0

    async def cancel_pending(self, campaign_id: str) -> int:
        """A cancelled campaign's contacts not yet dialled are skipped; how many."""
        return await self._store.sql_execute(
            "UPDATE campaign_contacts SET status = 'skipped', outcome = 'cancelled', updated_at = ?"
            " WHERE campaign_id = ? AND status = 'pending'",
            (time.time(), campaign_id),
        )

    async def contacts(self, campaign_id: str) -> list[ContactState]:
        await self._ensure()
        rows = await self._store.sql_fetch(
            f"SELECT {_CONTACT_COLUMNS} FROM campaign_contacts WHERE campaign_id = ?"
            " ORDER BY contact_id",
            (campaign_id,),
        )
        return [_contact(r) for r in rows]

    async def progress(self, campaign_id: str) -> dict[str, int]:
        await self._ensure()
        rows = await self._store.sql_fetch(
            "SELECT status, COUNT(*) AS n FROM campaign_contacts WHERE campaign_id = ?"
            " GROUP BY status",
            (campaign_id,),
        )
        return {r["status"]: int(r["n"]) for r in rows}

    async def due(self, campaign_id: str, now: float, limit: int) -> list[ContactState]:
        rows = await self._store.sql_fetch(
            f"SELECT {_CONTACT_COLUMNS} FROM campaign_contacts WHERE campaign_id = ?"
            " AND status = 'pending' AND next_at <= ? ORDER BY next_at, contact_id LIMIT ?",
            (campaign_id, now, limit),
        )
        return [_contact(r) for r in rows]

    async def claim(self, contact: ContactState, worker_id: str, now: float) -> bool:
        """Takes a pending contact for one dial if its running campaign has a free line and its
        pace allows a dial at `now` (the runner's clock); True if taken.

        The check and the claim are one transaction under the campaign's lock, shared by every
        worker on the store, so two workers counting at the same moment cannot both take the
        last line or the same pace slot. Only one worker ever wins a contact, and only as `due`
        listed it: one another worker tried meanwhile and put back for later (a busy line's
        retry wait) has other attempts and next_at, and is not redialled early.
        """
        cid = contact.campaign_id
        claimed, *_ = await self._store.sql_transaction(
            f"campaign:{cid}",
            [
                (_CLAIM_WITHIN_LIMITS, (worker_id, time.time(), cid, contact.contact_id,
                                        contact.attempts, contact.next_at, cid, now, cid)),
                ("UPDATE campaigns SET last_dial_at = ? WHERE campaign_id = ?", (now, cid)),
            ],
        )  # fmt: skip
        return claimed > 0

    async def update(
        self, campaign_id: str, contact_id: str, status: ContactStatus, **values: Any
    ) -> None:
        sets = ["status = ?", "updated_at = ?"]
        params: list[Any] = [status, time.time()]
        for column in ("next_at", "call_id", "call_sid", "outcome", "detail", "attempts"):
            if column in values:
                sets.append(f"{column} = ?")
                params.append(values[column])
        await self._store.sql_execute(
            f"UPDATE campaign_contacts SET {', '.join(sets)}"
            " WHERE campaign_id = ? AND contact_id = ?",
            (*params, campaign_id, contact_id),
        )

    async def by_call_sid(self, call_sid: str) -> ContactState | None:
        await self._ensure()
        rows = await self._store.sql_fetch(
            f"SELECT {_CONTACT_COLUMNS} FROM campaign_contacts WHERE call_sid = ?", (call_sid,)
        )
        return _contact(rows[0]) if rows else None

    async def active(self, campaign_id: str) -> int:
        rows = await self._store.sql_fetch(
            "SELECT COUNT(*) AS n FROM campaign_contacts WHERE campaign_id = ?"
            " AND status IN ('dialing', 'in_call')",
            (campaign_id,),
        )
        return int(rows[0]["n"])

    async def open_left(self, campaign_id: str) -> int:
        rows = await self._store.sql_fetch(
            "SELECT COUNT(*) AS n FROM campaign_contacts WHERE campaign_id = ?"
            " AND status IN ('pending', 'dialing', 'in_call')",
            (campaign_id,),
        )
        return int(rows[0]["n"])

    async def orphaned_dials(self, stale_s: float = 120.0) -> int:
        """Contacts `dialing` for longer than a dial can take become `unknown`; how many.

        Their worker died between the claim and knowing whether the platform took the call,
        so the call may have gone out: they are never dialled again automatically.
        """
        await self._ensure()
        return await self._store.sql_execute(
            "UPDATE campaign_contacts SET status = 'unknown', updated_at = ?, detail = ?"
            " WHERE status = 'dialing' AND updated_at < ?",
            (time.time(), "the worker stopped while dialling; not dialled again",
             time.time() - stale_s),
        )  # fmt: skip

    async def silent_calls(self, stale_s: float) -> int:
        """Contacts `in_call` with no final status for `stale_s` become `unknown`; how many.

        Their final status callback was lost (a worker down, a refused signature, or one that
        came before the dial had stored the call's id): each would hold one of its campaign's
        lines for good, and the campaign would never finish.
        """
        await self._ensure()
        return await self._store.sql_execute(
            "UPDATE campaign_contacts SET status = 'unknown', updated_at = ?, detail = ?"
            " WHERE status = 'in_call' AND updated_at < ?",
            (time.time(), SILENT_CALL_DETAIL, time.time() - stale_s),
        )


def _campaign(row: dict[str, Any]) -> Campaign:
    plan = CampaignPlan(
        name=row["name"],
        from_number=row["from_number"],
        purpose=row["purpose"],
        concurrency=int(row["concurrency"]),
        pace_s=float(row["pace_s"]),
        max_attempts=int(row["max_attempts"]),
        retry_backoff_s=float(row["retry_backoff_s"]),
        starts_at=float(row["starts_at"]),
        parameters=json.loads(row["parameters_json"]),
        agent=row.get("agent"),
    )
    return Campaign(row["campaign_id"], plan, row["status"], row["created_at"], row["last_dial_at"])
