"""The do-not-call list: both stores, CSV imports through the command line, and the outbound
API refusing a listed number before anything is dialled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import cast

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.compliance.dnc import DoNotCallList, read_number_csv
from callwright.compliance.numbers import NumberError
from callwright.compliance.tables import SqlStore
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, consent_to_calls, fake_twilio
from tests.pg_cluster import AnyStore
from tests.security.conftest import secure_server

ROOT = Path(__file__).resolve().parents[2]


async def test_the_list_in_both_stores(store: AnyStore) -> None:
    dnc = DoNotCallList(store)
    assert await dnc.add("(415) 555-0101", "opt_out", "said stop calling me")
    assert not await dnc.add("+1 415 555 0101", "operator")  # the same number, written otherwise
    entry = await dnc.find("415.555.0101")
    assert entry is not None
    assert (entry.number, entry.source, entry.reason) == (
        "+14155550101",
        "opt_out",
        "said stop calling me",
    )
    assert await dnc.find("+14155550102") is None
    assert await dnc.find("not a number") is None
    with pytest.raises(NumberError):
        await dnc.add("12", "operator")
    numbers = [f"+1415555{n:04d}" for n in range(450)]  # more than two insert batches
    assert await dnc.add_many([*numbers, numbers[0]], "import:registry.csv") == 449
    assert (await dnc.find("+14155550300") or entry).source == "import:registry.csv"
    assert await dnc.remove("+14155550101")
    assert await dnc.find("+14155550101") is None
    assert not await dnc.remove("+14155550101")


def test_csv_reading(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    lines = [
        "Area_Code,Phone_Number",  # a registry export's header: no number in it
        "415,5550111",  # area code and number in two columns
        '"(415) 555-0112",added 2026-01-02',
        "+44 20 7946 0018",
        "",
        "x" * 5000,  # overlong: rejected without being parsed
        "hello,world",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    numbers, rejected = read_number_csv(path)
    assert numbers == ["+14155550111", "+14155550112", "+442079460018"]
    assert rejected == 3


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CALLWRIGHT_DATA_DIR": str(data_dir)}
    env.pop("CALLWRIGHT_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "callwright", "dnc", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_command_line_imports_checks_and_removes(tmp_path: Path) -> None:
    listing = tmp_path / "registry.csv"
    listing.write_text("phone\n4155550121\n415-555-0122\n4155550121\nnope\n", encoding="utf-8")
    imported = _cli(tmp_path, "import", str(listing))
    assert imported.returncode == 0, imported.stderr
    assert "3 numbers read, 2 new, 2 lines without one" in imported.stdout
    on_list = _cli(tmp_path, "check", "(415) 555-0122")
    assert on_list.returncode == 1 and "import:registry.csv" in on_list.stdout
    assert _cli(tmp_path, "check", "+14155550123").returncode == 0
    assert _cli(tmp_path, "remove", "+14155550122").returncode == 0
    assert _cli(tmp_path, "check", "+14155550122").returncode == 0
    assert _cli(tmp_path, "add", "bad").returncode == 2


async def test_a_listed_number_is_never_dialled(stack: AgentStack, tmp_path: Path) -> None:
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
            public_base_url="https://voice.example.org",
        )
        async with secure_server(stack, tmp_path, telephony=settings) as server:
            await DoNotCallList(cast(SqlStore, server.stack.store)).add("+14155550131", "operator")
            await consent_to_calls(server.stack.store, "+14155550131", "+14155550132")
            async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
                url = f"{server.base}/v1/calls/outbound"
                body = {"to": "415 555 0131", "from": "+14155550199"}
                async with http.post(url, json=body) as response:
                    assert response.status == 403
                    assert (await response.json())["error"] == "do_not_call"
                async with http.post(url, json={**body, "to": "+14155550132"}) as response:
                    assert response.status == 201
            refusals = await server.access.audit_entries(action="outbound.refused")
        dialled = [create.one("To") for create in rest.creates()]
    assert dialled == ["+14155550132"]
    assert [(e.target, e.detail.get("reason")) for e in refusals] == [
        ("+14155550131", "do-not-call")
    ]
