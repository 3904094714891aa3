"""The campaigns API and page are for admins; bad bodies get a clear 400; the command line
creates, lists, shows and controls campaigns in the server's store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from callwright.agent.stack import AgentStack
from callwright.campaigns.contacts import parse_contacts
from callwright.server.auth import new_api_key
from tests.conftest import ADMIN_HEADERS
from tests.security.conftest import secure_server

ROOT = Path(__file__).resolve().parents[2]


async def test_admins_only_and_clear_errors(stack: AgentStack, tmp_path: Path) -> None:
    async with secure_server(stack, tmp_path) as server:
        secret, key = new_api_key("supervisor", "not an admin")
        await server.access.add_key(key)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {secret}"}) as http:
            for path in ("/v1/campaigns", "/dashboard/campaigns", "/v1/compliance/export"):
                async with http.get(server.base + path) as response:
                    assert response.status == 403, path
        async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
            async with http.get(f"{server.base}/dashboard/campaigns") as response:
                assert response.status == 200 and "campaigns.js" in await response.text()
            contacts = [{"number": "+12125550101", "first_name": "Ann"}, {"number": "x"}]
            good = {"name": "n", "from": "+12125550100", "purpose": "p", "contacts": contacts}
            bad = [{}, {**good, "from": "nope"}, {**good, "contacts": "x"},
                   {**good, "concurrency": 0}, {**good, "pace_s": "fast"}]  # fmt: skip
            for body in bad:
                async with http.post(f"{server.base}/v1/campaigns", json=body) as response:
                    assert response.status == 400, body
                    assert "message" in await response.json()
            async with http.post(f"{server.base}/v1/campaigns", json=good) as response:
                assert response.status == 201
                created = await response.json()
            assert created["contacts"] == 1 and len(created["rejected"]) == 1
            cid = created["campaign_id"]
            async with http.get(f"{server.base}/v1/campaigns/{cid}") as response:
                contacts = (await response.json())["contacts"]
            assert contacts[0]["parameters"] == {"first_name": "Ann"}
            async with http.post(f"{server.base}/v1/campaigns/{cid}/cancel") as response:
                assert response.status == 200
            async with http.get(f"{server.base}/v1/campaigns") as response:
                listed = (await response.json())["campaigns"]
            assert [(c["status"], c["progress"]) for c in listed] == [("cancelled", {"skipped": 1})]


def test_contact_lists() -> None:
    csv_list = parse_contacts("Phone,Name\n(212) 555-0101,Ann\n212-555-0101,Dup\nno,Bad\n", "csv")
    assert [(c.number, c.parameters) for c in csv_list.contacts] == [
        ("+12125550101", {"name": "Ann"})
    ]
    assert len(csv_list.rejected) == 2
    nested = parse_contacts('{"contacts": [{"number": "+12125550102", "parameters": {"a": 1}}]}',
                            "json")  # fmt: skip
    assert nested.contacts[0].parameters == {"a": "1"}


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CALLWRIGHT_DATA_DIR": str(data_dir)}
    env.pop("CALLWRIGHT_DATABASE_URL", None)
    argv = [sys.executable, "-m", "callwright", "campaigns", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_the_command_line(tmp_path: Path) -> None:
    contacts = tmp_path / "patients.csv"
    contacts.write_text("number,first_name\n+12125550111,Ann\n+12125550112,Bob\n", "utf-8")
    created = _cli(tmp_path, "create", str(contacts), "--name", "reminders",
                   "--from", "+12125550100", "--purpose", "reminders")  # fmt: skip
    assert created.returncode == 0, created.stderr
    cid = created.stdout.strip()
    assert _cli(tmp_path, "pause", cid).returncode == 0
    assert _cli(tmp_path, "pause", cid).returncode == 1  # already paused
    listed = _cli(tmp_path, "list")
    assert f"{cid}\tpaused\treminders\tpending=2" in listed.stdout
    shown = _cli(tmp_path, "show", cid).stdout.splitlines()
    assert [line.split("\t")[1:3] for line in shown] == [
        ["+12125550111", "pending"], ["+12125550112", "pending"]
    ]  # fmt: skip
