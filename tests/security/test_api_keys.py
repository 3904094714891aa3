"""API keys (hashed at rest, shown once, revocable) with the users' roles, the metrics scrape
token, and the `callwright users` / `callwright keys` commands."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.config import SecuritySettings
from callwright.server.auth import new_api_key
from callwright.store.access import Role
from callwright.store.base import CallRecord
from tests.security.conftest import Server, secure_server

REPO = Path(__file__).resolve().parents[2]


async def cli(data_dir: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    env = {**os.environ, "CALLWRIGHT_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    env.pop("CALLWRIGHT_DATABASE_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callwright", *args, cwd=REPO, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate(stdin.encode())
    return process.returncode or 0, out.decode(), err.decode()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def status_of(base: str, path: str, headers: dict[str, str], method: str = "GET") -> int:
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.request(method, base + path, json={}) as response:
            return response.status


async def test_roles_of_api_keys(server: Server) -> None:
    call_id = "c-roles"
    await server.stack.store.start_call(CallRecord(call_id, "websocket", None, time.time()))
    await server.stack.store.add_recording_chunk(call_id, 0, 0.0, 16000, b"\x00\x00" * 64)
    keys = {}
    roles: tuple[Role, ...] = ("viewer", "supervisor", "admin")
    for role in roles:
        secret, key = new_api_key(role, f"{role} key")
        await server.access.add_key(key)
        keys[role] = bearer(secret)
    recording = f"/v1/calls/{call_id}/recording.wav"
    expected = {
        # path: (viewer, supervisor, admin)
        "/v1/calls": (200, 200, 200),
        f"/v1/calls/{call_id}": (200, 200, 200),
        "/v1/kpis": (200, 200, 200),
        recording: (403, 200, 200),
        "/v1/console/me": (403, 200, 200),
        "/v1/audit": (403, 403, 200),
    }
    for path, statuses in expected.items():
        got = tuple([await status_of(server.base, path, keys[r]) for r in keys])
        assert got == statuses, path
    # Outbound: admin only (this server has no Twilio REST: the admin gets past auth to 503).
    posts = [await status_of(server.base, "/v1/calls/outbound", keys[r], "POST") for r in keys]
    assert posts == [403, 403, 503]


async def test_keys_are_hashed_at_rest_and_revocable(tmp_path: Path, stack: AgentStack) -> None:
    code, out, err = await cli(tmp_path, "keys", "create", "--role", "viewer", "--name", "grafana")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("cwk_") and "shown only now" in err
    key_id = secret.split("_")[1]
    db = sqlite3.connect(tmp_path / "calls.sqlite3")
    dump = "\n".join(db.iterdump())
    db.close()
    assert secret.split("_", 2)[2] not in dump  # only the hash is stored
    code, out, _ = await cli(tmp_path, "keys", "list")
    assert out.split("\n")[0].split("\t") == [key_id, "viewer", "active", "grafana"]
    assert secret not in out

    async with secure_server(stack, tmp_path) as server:
        assert await status_of(server.base, "/v1/calls", bearer(secret)) == 200
        code, _, err = await cli(tmp_path, "keys", "revoke", key_id)
        assert code == 0, err
        assert await status_of(server.base, "/v1/calls", bearer(secret)) == 401
    code, out, _ = await cli(tmp_path, "keys", "list")
    assert "\trevoked\t" in out


async def test_users_from_the_command_line(tmp_path: Path, stack: AgentStack) -> None:
    password = "correct horse battery staple"
    code, out, err = await cli(tmp_path, "users", "add", "alice", "--role", "admin", stdin=password)
    assert code == 0 and "added user alice (admin)" in out, err
    code, _, err = await cli(tmp_path, "users", "add", "bob", "--role", "viewer", stdin="short")
    assert code != 0 and "at least" in err
    code, out, _ = await cli(tmp_path, "users", "list")
    assert out.strip().split("\n") == ["alice\tadmin"]
    assert password not in (tmp_path / "calls.sqlite3").read_bytes().decode("latin-1")
    async with secure_server(stack, tmp_path) as server, aiohttp.ClientSession() as http:
        body = {"name": "alice", "password": password}
        async with http.post(f"{server.base}/v1/auth/signin", json=body) as response:
            assert response.status == 200 and (await response.json())["role"] == "admin"
    code, out, _ = await cli(tmp_path, "users", "remove", "alice")
    assert code == 0
    code, out, _ = await cli(tmp_path, "users", "list")
    assert "alice" not in out and "Dana\tsupervisor" in out  # the test server's users remain


async def test_the_scrape_token_reads_metrics_and_nothing_else(
    stack: AgentStack, tmp_path: Path
) -> None:
    settings = SecuritySettings(metrics_token="scrape-" + "m" * 24)
    async with secure_server(stack, tmp_path, settings) as server:
        token = bearer("scrape-" + "m" * 24)
        assert await status_of(server.base, "/metrics", token) == 200
        assert await status_of(server.base, "/v1/calls", token) == 403
        assert await status_of(server.base, "/metrics", bearer("scrape-wrong")) == 401


@pytest.mark.parametrize("role", ["root", ""])
async def test_unknown_roles_are_refused(tmp_path: Path, role: str) -> None:
    code, _, err = await cli(tmp_path, "keys", "create", "--role", role)
    assert code != 0 and "invalid choice" in err
