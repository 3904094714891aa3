"""The do-not-call list and consent records over HTTP, with roles (a viewer reads nothing, a
supervisor reads and adds, an admin removes and imports), and `callwright consent` on the
command line; every change in the compliance log and the access audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import aiohttp

from callwright.agent.stack import AgentStack
from callwright.compliance.log import ComplianceLog
from callwright.compliance.tables import SqlStore
from callwright.server.auth import new_api_key
from callwright.store.access import AccessStore
from callwright.store.sqlite import SqliteCallStore
from tests.conftest import ADMIN_HEADERS, TEST_KEY_ID
from tests.security.conftest import secure_server

ROOT = Path(__file__).resolve().parents[2]


async def test_the_lists_over_http_with_roles(stack: AgentStack, tmp_path: Path) -> None:
    async with secure_server(stack, tmp_path) as server:
        keys, key_ids = {}, {}
        for role in ("viewer", "supervisor"):
            secret, key = new_api_key(role, f"{role} key")
            await server.access.add_key(key)
            keys[role] = {"Authorization": f"Bearer {secret}"}
            key_ids[role] = key.key_id
        base = f"{server.base}/v1/compliance"
        async with aiohttp.ClientSession(headers=keys["viewer"]) as viewer:
            for method, path in (("GET", "/dnc"), ("POST", "/dnc"), ("GET", "/consent?number=1")):
                async with viewer.request(method, base + path, json={}) as response:
                    assert response.status == 403, path
        async with aiohttp.ClientSession(headers=keys["supervisor"]) as supervisor:
            body = {"number": "(415) 555-0141", "reason": "asked on the phone"}
            async with supervisor.post(f"{base}/dnc", json=body) as response:
                assert response.status == 201
                assert await response.json() == {"number": "+14155550141", "added": True}
            async with supervisor.post(f"{base}/dnc", json=body) as response:
                assert (await response.json())["added"] is False
            async with supervisor.get(f"{base}/dnc", params={"number": "4155550141"}) as response:
                assert (await response.json())["listed"] is True
            async with supervisor.post(f"{base}/dnc", json={"number": "nope"}) as response:
                assert response.status == 400
            for path in ("/dnc/remove", "/dnc/import", "/consent/import", "/consent"):
                async with supervisor.post(base + path, json=body) as response:
                    assert response.status == 403, path
        registry = "phone\n4155550142\n415-555-0143\nnot a number\n"
        consents = (
            "number,purpose,method,evidence,obtained_at\n"
            "+14155550144,reminders,written,form 17,2026-05-01T10:00:00\n"
            "415 555 0145,*,web_form,,\n"
            "+14155550146,reminders,telepathy,,\n"
        )
        async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as admin:
            async with admin.post(f"{base}/dnc/remove", json=body) as response:
                assert response.status == 200
            async with admin.post(f"{base}/dnc/remove", json=body) as response:
                assert response.status == 404
            async with admin.post(f"{base}/dnc/import?source=ftc", data=registry) as response:
                # The header line holds no number either: counted, as `callwright dnc import` does.
                assert await response.json() == {"read": 2, "added": 2, "rejected": 2}
            async with admin.get(f"{base}/dnc") as response:
                listed = {e["number"]: e["source"] for e in (await response.json())["entries"]}
            assert listed == {"+14155550142": "import:ftc", "+14155550143": "import:ftc"}
            async with admin.post(f"{base}/consent/import", data=consents) as response:
                assert await response.json() == {"read": 3, "added": 2, "rejected": 1}
            async with admin.post(f"{base}/consent/import", data="a,b\n1,2\n") as response:
                assert response.status == 400  # no header naming the columns
            async with admin.get(f"{base}/consent", params={"number": "+14155550144"}) as r:
                records = (await r.json())["records"]
        assert [(r["purpose"], r["method"], r["evidence"]) for r in records] == [
            ("reminders", "written", "form 17")
        ]
        log = await ComplianceLog(cast(SqlStore, server.stack.store)).entries()
        audit = await server.access.audit_entries()
    kinds = [(e.kind, e.number) for e in log]
    assert ("dnc_added", "+14155550141") in kinds and ("dnc_removed", "+14155550141") in kinds
    assert ("dnc_imported", None) in kinds and ("consent_imported", None) in kinds
    actions = {(e.action, e.actor) for e in audit}
    # API keys are named by their id in the audit log.
    assert ("compliance.dnc_added", key_ids["supervisor"]) in actions
    for action in ("dnc_removed", "dnc_imported", "consent_imported"):
        assert (f"compliance.{action}", TEST_KEY_ID) in actions


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CALLWRIGHT_DATA_DIR": str(data_dir)}
    env.pop("CALLWRIGHT_DATABASE_URL", None)
    argv = [sys.executable, "-m", "callwright", "consent", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)


async def test_consent_on_the_command_line(tmp_path: Path) -> None:
    added = _cli(tmp_path, "add", "(212) 555-0151", "--purpose", "reminders",
                 "--method", "written", "--evidence", "paper form 3",
                 "--obtained-at", "2026-05-01T09:00:00")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert _cli(tmp_path, "add", "+12125550151", "--purpose", "x", "--method", "psychic")\
        .returncode == 2  # fmt: skip
    listing = tmp_path / "consents.csv"
    listing.write_text("number,purpose,method\n+12125550152,*,verbal\nnope,*,verbal\n", "utf-8")
    imported = _cli(tmp_path, "import", str(listing))
    assert "2 records read, 1 added, 1 lines rejected" in imported.stdout, imported.stderr
    revoked = _cli(tmp_path, "revoke", "+12125550151", "--reason", "asked by letter")
    assert revoked.returncode == 0 and "1 revoked" in revoked.stdout
    assert _cli(tmp_path, "revoke", "+12125550151", "--reason", "again").returncode == 1
    shown = _cli(tmp_path, "list", "212-555-0151").stdout.split("\t")
    assert shown[:4] == ["+12125550151", "reminders", "written", "2026-05-01T09:00:00+00:00"]
    assert shown[4].startswith("revoked ")
    store = await SqliteCallStore.open(tmp_path / "calls.sqlite3")
    try:
        log = await ComplianceLog(store).entries()
        audit = await (await AccessStore.open(store)).audit_entries()
    finally:
        await store.close()
    assert [e.kind for e in sorted(log, key=lambda e: e.at)] == [
        "consent_added", "consent_imported", "consent_revoked", "consent_revoked"
    ]  # fmt: skip
    assert {e.actor_kind for e in audit} == {"cli"}
    assert "compliance.consent_imported" in {e.action for e in audit}
