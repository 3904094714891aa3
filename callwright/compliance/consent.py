"""Consent records for automated outbound calls: who agreed, when, how, for what purpose.

An automated outbound call needs an unrevoked record for the callee's number and the call's
purpose (a record for purpose "*" covers every purpose). A caller who opts out revokes all of
theirs. Records are never deleted: a revocation is a date and a reason on the record.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from callwright.compliance.numbers import NumberError, to_e164
from callwright.compliance.tables import ComplianceTables

ANY_PURPOSE = "*"
METHODS = ("written", "web_form", "verbal", "keypad", "existing_relationship", "other")


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One consent to automated calls.

    Attributes:
        number: the E.164 number.
        purpose: what the calls are for ("appointment_reminders"), or "*".
        method: how consent was given (`METHODS`).
        evidence: where the proof is (a form id, a recording, a signed document).
        obtained_at, recorded_at: epoch seconds.
        revoked_at, revoked_reason: set once revoked.
    """

    consent_id: str
    number: str
    purpose: str
    method: str
    evidence: str
    obtained_at: float
    recorded_at: float
    revoked_at: float | None = None
    revoked_reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


_COLUMNS = (
    "consent_id, number, purpose, method, evidence, obtained_at, recorded_at, revoked_at,"
    " revoked_reason"
)


class ConsentRecords(ComplianceTables):
    """The consent records in the call store's database."""

    async def add(
        self,
        number: str,
        purpose: str,
        method: str,
        evidence: str = "",
        obtained_at: float | None = None,
        region: str = "US",
    ) -> ConsentRecord:
        """Records a consent.

        Raises:
            NumberError: `number` is not a phone number.
            ValueError: an unknown method, or an empty purpose.
        """
        await self._ensure()
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}")
        if not purpose.strip():
            raise ValueError("a consent needs a purpose ('*' for any)")
        now = time.time()
        record = ConsentRecord(
            uuid.uuid4().hex, to_e164(number, region), purpose.strip(), method, evidence,
            now if obtained_at is None else obtained_at, now,
        )  # fmt: skip
        await self._store.sql_execute(
            f"INSERT INTO outbound_consent ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            tuple(getattr(record, name) for name in record.__slots__),
        )
        return record

    async def revoke(
        self, number: str, reason: str, purpose: str | None = None, region: str = "US"
    ) -> int:
        """Revokes the number's records (of one purpose, or all); how many were revoked.

        Revoking one purpose revokes a consent for any purpose (`ANY_PURPOSE`) too: a blanket
        consent would otherwise go on covering the purpose the person just refused.
        """
        await self._ensure()
        sql = (
            "UPDATE outbound_consent SET revoked_at = ?, revoked_reason = ?"
            " WHERE number = ? AND revoked_at IS NULL"
        )
        params: tuple[object, ...] = (time.time(), reason, to_e164(number, region))
        if purpose is not None:
            sql += " AND purpose IN (?, ?)"
            params += (purpose, ANY_PURPOSE)
        return await self._store.sql_execute(sql, params)

    async def of(self, number: str, region: str = "US") -> list[ConsentRecord]:
        """Every record of a number, newest first (revoked ones included)."""
        await self._ensure()
        try:
            e164 = to_e164(number, region)
        except NumberError:
            return []
        rows = await self._store.sql_fetch(
            f"SELECT {_COLUMNS} FROM outbound_consent WHERE number = ? ORDER BY recorded_at DESC",
            (e164,),
        )
        return [ConsentRecord(**r) for r in rows]

    async def valid(self, number: str, purpose: str | None) -> ConsentRecord | None:
        """An unrevoked record covering `purpose` (any purpose when None), or None."""
        for record in await self.of(number):
            if record.revoked_at is not None:
                continue
            if purpose is None or record.purpose in (purpose, ANY_PURPOSE):
                return record
        return None
