"""The access audit log: reads, recordings, exports and sign-ins are recorded, append-only,
and admins alone see it at /v1/audit and on the dashboard."""

from __future__ import annotations

import sqlite3
import time

import aiohttp
import pytest

from callwright.store.base import CallRecord
from tests.conftest import ADMIN_HEADERS, OPERATOR_PASSWORD, TEST_KEY_ID
from tests.security.conftest import Server


async def _entries(server: Server, **query: str) -> list[dict[str, object]]:
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        async with http.get(f"{server.base}/v1/audit", params=query) as response:
            assert response.status == 200
            return list((await response.json())["entries"])


async def test_reads_downloads_and_sign_ins_are_audited(server: Server) -> None:
    call_id = "c-audited"
    await server.stack.store.start_call(CallRecord(call_id, "websocket", None, time.time()))
    await server.stack.store.add_recording_chunk(call_id, 0, 0.0, 16000, b"\x00\x00" * 64)
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        for path in (f"/v1/calls/{call_id}", f"/v1/calls/{call_id}/recording.wav"):
            async with http.get(server.base + path) as response:
                assert response.status == 200
        listen = {"Sec-Fetch-Dest": "audio"}
        async with http.get(f"{server.base}/v1/calls/{call_id}/recording.wav", headers=listen):
            pass
        async with http.get(f"{server.base}/v1/calls?outcome=completed"):
            pass
    async with aiohttp.ClientSession() as http:
        bad = {"name": "Dana", "password": "wrong-password"}
        async with http.post(f"{server.base}/v1/auth/signin", json=bad) as response:
            assert response.status == 401
        good = {"name": "Dana", "password": OPERATOR_PASSWORD}
        async with http.post(f"{server.base}/v1/auth/signin", json=good) as response:
            assert response.status == 200

    entries = await _entries(server)
    seen = [(e["actor"], e["action"], e["target"]) for e in reversed(entries)]
    assert seen[:6] == [
        (TEST_KEY_ID, "call.read", call_id),
        (TEST_KEY_ID, "recording.download", call_id),
        (TEST_KEY_ID, "recording.listen", call_id),
        (TEST_KEY_ID, "calls.export", "outcome=completed"),
        ("Dana", "signin.failed", "Dana"),
        ("Dana", "signin.ok", "Dana"),
    ]
    assert all(e["address"] == "127.0.0.1" for e in entries)
    assert "wrong-password" not in str(entries)
    only = await _entries(server, action="signin.failed")
    assert [e["actor"] for e in only] == ["Dana"]
    # Reading the log is itself recorded.
    assert any(e["action"] == "audit.read" for e in await _entries(server))


async def test_a_failed_sign_in_keeps_no_unknown_name(server: Server) -> None:
    """What was typed as a name may be someone's password: only real user names are kept."""
    typed = "Tr0ub4dor&3-in-the-wrong-field"
    async with aiohttp.ClientSession() as http:
        body = {"name": typed, "password": "x"}
        async with http.post(f"{server.base}/v1/auth/signin", json=body) as response:
            assert response.status == 401
    entries = await _entries(server, action="signin.failed")
    assert [(e["actor"], e["target"]) for e in entries] == [("(unknown user)", "(unknown user)")]
    assert typed not in str(await _entries(server))


async def test_polling_the_calls_list_is_recorded_once(server: Server) -> None:
    """The dashboard re-reads the list every 15 s: one entry per credential and query."""
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        for query in ("limit=5", "limit=5", "limit=5", "status=ended"):
            async with http.get(f"{server.base}/v1/calls?{query}") as response:
                assert response.status == 200
    exports = await _entries(server, action="calls.export")
    assert sorted(str(e["target"]) for e in exports) == ["limit=5", "status=ended"]


async def test_only_admins_read_the_audit_log(server: Server) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        body = {"name": "Dana", "password": OPERATOR_PASSWORD}  # a supervisor
        async with http.post(f"{server.base}/v1/auth/signin", json=body):
            pass
        async with http.get(f"{server.base}/v1/audit") as response:
            assert response.status == 403
        async with http.get(f"{server.base}/dashboard/audit") as response:
            assert response.status == 403


async def test_the_audit_log_is_append_only(server: Server) -> None:
    await server.access.audit("someone", "user", "call.read", "c-1", "127.0.0.1")
    path = server.stack.store._path  # type: ignore[attr-defined]
    db = sqlite3.connect(path)
    try:
        for statement in ("UPDATE access_audit SET actor = 'nobody'", "DELETE FROM access_audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(statement)
    finally:
        db.close()
    assert [e.actor for e in await server.access.audit_entries()] == ["someone"]
