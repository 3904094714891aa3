"""The hourly outbound limit of each credential, kept in the store for every worker.

`CALLWRIGHT_OUTBOUND_PER_HOUR` caps the calls one credential (an operator, an API key) has
placed in any hour, on every worker of the deployment together. Each call that counts holds a
slot in `outbound_slots`, taken before the call is placed or held back: one transaction, under
the credential's lock, counts its slots of the last hour and takes one only below the limit, so
workers counting at the same moment cannot both take the last one (`SqlStore.sql_transaction`).
A request that ends before any call (a compliance refusal, a bad body) gives its slot back; the
slot of a worker that died mid-dial stays taken, since its call may have gone out.
"""

from __future__ import annotations

import time
import uuid

from callwright.compliance.tables import ComplianceTables

WINDOW_S = 3600.0

# A slot for `holder` only while it holds fewer than the limit taken within the window. An id
# already taken is not taken twice (a held-back call's slot is named after the call).
_TAKE_BELOW_LIMIT = (
    "INSERT INTO outbound_slots (slot_id, holder, taken_at) SELECT ?, ?, ?"
    " WHERE (SELECT COUNT(*) FROM outbound_slots WHERE holder = ? AND taken_at >= ?) < ?"
    " ON CONFLICT (slot_id) DO NOTHING"
)


class OutboundSlots(ComplianceTables):
    """The slots of the hourly outbound limit in the call store's database."""

    async def take(self, holder: str, limit: int, slot_id: str | None = None) -> str | None:
        """Takes a slot for a call of `holder` if it holds fewer than `limit` taken in the
        last hour; the slot's id, or None at the limit.

        Args:
            holder: who the call counts against ("api_key:0123abcd", "user:dana").
            limit: slots `holder` may hold within an hour.
            slot_id: the slot's name (a held-back call's, so that the call can give it back);
                a new one by default.
        """
        await self._ensure()
        slot_id = slot_id or uuid.uuid4().hex
        now = time.time()
        counts = await self._store.sql_transaction(
            f"outbound-limit:{holder}",
            [
                (_TAKE_BELOW_LIMIT, (slot_id, holder, now, holder, now - WINDOW_S, limit)),
                # Slots out of every window count no more, whoever holds them.
                ("DELETE FROM outbound_slots WHERE taken_at < ?", (now - WINDOW_S,)),
            ],
        )
        return slot_id if counts[0] else None

    async def release(self, slot_id: str) -> None:
        """Gives a slot back: its request placed no call and held none back."""
        await self._ensure()
        await self._store.sql_execute("DELETE FROM outbound_slots WHERE slot_id = ?", (slot_id,))

    async def held(self, holder: str) -> int:
        """The slots `holder` holds in the last hour."""
        await self._ensure()
        rows = await self._store.sql_fetch(
            "SELECT COUNT(*) AS n FROM outbound_slots WHERE holder = ? AND taken_at >= ?",
            (holder, time.time() - WINDOW_S),
        )
        return int(rows[0]["n"])
