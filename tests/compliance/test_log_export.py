"""The compliance log export gives every matching entry, however many there are: the log is
read in keyset pages (none skipped or repeated, entries at the same instant included) and the
export streams them, on SQLite and PostgreSQL; nothing newest is cut off at some count."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

import aiohttp

from callwright.agent.stack import AgentStack
from callwright.compliance.log import ComplianceLog
from callwright.store.sqlite import SqliteCallStore
from tests.conftest import ADMIN_HEADERS
from tests.pg_cluster import AnyStore
from tests.security.conftest import secure_server

BATCH = 200  # rows per INSERT while filling a log


async def _fill(store: AnyStore | SqliteCallStore, rows: list[tuple[str, float, str]]) -> None:
    """Writes (entry_id, at, kind) rows straight into the log (faster than one append each)."""
    await ComplianceLog(store).entries(limit=1)  # the table and its append-only rules
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        values = ", ".join("(?, ?, ?, ?, NULL, '{}')" for _ in batch)
        params = [v for entry_id, at, kind in batch for v in (entry_id, at, kind, "+14155550100")]
        await store.sql_execute(
            "INSERT INTO compliance_log (entry_id, at, kind, number, call_id, detail_json)"
            f" VALUES {values}",
            tuple(params),
        )


async def test_pages_cover_the_whole_log_once_in_order(store: AnyStore) -> None:
    # Three entries to an instant: page boundaries fall between entries of the same time.
    rows = [(uuid.uuid4().hex, 1000.0 + n // 3, "hours_block") for n in range(25)]
    await _fill(store, rows)
    log = ComplianceLog(store)
    pages = [page async for page in log.pages(page_size=4)]
    assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 4, 1]
    read = [(e.at, e.entry_id) for page in pages for e in page]
    assert read == sorted((at, entry_id) for entry_id, at, _ in rows)
    assert await log.count() == 25
    # Filters still apply, page by page.
    later = [e.entry_id async for page in log.pages(since=1005.0, page_size=2) for e in page]
    assert sorted(later) == sorted(entry_id for entry_id, at, _ in rows if at >= 1005.0)
    assert len(await log.entries(limit=7)) == 7


async def test_the_export_has_every_entry_past_ten_thousand(
    stack: AgentStack, tmp_path: Path
) -> None:
    total = 10_050
    rows = [(uuid.uuid4().hex, 1000.0 + n, "hours_block") for n in range(total - 1)]
    newest = uuid.uuid4().hex
    rows.append((newest, 1000.0 + total, "opt_out"))  # today's opt-out, the last entry
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    try:
        await _fill(store, rows)
    finally:
        await store.close()
    async with (
        secure_server(stack, tmp_path) as server,
        aiohttp.ClientSession(headers=ADMIN_HEADERS) as http,
    ):
        export = f"{server.base}/v1/compliance/export"
        async with http.get(export) as response:
            assert response.status == 200 and response.content_type == "application/json"
            entries = json.loads(await response.text())["entries"]
        async with http.get(export, params={"format": "csv"}) as response:
            assert response.content_type == "text/csv"
            csv_rows = list(csv.DictReader(io.StringIO(await response.text())))
        async with http.get(export, params={"kind": "opt_out"}) as response:
            opt_outs = json.loads(await response.text())["entries"]
        audit = await server.access.audit_entries(action="compliance.export")
    expected = [entry_id for entry_id, _, _ in rows]  # already in time order
    assert [e["entry_id"] for e in entries] == expected
    assert [r["entry_id"] for r in csv_rows] == expected
    assert entries[-1]["kind"] == "opt_out" and entries[-1]["entry_id"] == newest
    assert [e["entry_id"] for e in opt_outs] == [newest]
    assert sorted(e.detail["entries"] for e in audit) == [1, total, total]
