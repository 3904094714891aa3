"""The compliance log: an append-only record of every disclosure, consent answer, opt-out,
do-not-call block, calling-hours block and consent refusal, exportable for an audit.

The database refuses updates and deletes of its rows (a trigger in SQLite, rules in
PostgreSQL), like the access audit log.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from callwright.compliance.tables import ComplianceTables

Kind = Literal[
    "disclosure",
    "recording_consent",
    "opt_out",
    "dnc_block",
    "hours_block",
    "consent_block",
    "consent_added",
    "consent_revoked",
    "consent_imported",
    "dnc_added",
    "dnc_removed",
    "dnc_imported",
    "call_scheduled",
    "scheduled_call_cancelled",
]

_APPEND_ONLY = {
    "sqlite": """
CREATE TRIGGER IF NOT EXISTS compliance_log_no_update BEFORE UPDATE ON compliance_log
BEGIN SELECT RAISE(ABORT, 'the compliance log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS compliance_log_no_delete BEFORE DELETE ON compliance_log
BEGIN SELECT RAISE(ABORT, 'the compliance log is append-only'); END;
""",
    "postgresql": """
CREATE OR REPLACE RULE compliance_log_no_update AS ON UPDATE TO compliance_log DO INSTEAD NOTHING;
CREATE OR REPLACE RULE compliance_log_no_delete AS ON DELETE TO compliance_log DO INSTEAD NOTHING;
""",
}
EXPORT_FIELDS = ("entry_id", "at", "kind", "number", "call_id", "detail")
PAGE_SIZE = 1000  # entries read at a time (an export streams them page by page)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the compliance log."""

    entry_id: str
    at: float
    kind: str
    number: str | None
    call_id: str | None
    detail: dict[str, Any]

    def to_dict(self, full_numbers: bool = False) -> dict[str, Any]:
        number = self.number if full_numbers else mask_number(self.number)
        return {
            "entry_id": self.entry_id,
            "at": self.at,
            "kind": self.kind,
            "number": number,
            "call_id": self.call_id,
            "detail": self.detail,
        }


def mask_number(number: str | None) -> str | None:
    """ "+14155550123" as "+1415*****23": enough to tell entries apart, not to dial."""
    if not number or len(number) < 8:
        return number
    return number[:5] + "*" * (len(number) - 7) + number[-2:]


class ComplianceLog(ComplianceTables):
    """The compliance log in the call store's database."""

    async def _ensure(self) -> None:
        if not self._ready:
            await super()._ensure()
            await self._store.sql_script(_APPEND_ONLY.get(self._store.dialect, ""))

    async def append(
        self,
        kind: Kind,
        number: str | None = None,
        call_id: str | None = None,
        **detail: Any,
    ) -> None:
        """Appends one entry."""
        await self._ensure()
        await self._store.sql_execute(
            "INSERT INTO compliance_log (entry_id, at, kind, number, call_id, detail_json)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                uuid.uuid4().hex,
                time.time(),
                kind,
                number,
                call_id,
                json.dumps(detail, default=str),
            ),
        )

    async def pages(
        self,
        since: float | None = None,
        until: float | None = None,
        kind: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[list[LogEntry]]:
        """Every matching entry in time order, a page at a time (keyset paging on (at,
        entry_id): each page starts after the last one's final entry, so none is skipped or
        repeated however large the log, and memory stays at one page)."""
        await self._ensure()
        after: tuple[float, str] | None = None
        while True:
            page = await self._page(since, until, kind, after, page_size)
            if page:
                yield page
            if len(page) < page_size:
                return
            after = (page[-1].at, page[-1].entry_id)

    async def entries(
        self,
        since: float | None = None,
        until: float | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        """Entries in time order: all of them, or the first `limit` when one is asked for."""
        found: list[LogEntry] = []
        async for page in self.pages(since, until, kind):
            found += page
            if limit is not None and len(found) >= limit:
                return found[: max(0, limit)]
        return found

    async def count(
        self, since: float | None = None, until: float | None = None, kind: str | None = None
    ) -> int:
        """How many entries match."""
        await self._ensure()
        where, params = _where(since, until, kind)
        rows = await self._store.sql_fetch(
            f"SELECT COUNT(*) AS n FROM compliance_log WHERE {where}", tuple(params)
        )
        return int(rows[0]["n"])

    async def _page(
        self,
        since: float | None,
        until: float | None,
        kind: str | None,
        after: tuple[float, str] | None,
        size: int,
    ) -> list[LogEntry]:
        where, params = _where(since, until, kind)
        if after is not None:
            # Written so that the index on `at` serves it: at >= last, then past the last id.
            where += " AND at >= ? AND (at > ? OR entry_id > ?)"
            params += [after[0], after[0], after[1]]
        rows = await self._store.sql_fetch(
            "SELECT entry_id, at, kind, number, call_id, detail_json FROM compliance_log"
            f" WHERE {where} ORDER BY at, entry_id LIMIT ?",
            (*params, size),
        )
        return [
            LogEntry(
                r["entry_id"],
                r["at"],
                r["kind"],
                r["number"],
                r["call_id"],
                json.loads(r["detail_json"]),
            )
            for r in rows
        ]


def _where(since: float | None, until: float | None, kind: str | None) -> tuple[str, list[Any]]:
    where, params = "1 = 1", list[Any]()
    for clause, value in (("at >= ?", since), ("at < ?", until), ("kind = ?", kind)):
        if value is not None:
            where += f" AND {clause}"
            params.append(value)
    return where, params


def to_csv(entries: list[LogEntry], full_numbers: bool = False, header: bool = True) -> str:
    """The entries as CSV (detail as a JSON column), after the header line unless `header`
    is False (the pages after the first of a streamed export)."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(EXPORT_FIELDS)
    for entry in entries:
        row = entry.to_dict(full_numbers)
        row["detail"] = json.dumps(row["detail"], sort_keys=True)
        writer.writerow([_safe_cell(row[name]) for name in EXPORT_FIELDS])
    return out.getvalue()


_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 .()*-]*")  # masked digits included


def _safe_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (CSV injection): a leading `=`, `@`, tab,
    carriage return or line feed always gets a quote; `+` and `-` only spare a plain number
    ("+1555..."). Spreadsheets trim leading spaces and read full-width signs ("＝") as their
    ASCII forms, so the first character is judged after both.
    """
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "\t\r\n":
        return "'" + value
    text = unicodedata.normalize("NFKC", value.lstrip())
    if text[:1] in ("=", "@") or (text[:1] in ("+", "-") and not _PLAIN_NUMBER.fullmatch(text)):
        return "'" + value
    return value
