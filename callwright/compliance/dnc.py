"""The do-not-call list: numbers callwright never dials.

One table in the call store's database, shared by every worker. Numbers arrive from callers who
opt out during a call (`source="opt_out"`), from operators, and from imported lists such as a
national registry export (`callwright dnc import FILE`). Every number is E.164.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from callwright.compliance.numbers import NumberError, to_e164
from callwright.compliance.tables import ComplianceTables

IMPORT_BATCH = 200  # rows per INSERT: 800 parameters, under SQLite's oldest limit of 999
MAX_CSV_LINE = 1024  # a registry export's lines are short; longer ones hold no number


@dataclass(frozen=True, slots=True)
class DncEntry:
    """One number on the list, and how it got there."""

    number: str
    source: str
    reason: str
    added_at: float


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: numbers read, new to the list, and lines without a number."""

    numbers: int
    added: int
    rejected: int


class DoNotCallList(ComplianceTables):
    """The do-not-call list in the call store's database.

    Args:
        store: the open call store (SQLite or PostgreSQL).
    """

    async def add(self, number: str, source: str, reason: str = "", region: str = "US") -> bool:
        """Puts `number` on the list; True if it was not there already.

        Raises:
            NumberError: `number` is not a phone number.
        """
        await self._ensure()
        e164 = to_e164(number, region)
        added = await self._store.sql_execute(
            "INSERT INTO do_not_call (number, source, reason, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (number) DO NOTHING",
            (e164, source, reason, time.time()),
        )
        return added > 0

    async def remove(self, number: str, region: str = "US") -> bool:
        """Takes `number` off the list (an operator's correction); True if it was there."""
        await self._ensure()
        return (
            await self._store.sql_execute(
                "DELETE FROM do_not_call WHERE number = ?", (to_e164(number, region),)
            )
            > 0
        )

    async def find(self, number: str, region: str = "US") -> DncEntry | None:
        """The entry for `number`, if it is on the list (a number that does not parse is not)."""
        await self._ensure()
        try:
            e164 = to_e164(number, region)
        except NumberError:
            return None
        rows = await self._store.sql_fetch(
            "SELECT number, source, reason, added_at FROM do_not_call WHERE number = ?", (e164,)
        )
        return DncEntry(**rows[0]) if rows else None

    async def entries(self, limit: int = 1000) -> list[DncEntry]:
        """The newest entries first."""
        await self._ensure()
        rows = await self._store.sql_fetch(
            "SELECT number, source, reason, added_at FROM do_not_call"
            " ORDER BY added_at DESC, number LIMIT ?",
            (max(0, limit),),
        )
        return [DncEntry(**r) for r in rows]

    async def add_many(self, numbers: Iterable[str], source: str, reason: str = "") -> int:
        """Adds E.164 numbers in batches; how many were new."""
        await self._ensure()
        added, batch, now = 0, list[str](), time.time()
        for number in numbers:
            batch.append(number)
            if len(batch) == IMPORT_BATCH:
                added += await self._insert(batch, source, reason, now)
                batch = []
        if batch:
            added += await self._insert(batch, source, reason, now)
        return added

    async def _insert(self, numbers: list[str], source: str, reason: str, now: float) -> int:
        unique = list(dict.fromkeys(numbers))
        values = ", ".join("(?, ?, ?, ?)" for _ in unique)
        params = tuple(p for n in unique for p in (n, source, reason, now))
        return await self._store.sql_execute(
            f"INSERT INTO do_not_call (number, source, reason, added_at) VALUES {values}"
            " ON CONFLICT (number) DO NOTHING",
            params,
        )


def read_number_csv(path: Path, region: str = "US") -> tuple[list[str], int]:
    """The E.164 numbers of a CSV file, and how many non-empty lines had none.

    Each line's first field that parses as a phone number is taken, so a bare list of numbers,
    a registry export ("area code, number" is joined when the number alone does not parse)
    and a header line all work. Blocking: run it in a thread.
    """
    numbers: list[str] = []
    rejected = 0
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        for line in _bounded_lines(handle):
            if line and not line.strip():
                continue
            found = _number_of(next(csv.reader([line]), []), region) if line else None
            if found is not None:
                numbers.append(found)
            else:
                rejected += 1
    return numbers, rejected


def _bounded_lines(handle: TextIO) -> Iterator[str]:
    """The file's lines; an overlong one is read in bounded pieces and yields "" (rejected)."""
    while line := handle.readline(MAX_CSV_LINE + 1):
        if len(line) > MAX_CSV_LINE and not line.endswith("\n"):
            while line and not line.endswith("\n"):
                line = handle.readline(MAX_CSV_LINE + 1)
            yield ""
        else:
            yield line


def _number_of(row: list[str], region: str) -> str | None:
    cells = [cell.strip() for cell in row if cell.strip()]
    for cell in cells:
        try:
            return to_e164(cell, region)
        except NumberError:
            continue
    if len(cells) >= 2 and cells[0].isdigit() and cells[1].replace("-", "").isdigit():
        try:  # the FTC registry's "area code, phone number" layout
            return to_e164(cells[0] + cells[1], region)
        except NumberError:
            return None
    return None
