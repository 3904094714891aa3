"""The campaign runner: places a campaign's calls with a concurrency limit and pacing, retries
busy and no-answer with backoff, and records each contact's outcome.

Every decision is in the store, so any worker can run it and a restart calls no one twice: a
contact is claimed before it is dialled, in one transaction with the check of its campaign's
concurrency and pace (`CampaignStore.claim`), so both limits hold for all the workers on the
store together, not for each; one left half-dialled by a dead worker is never dialled again
(`CampaignStore.orphaned_dials`, swept once a minute by every worker, for dials older than any
live worker's can be). The compliance checks (do-not-call, calling hours, consent) run on every
dial through the `gate`; a call outside calling hours is rescheduled to the next permitted
moment, not dropped. Single calls held back by calling hours go out one at a time at the
deployment's pace (`ScheduledCalls.take_dial_turn`) and within the hourly limit of whoever
asked for them (`held_back_limit`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable

from callwright.campaigns.dialing import (
    Dialer,
    Dialled,
    DialRefused,
    Gate,
    HeldBackLimit,
    NoHeldBackLimit,
)
from callwright.campaigns.records import Campaign, ContactState
from callwright.campaigns.scheduled import ScheduledCall, ScheduledCalls
from callwright.campaigns.store import SILENT_CALL_DETAIL, CampaignStore

log = logging.getLogger(__name__)

# Parameters the call itself sets (agent: only the campaign's plan picks it).
CALL_PARAMETERS = frozenset(
    {"agent", "direction", "caller", "to", "from", "call_sid", "stream_sid", "campaign_id"}
)

RETRY_STATUSES = ("busy", "no-answer")
FAILED_STATUSES = ("failed", "canceled")


SCHEDULED_PER_TICK = 5
LIMITED_RETRY_S = 60.0  # a held-back call its requester's limit stops is looked at again then
# How often contacts and held-back calls stuck mid-dial or in a call with no final status are
# looked for.
SWEEP_EVERY_S = 60.0
# A dial (the platform's answer to "place this call") is given up on after this long, so a live
# worker never has a contact `dialing` for as long as ORPHANED_AFTER_S: the sweep takes only
# what a worker that stopped left behind.
DIAL_DEADLINE_S = 30.0
ORPHANED_AFTER_S = 120.0


class CampaignRunner:
    """Advances every running campaign, one tick at a time.

    Args:
        store: the campaign tables.
        dialer: places calls.
        gate: the compliance checks before each dial.
        clock: epoch seconds (injected in tests and simulations).
        worker_id: who claims contacts.
        tick_s: how often `run` ticks.
        scheduled: single calls held back by calling hours, placed here when due.
        silent_after_s: a contact in a call this long without its final status becomes
            `unknown` (its callback was lost), freeing the line (longer than any call).
        scheduled_pace_s: at least this long between two held-back calls, across every
            worker on the store (`ScheduledCalls.take_dial_turn`).
        held_back_limit: the hourly limit of whoever asked for a held-back call (None: none).
        dial_deadline_s: a dial not answered by then counts as failed (well under
            ORPHANED_AFTER_S, the age at which a contact still `dialing` is taken for a dead
            worker's).
    """

    def __init__(
        self,
        store: CampaignStore,
        dialer: Dialer,
        gate: Gate,
        clock: Callable[[], float],
        worker_id: str,
        tick_s: float = 1.0,
        scheduled: ScheduledCalls | None = None,
        silent_after_s: float = 2 * 3600.0,
        scheduled_pace_s: float = 6.0,
        held_back_limit: HeldBackLimit | None = None,
        dial_deadline_s: float = DIAL_DEADLINE_S,
    ) -> None:
        self.store = store
        self.scheduled = scheduled
        self._dialer = dialer
        self._gate = gate
        self._clock = clock
        self._worker_id = worker_id
        self._tick_s = tick_s
        self._silent_after_s = silent_after_s
        self._scheduled_pace_s = scheduled_pace_s
        self._held_back_limit = held_back_limit or NoHeldBackLimit()
        self._dial_deadline_s = dial_deadline_s
        self._swept_at = -math.inf  # monotonic time of the last sweep (the first tick sweeps)

    async def run(self) -> None:
        """Ticks until cancelled (a failing tick is logged, not fatal)."""
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("campaign tick failed")
            await asyncio.sleep(self._tick_s)

    async def tick(self) -> None:
        if time.monotonic() - self._swept_at >= SWEEP_EVERY_S:
            self._swept_at = time.monotonic()
            await self._sweep()
        for campaign in await self.store.all("running"):
            await self._advance(campaign)
        if self.scheduled is not None:
            for call in await self.scheduled.due(self._clock(), SCHEDULED_PER_TICK):
                if not await self.scheduled.claim(call.scheduled_id, self._worker_id, call.due_at):
                    continue
                if not await self._dial_scheduled(self.scheduled, call):
                    break  # not this worker's turn: the others wait for the next tick too

    async def _sweep(self) -> None:
        """What stopped workers left behind, on every worker and not only at its start (one
        that died while the others ran would otherwise hold its lines, and its campaign would
        never finish): contacts and held-back calls left `dialing` (this worker has no dial in
        progress between ticks, and another's is over within the dial deadline), and contacts
        whose call's final status never came."""
        orphans = await self.store.orphaned_dials(ORPHANED_AFTER_S)
        if self.scheduled is not None:
            orphans += await self.scheduled.orphaned_dials(ORPHANED_AFTER_S)
        if orphans:
            log.warning("%d campaign contacts or held-back calls were left mid-dial by a worker"
                        " that stopped; marked unknown", orphans)  # fmt: skip
        silent = await self.store.silent_calls(self._silent_after_s)
        if silent:
            log.warning("%d campaign contacts had no final call status; marked unknown", silent)

    async def _place(
        self, to: str, from_: str, parameters: dict[str, str], purpose: str | None
    ) -> Dialled:
        """The dial, given up on after the deadline (raises TimeoutError then)."""
        async with asyncio.timeout(self._dial_deadline_s):
            return await self._dialer.dial(to, from_, parameters, purpose)

    async def _dial_scheduled(self, scheduled: ScheduledCalls, call: ScheduledCall) -> bool:
        """A held-back single call: checked again, then dialled, held back again or refused.

        Returns False when the deployment's pace leaves no turn now (the call is put back in
        line as it was), True otherwise.
        """
        key = call.scheduled_id
        refusal = await self._gate(call.to_number, call.purpose)
        if refusal is not None and refusal.retry_at is not None:
            await scheduled.update(key, "scheduled", due_at=refusal.retry_at,
                                   detail=refusal.reason)  # fmt: skip
            return True
        if refusal is not None:
            await scheduled.update(key, "refused", outcome=refusal.code, detail=refusal.reason)
            return True
        limit = self._held_back_limit
        limited = await limit.admit(call)
        if limited is not None:
            await scheduled.update(key, "scheduled", due_at=self._clock() + LIMITED_RETRY_S,
                                   detail=limited)  # fmt: skip
            return True
        # Last, right before the dial: a turn is spent only on a call that goes out.
        if not await scheduled.take_dial_turn(self._scheduled_pace_s):
            await limit.release(call)
            await scheduled.update(key, "scheduled")  # same due_at: first in line next time
            return False
        parameters = call.parameters | {"scheduled_id": key}
        try:
            placed = await self._place(call.to_number, call.from_number, parameters,
                                       call.purpose)  # fmt: skip
        except DialRefused as exc:
            log.warning("scheduled call %s: dial refused: %s", key, exc)
            await limit.release(call)  # no call: it does not count (an unclear dial does)
            await scheduled.update(key, "failed", outcome="dial_error", detail=str(exc))
            return True
        except Exception as exc:
            log.warning("scheduled call %s: dial unclear, may have gone out: %r", key, exc)
            await scheduled.update(key, "unknown", outcome="dial_error", detail=_unclear(exc))
            return True
        await scheduled.update(key, "placed", outcome="placed", call_id=placed.call_id,
                               call_sid=placed.call_sid)  # fmt: skip
        return True

    async def _advance(self, campaign: Campaign) -> None:
        store, plan, cid = self.store, campaign.plan, campaign.campaign_id
        now = self._clock()
        if now < plan.starts_at:
            return
        if await store.open_left(cid) == 0:
            await store.set_status(cid, "finished", ("running",))
            return
        # An early look, so a full campaign lists no contacts: the claim checks both limits
        # again, atomically, since another worker may have dialled since.
        free = plan.concurrency - await store.active(cid)
        if free <= 0:
            return
        if plan.pace_s > 0:
            if campaign.last_dial_at is not None and now - campaign.last_dial_at < plan.pace_s:
                return
            free = 1  # pacing: one dial per `pace_s`
        for contact in await store.due(cid, now, free):
            if await store.claim(contact, self._worker_id, now):
                await self._dial(campaign, contact)

    async def _dial(self, campaign: Campaign, contact: ContactState) -> None:
        store, plan = self.store, campaign.plan
        cid, key = campaign.campaign_id, contact.contact_id
        refusal = await self._gate(contact.number, plan.purpose)
        if refusal is not None and refusal.retry_at is not None:
            # Not an attempt: the same contact, at the next permitted moment.
            await store.update(cid, key, "pending", next_at=refusal.retry_at,
                               attempts=contact.attempts, detail=refusal.reason)  # fmt: skip
            return
        if refusal is not None:
            await store.update(cid, key, "skipped", outcome=refusal.code, detail=refusal.reason)
            return
        # A contact list is data from outside: its columns tell the agent about the person,
        # never which agent answers, which way the call goes or whom it is to and from.
        about = {k: v for k, v in contact.parameters.items() if k not in CALL_PARAMETERS}
        parameters = plan.parameters | about | {"campaign_id": cid}
        if plan.agent is not None:
            parameters["agent"] = plan.agent  # the campaign's choice, not a contact's
        try:
            placed = await self._place(contact.number, plan.from_number, parameters,
                                       plan.purpose)  # fmt: skip
        except DialRefused as exc:  # no call was placed: retried like a failed call
            log.warning("campaign %s contact %s: dial refused: %s", cid, key, exc)
            await self._retry_or_fail(campaign, contact.attempts + 1, key, "dial_error", str(exc))
            return
        except Exception as exc:
            # A timeout or a dropped connection: the platform may have placed the call, so
            # dialling again could ring the same person twice. An operator decides.
            log.warning("campaign %s contact %s: dial unclear, may have gone out: %r",
                        cid, key, exc)  # fmt: skip
            await store.update(cid, key, "unknown", outcome="dial_error", detail=_unclear(exc))
            return
        await store.update(cid, key, "in_call", call_id=placed.call_id, call_sid=placed.call_sid)

    async def _retry_or_fail(
        self, campaign: Campaign, attempts: int, key: str, outcome: str, detail: str
    ) -> None:
        plan = campaign.plan
        if attempts < plan.max_attempts:
            wait = plan.retry_backoff_s * 2 ** (attempts - 1)
            await self.store.update(campaign.campaign_id, key, "pending", outcome=outcome,
                                    next_at=self._clock() + wait, detail=detail)  # fmt: skip
        else:
            await self.store.update(campaign.campaign_id, key, "failed", outcome=outcome,
                                    detail=detail)  # fmt: skip

    async def on_call_status(self, call_sid: str, status: str) -> None:
        """A status callback of a campaign's call: its contact's outcome, or a retry."""
        contact = await self.store.by_call_sid(call_sid)
        late = contact is not None and contact.status == "unknown"
        if contact is None or (contact.status != "in_call" and not late):
            return
        if late and contact.detail != SILENT_CALL_DETAIL:
            return  # unknown for another reason (its worker died while dialling)
        campaign = await self.store.get(contact.campaign_id)
        if campaign is None:
            return
        cid, key = contact.campaign_id, contact.contact_id
        if status in RETRY_STATUSES:
            await self._retry_or_fail(campaign, contact.attempts, key, status.replace("-", "_"),
                                      f"attempt {contact.attempts}: {status}")  # fmt: skip
        elif status.startswith("machine:"):
            # An answering machine: the voicemail was left after the beep, or the call hung up.
            outcome = "voicemail" if status == "machine:voicemail" else "machine_no_message"
            await self.store.update(cid, key, "done", outcome=outcome)
        elif status == "completed":
            await self.store.update(cid, key, "done", outcome="completed")
        elif status in FAILED_STATUSES:
            await self._retry_or_fail(campaign, contact.attempts, key, status, status)


def _unclear(exc: BaseException) -> str:
    what = str(exc) or type(exc).__name__
    return f"the dial got no clear answer and may have gone out; not dialled again ({what})"
