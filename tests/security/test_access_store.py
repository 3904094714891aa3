"""Users, sessions, API keys and the audit log in both stores (SQLite and PostgreSQL): the
same behaviour, append-only audit included."""

from __future__ import annotations

import asyncio
import time

from callwright.server.auth import digest, new_api_key
from callwright.store.access import AccessStore
from tests.pg_cluster import AnyStore


async def test_users_and_sessions(store: AnyStore) -> None:
    access = await AccessStore.open(store)
    await AccessStore.open(store)  # the schema applies again without harm
    assert await access.add_user("ann", "viewer", "hash-1")
    assert not await access.add_user("ann", "admin", "hash-2")  # replaced, not duplicated
    user = await access.get_user("ann")
    assert user is not None and (user.role, user.password_hash) == ("admin", "hash-2")
    await access.add_session(digest("tok-a"), "ann", time.time() + 60)
    await access.add_session(digest("tok-old"), "ann", time.time() - 1)
    found = await access.session_user(digest("tok-a"))
    assert found is not None and found.name == "ann"
    assert await access.session_user(digest("tok-old")) is None  # expired
    assert await access.session_user(digest("nope")) is None
    assert await access.revoke_session(digest("tok-a"))
    assert await access.session_user(digest("tok-a")) is None
    assert not await access.revoke_session(digest("tok-a"))
    await access.add_session(digest("tok-b"), "ann", time.time() + 60)
    assert await access.remove_user("ann")
    assert await access.session_user(digest("tok-b")) is None
    assert await access.list_users() == []


async def test_api_keys(store: AnyStore) -> None:
    access = await AccessStore.open(store)
    secret, key = new_api_key("supervisor", "ci")
    await access.add_key(key)
    stored = await access.get_key(key.key_id)
    assert stored is not None and stored.secret_hash == digest(secret.split("_", 2)[2])
    assert stored.revoked_at is None and stored.role == "supervisor"
    assert await access.revoke_key(key.key_id)
    revoked = await access.get_key(key.key_id)
    assert revoked is not None and revoked.revoked_at is not None
    assert [k.key_id for k in await access.list_keys()] == [key.key_id]


async def test_audit_log_is_append_only(store: AnyStore) -> None:
    access = await AccessStore.open(store)
    await access.audit("ann", "user", "call.read", "c-1", "10.0.0.1", {"n": 1})
    await asyncio.sleep(0.01)
    await access.audit("bob", "api_key", "recording.download", "c-2", "10.0.0.2")
    entries = await access.audit_entries()
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("bob", "recording.download", "c-2"),
        ("ann", "call.read", "c-1"),
    ]
    assert entries[1].detail == {"n": 1}
    assert [e.actor for e in await access.audit_entries(actor="ann")] == ["ann"]
    # Neither UPDATE nor DELETE changes it (SQLite refuses; PostgreSQL's rules do nothing).
    for statement in ("UPDATE access_audit SET actor = 'x'", "DELETE FROM access_audit"):
        try:
            await store.sql_execute(statement)
        except Exception as exc:
            assert "append-only" in str(exc)
    assert [e.actor for e in await access.audit_entries()] == ["bob", "ann"]


async def test_login_failures_are_counted_in_a_window(store: AnyStore) -> None:
    access = await AccessStore.open(store)
    start = time.time()
    await access.add_login_failure(["name:ann", "address:10.0.0.1"], window_s=60)
    await access.add_login_failure(["name:ann"], window_s=60)
    count, oldest = await access.login_failures("name:ann", start - 1)
    assert count == 2 and oldest is not None and start - 1 <= oldest <= time.time()
    assert (await access.login_failures("address:10.0.0.1", start - 1))[0] == 1
    assert (await access.login_failures("name:ann", time.time() + 1))[0] == 0  # outside
    await access.clear_login_failures("name:ann")
    assert (await access.login_failures("name:ann", start - 1))[0] == 0
    # A new failure forgets those older than its window.
    await asyncio.sleep(0.05)
    await access.add_login_failure(["name:bob"], window_s=0.01)
    assert (await access.login_failures("address:10.0.0.1", 0))[0] == 0
