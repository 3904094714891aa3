"""Consent records and the compliance log: both stores, the append-only log, outbound calls
refused without consent, and the admin-only export (CSV and JSON)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.compliance.consent import ConsentRecords
from callwright.compliance.log import ComplianceLog, LogEntry, mask_number, to_csv
from callwright.server.auth import new_api_key
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio
from tests.pg_cluster import AnyStore
from tests.security.conftest import secure_server


async def test_consent_records_in_both_stores(store: AnyStore) -> None:
    records = ConsentRecords(store)
    reminder = await records.add("(415) 555-0181", "reminders", "web_form", "form 7", 1000.0)
    assert reminder.number == "+14155550181" and reminder.obtained_at == 1000.0
    assert await records.valid("+14155550181", "reminders") == reminder
    assert await records.valid("+14155550181", "sales") is None
    assert await records.valid("+14155550181", None) == reminder  # any purpose
    await records.add("+14155550181", "*", "written")
    assert await records.valid("+14155550181", "sales") is not None
    assert await records.revoke("+14155550181", "asked by email") == 2
    assert await records.valid("+14155550181", None) is None
    history = await records.of("+14155550181")
    assert len(history) == 2 and all(r.revoked_reason == "asked by email" for r in history)
    with pytest.raises(ValueError):
        await records.add("+14155550181", "reminders", "telepathy")


async def test_refusing_one_purpose_ends_a_consent_for_any_purpose(store: AnyStore) -> None:
    records = ConsentRecords(store)
    await records.add("+14155550183", "*", "written")
    await records.add("+14155550183", "reminders", "web_form")
    # "No more marketing calls": the blanket consent must not go on covering marketing.
    assert await records.revoke("+14155550183", "asked on a call", "marketing") == 1
    assert await records.valid("+14155550183", "marketing") is None
    # The consent given for that purpose alone stands.
    kept = await records.valid("+14155550183", "reminders")
    assert kept is not None and kept.purpose == "reminders"


async def test_the_log_is_append_only_in_both_stores(store: AnyStore) -> None:
    log = ComplianceLog(store)
    await log.append("dnc_block", "+14155550182", "call-1", source="import:x.csv")
    await log.append("opt_out", "+14155550182", "call-2", how="speech")
    entries = await log.entries()
    assert [(e.kind, e.call_id) for e in entries] == [
        ("dnc_block", "call-1"),
        ("opt_out", "call-2"),
    ]
    assert entries[0].detail == {"source": "import:x.csv"}
    for sql in ("UPDATE compliance_log SET kind = 'x'", "DELETE FROM compliance_log"):
        with contextlib.suppress(Exception):  # SQLite's trigger refuses; PostgreSQL ignores
            await store.sql_execute(sql)
    assert [e.kind for e in await log.entries()] == ["dnc_block", "opt_out"]  # unchanged
    assert [e.kind for e in await log.entries(kind="opt_out")] == ["opt_out"]


def test_numbers_are_masked_unless_asked_for() -> None:
    assert mask_number("+14155550123") == "+1415*****23"
    assert mask_number(None) is None


async def test_outbound_needs_consent_and_every_step_is_logged(
    stack: AgentStack, tmp_path: Path
) -> None:
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
            public_base_url="https://voice.example.org",
        )
        async with secure_server(stack, tmp_path, telephony=settings) as server:
            base = server.base
            call = {"to": "+14155550183", "from": "+12125550199", "purpose": "reminders"}
            async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
                async with http.post(f"{base}/v1/calls/outbound", json=call) as response:
                    assert response.status == 403
                    refused = await response.json()
                consent = {"number": "415-555-0183", "purpose": "reminders", "method": "verbal",
                           "evidence": "call 42"}  # fmt: skip
                async with http.post(f"{base}/v1/compliance/consent", json=consent) as response:
                    assert response.status == 201
                async with http.post(f"{base}/v1/calls/outbound", json=call) as response:
                    assert response.status == 201
                other = {**call, "purpose": "sales"}
                async with http.post(f"{base}/v1/calls/outbound", json=other) as response:
                    assert response.status == 403
                revoke = {"number": "+14155550183", "reason": "asked us to stop"}
                url = f"{base}/v1/compliance/consent/revoke"
                async with http.post(url, json=revoke) as response:
                    assert (await response.json()) == {"revoked": 1}
                async with http.post(f"{base}/v1/calls/outbound", json=call) as response:
                    assert response.status == 403
                export = f"{base}/v1/compliance/export"
                async with http.get(export, params={"numbers": "full"}) as response:
                    entries = (await response.json())["entries"]
                async with http.get(export, params={"format": "csv"}) as response:
                    assert response.content_type == "text/csv"
                    rows = list(csv.DictReader(io.StringIO(await response.text())))
            secret, key = new_api_key("supervisor", "not an admin")
            await server.access.add_key(key)
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as http:
                async with http.get(export) as response:
                    assert response.status == 403
            exports = await server.access.audit_entries(action="compliance.export")
        assert [c.one("To") for c in rest.creates()] == ["+14155550183"]
    assert refused["error"] == "no_consent" and "consent" in refused["message"]
    kinds = [e["kind"] for e in entries]
    assert kinds == [
        "consent_block", "consent_added", "consent_block", "consent_revoked", "consent_block"
    ]  # fmt: skip
    assert {e["number"] for e in entries} == {"+14155550183"}
    assert [r["kind"] for r in rows] == kinds
    assert {r["number"] for r in rows} == {"+1415*****83"}  # masked unless asked for
    assert json.loads(rows[0]["detail"]) == {"purpose": "reminders"}
    assert len(exports) == 2


def test_the_csv_export_runs_no_formula_but_keeps_numbers_as_they_are() -> None:
    crafted = ["=1+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3", "+1+HYPERLINK(x)", "\t=1",
               "\n=HYPERLINK(x)", " =1+1", "\uff1d1+1", "  \uff20SUM(A1)"]  # fmt: skip
    entries = [LogEntry(f"e{n}", 0.0, "dnc_block", None, value, {}) for n, value in
               enumerate(crafted)]  # fmt: skip
    entries.append(LogEntry("e9", 0.0, "dnc_block", "+14155550182", "+1 (415) 555-0182", {}))
    entries.append(LogEntry("e10", 0.0, "dnc_block", None, " 1 + 1 = 2", {}))  # no formula
    rows = list(csv.DictReader(io.StringIO(to_csv(entries, full_numbers=True))))
    assert [r["call_id"] for r in rows[:-2]] == ["'" + value for value in crafted]
    assert (rows[-2]["number"], rows[-2]["call_id"]) == ("+14155550182", "+1 (415) 555-0182")
    assert rows[-1]["call_id"] == " 1 + 1 = 2"
