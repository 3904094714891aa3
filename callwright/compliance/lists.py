"""Changes to the do-not-call list and the consent records, each written to the compliance log.

The HTTP API (`server/compliance_lists.py`) and the command line (`callwright dnc`,
`callwright consent`) both change the lists through here, so an entry in the compliance log
never depends on which door the change came through. The access audit log (who did it) is the
caller's: the server writes the principal, the command line the operating-system user.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from callwright.compliance.consent import ConsentRecord, ConsentRecords
from callwright.compliance.dnc import DoNotCallList, _bounded_lines, read_number_csv
from callwright.compliance.log import ComplianceLog
from callwright.compliance.numbers import NumberError, to_e164
from callwright.compliance.tables import SqlStore

CONSENT_COLUMNS = ("number", "purpose", "method", "evidence", "obtained_at")


@dataclass(frozen=True, slots=True)
class ImportCount:
    """What an import did: lines read with a usable entry, entries new, lines rejected."""

    read: int
    added: int
    rejected: int

    def to_dict(self) -> dict[str, int]:
        return {"read": self.read, "added": self.added, "rejected": self.rejected}


class ComplianceLists:
    """The do-not-call list and the consent records, changed with a compliance log entry each.

    Args:
        store: the call store's database.
        region: numbers written without a country code belong here.
    """

    def __init__(self, store: SqlStore, region: str = "US") -> None:
        self.dnc = DoNotCallList(store)
        self.consent = ConsentRecords(store)
        self.log = ComplianceLog(store)
        self.region = region

    async def dnc_add(self, number: str, source: str, reason: str = "") -> tuple[str, bool]:
        """Adds a number; its E.164 form and whether it was new."""
        e164 = to_e164(number, self.region)
        added = await self.dnc.add(e164, source, reason, self.region)
        await self.log.append("dnc_added", e164, None, source=source, reason=reason, new=added)
        return e164, added

    async def dnc_remove(self, number: str, reason: str = "") -> tuple[str, bool]:
        """Takes a number off the list; its E.164 form and whether it was on it."""
        e164 = to_e164(number, self.region)
        removed = await self.dnc.remove(e164, self.region)
        await self.log.append("dnc_removed", e164, None, reason=reason, removed=removed)
        return e164, removed

    async def dnc_import(self, path: Path, source: str) -> ImportCount:
        """Adds every number of a CSV file (`read_number_csv`); blocking reads in a thread."""
        numbers, rejected = await asyncio.to_thread(read_number_csv, path, self.region)
        added = await self.dnc.add_many(numbers, source)
        count = ImportCount(len(numbers), added, rejected)
        await self.log.append("dnc_imported", None, None, source=source, **count.to_dict())
        return count

    async def consent_add(
        self,
        number: str,
        purpose: str,
        method: str,
        evidence: str = "",
        obtained_at: float | None = None,
        via: str = "api",
    ) -> ConsentRecord:
        """Records a consent (`ConsentRecords.add`: NumberError, ValueError)."""
        record = await self.consent.add(number, purpose, method, evidence, obtained_at,
                                        self.region)  # fmt: skip
        await self.log.append(
            "consent_added", record.number, None, purpose=record.purpose, method=record.method,
            consent_id=record.consent_id, via=via,
        )  # fmt: skip
        return record

    async def consent_revoke(
        self, number: str, reason: str, purpose: str | None = None, via: str = "api"
    ) -> tuple[str, int]:
        """Revokes a number's records (one purpose, or all); its E.164 form and how many."""
        e164 = to_e164(number, self.region)
        revoked = await self.consent.revoke(e164, reason, purpose, self.region)
        await self.log.append("consent_revoked", e164, None, reason=reason, purpose=purpose,
                              revoked=revoked, via=via)  # fmt: skip
        return e164, revoked

    async def consent_import(self, path: Path, source: str) -> ImportCount:
        """Records every consent of a CSV file with a header naming `CONSENT_COLUMNS` (number,
        purpose and method required; obtained_at as ISO 8601 or epoch seconds)."""
        rows, rejected = await asyncio.to_thread(_read_consent_rows, path)
        added = 0
        for row in rows:
            try:
                await self.consent.add(row["number"], row["purpose"], row["method"],
                                       row.get("evidence") or f"import:{source}",
                                       _epoch(row.get("obtained_at")), self.region)  # fmt: skip
                added += 1
            except (NumberError, ValueError):
                rejected += 1
        count = ImportCount(len(rows), added, rejected)
        await self.log.append("consent_imported", None, None, source=source, **count.to_dict())
        return count


def _epoch(value: str | None) -> float | None:
    """Epoch seconds from a number or an ISO 8601 time (UTC when no zone); None when empty.

    Raises:
        ValueError: not a time.
    """
    if not value or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        parsed = dt.datetime.fromisoformat(value.strip())
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def _read_consent_rows(path: Path) -> tuple[list[dict[str, str]], int]:
    """The rows of a consent CSV as {column: value}, and how many lines were unusable.

    Raises:
        ValueError: the header does not name number, purpose and method.
    """
    rows: list[dict[str, str]] = []
    rejected = 0
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        lines = _bounded_lines(handle)
        header = [cell.strip().lower() for cell in next(csv.reader([next(lines, "")]), [])]
        if not {"number", "purpose", "method"} <= set(header):
            raise ValueError("the first line must name the columns: " + ",".join(CONSENT_COLUMNS))
        for line in lines:
            if not line.strip():
                rejected += line == ""  # "" is an overlong line; blank lines are skipped
                continue
            cells = next(csv.reader([line]), [])
            row = {name: cell.strip() for name, cell in zip(header, cells, strict=False)}
            if all(row.get(k) for k in ("number", "purpose", "method")):
                rows.append(row)
            else:
                rejected += 1
    return rows, rejected
