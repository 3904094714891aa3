"""Operator accounts, sign-in sessions, API keys and the access audit log.

They live in the call store's database (SQLite or PostgreSQL), in the tables of `access.sql`,
through three generic methods both stores have (`sql_execute`, `sql_fetch`, `sql_script`).
This module stores and looks up; hashing passwords and minting secrets is the server's job
(`callwright.server.auth`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, Protocol

Role = Literal["viewer", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "supervisor", "admin")

_APPEND_ONLY = {
    "sqlite": """
CREATE TRIGGER IF NOT EXISTS access_audit_no_update BEFORE UPDATE ON access_audit
BEGIN SELECT RAISE(ABORT, 'the access audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS access_audit_no_delete BEFORE DELETE ON access_audit
BEGIN SELECT RAISE(ABORT, 'the access audit log is append-only'); END;
""",
    "postgresql": """
CREATE OR REPLACE RULE access_audit_no_update AS ON UPDATE TO access_audit DO INSTEAD NOTHING;
CREATE OR REPLACE RULE access_audit_no_delete AS ON DELETE TO access_audit DO INSTEAD NOTHING;
""",
}


class SqlStore(Protocol):
    """What a call store offers for tables kept beside the calls."""

    dialect: str

    async def sql_execute(self, sql: str, params: tuple[Any, ...] = ()) -> int: ...

    async def sql_fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]: ...

    async def sql_script(self, ddl: str) -> None: ...


@dataclass(frozen=True, slots=True)
class User:
    """An operator who signs in with a password."""

    name: str
    role: Role
    password_hash: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's stored half (the secret itself is shown once, never stored)."""

    key_id: str
    name: str
    role: Role
    secret_hash: str
    created_at: float
    revoked_at: float | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the access audit log.

    Attributes:
        at: epoch seconds.
        actor: user name, API key id, or the name typed at a failed sign-in.
        actor_kind: "user", "api_key", "scrape_token" or "anonymous".
        action: what was done: "call.read", "recording.download", "calls.list", "outbound.place",
            "signin.ok", "signin.failed", ...
        target: what it was done to (a call id, a number), if anything.
        address: the client's address.
        detail: anything else worth keeping (never secrets).
    """

    entry_id: str
    at: float
    actor: str
    actor_kind: str
    action: str
    target: str | None
    address: str | None
    detail: dict[str, Any]


class AccessStore:
    """Users, sessions, API keys and the audit log in the call store's database.

    Args:
        store: the open call store.
    """

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._ready = False

    @classmethod
    async def open(cls, store: SqlStore) -> AccessStore:
        access = cls(store)
        await access.ensure_schema()
        return access

    async def ensure_schema(self) -> None:
        if self._ready:
            return
        ddl = resources.files("callwright.store").joinpath("access.sql").read_text("utf-8")
        await self._store.sql_script(ddl + _APPEND_ONLY.get(self._store.dialect, ""))
        self._ready = True

    # --- users -----------------------------------------------------------------------------

    async def add_user(self, name: str, role: Role, password_hash: str) -> bool:
        """Adds a user, or replaces the role and password of an existing one; True if new."""
        existed = await self.get_user(name) is not None
        if existed:
            await self._store.sql_execute(
                "UPDATE operator_users SET role = ?, password_hash = ? WHERE name = ?",
                (role, password_hash, name),
            )
        else:
            await self._store.sql_execute(
                "INSERT INTO operator_users (name, role, password_hash, created_at)"
                " VALUES (?, ?, ?, ?)",
                (name, role, password_hash, time.time()),
            )
        return not existed

    async def get_user(self, name: str) -> User | None:
        rows = await self._store.sql_fetch(
            "SELECT name, role, password_hash, created_at FROM operator_users WHERE name = ?",
            (name,),
        )
        return User(**rows[0]) if rows else None

    async def list_users(self) -> list[User]:
        rows = await self._store.sql_fetch(
            "SELECT name, role, password_hash, created_at FROM operator_users ORDER BY name"
        )
        return [User(**r) for r in rows]

    async def remove_user(self, name: str) -> bool:
        """Deletes the user and revokes their sessions; True if there was one."""
        await self.revoke_sessions_of(name)
        return (
            await self._store.sql_execute("DELETE FROM operator_users WHERE name = ?", (name,)) > 0
        )

    # --- sessions --------------------------------------------------------------------------

    async def add_session(self, token_hash: str, user_name: str, expires_at: float) -> None:
        await self._store.sql_execute(
            "INSERT INTO operator_sessions (token_hash, user_name, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (token_hash, user_name, time.time(), expires_at),
        )

    async def session_user(self, token_hash: str, now: float | None = None) -> User | None:
        """The user of a live session (not expired, not revoked, user still there), or None."""
        rows = await self._store.sql_fetch(
            "SELECT u.name, u.role, u.password_hash, u.created_at FROM operator_sessions s"
            " JOIN operator_users u ON u.name = s.user_name"
            " WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?",
            (token_hash, time.time() if now is None else now),
        )
        return User(**rows[0]) if rows else None

    async def revoke_session(self, token_hash: str) -> bool:
        changed = await self._store.sql_execute(
            "UPDATE operator_sessions SET revoked_at = ?"
            " WHERE token_hash = ? AND revoked_at IS NULL",
            (time.time(), token_hash),
        )
        return changed > 0

    async def revoke_sessions_of(self, user_name: str) -> int:
        return await self._store.sql_execute(
            "UPDATE operator_sessions SET revoked_at = ?"
            " WHERE user_name = ? AND revoked_at IS NULL",
            (time.time(), user_name),
        )

    # --- failed sign-ins -------------------------------------------------------------------

    async def add_login_failure(self, keys: list[str], window_s: float) -> list[str]:
        """Counts a failed sign-in against each key, forgetting failures older than the window;
        returns the ids of the failures written (`remove_login_failures` strikes them off)."""
        now = time.time()
        await self._store.sql_execute("DELETE FROM login_failures WHERE at < ?", (now - window_s,))
        ids = []
        for key in keys:
            failure_id = uuid.uuid4().hex
            await self._store.sql_execute(
                "INSERT INTO login_failures (failure_id, failure_key, at) VALUES (?, ?, ?)",
                (failure_id, key, now),
            )
            ids.append(failure_id)
        return ids

    async def remove_login_failures(self, failure_ids: Sequence[str]) -> None:
        for failure_id in failure_ids:
            await self._store.sql_execute(
                "DELETE FROM login_failures WHERE failure_id = ?", (failure_id,)
            )

    async def login_failures(self, key: str, since: float) -> tuple[int, float | None]:
        """How many failures `key` had since then, and when the oldest of them was."""
        rows = await self._store.sql_fetch(
            "SELECT COUNT(*) AS n, MIN(at) AS oldest FROM login_failures"
            " WHERE failure_key = ? AND at >= ?",
            (key, since),
        )
        return int(rows[0]["n"]), rows[0]["oldest"]

    async def clear_login_failures(self, key: str) -> None:
        await self._store.sql_execute("DELETE FROM login_failures WHERE failure_key = ?", (key,))

    # --- where operators signed in before ---------------------------------------------------

    async def add_known_signin(self, name_at_address: str, keep_s: float) -> None:
        """Records a successful sign-in from there (refreshed each time), forgetting those not
        refreshed for `keep_s`."""
        now = time.time()
        await self._store.sql_execute(
            "DELETE FROM known_signins WHERE last_at < ?", (now - keep_s,)
        )
        await self._store.sql_execute(
            "INSERT INTO known_signins (name_at_address, last_at) VALUES (?, ?)"
            " ON CONFLICT (name_at_address) DO UPDATE SET last_at = excluded.last_at",
            (name_at_address, now),
        )

    async def known_signin(self, name_at_address: str, since: float) -> bool:
        """Whether that name signed in from that address since then."""
        rows = await self._store.sql_fetch(
            "SELECT 1 AS known FROM known_signins WHERE name_at_address = ? AND last_at >= ?",
            (name_at_address, since),
        )
        return bool(rows)

    # --- API keys --------------------------------------------------------------------------

    async def add_key(self, key: ApiKey) -> None:
        await self._store.sql_execute(
            "INSERT INTO api_keys (key_id, name, role, secret_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (key.key_id, key.name, key.role, key.secret_hash, key.created_at),
        )

    async def get_key(self, key_id: str) -> ApiKey | None:
        rows = await self._store.sql_fetch(
            "SELECT key_id, name, role, secret_hash, created_at, revoked_at FROM api_keys"
            " WHERE key_id = ?",
            (key_id,),
        )
        return ApiKey(**rows[0]) if rows else None

    async def list_keys(self) -> list[ApiKey]:
        rows = await self._store.sql_fetch(
            "SELECT key_id, name, role, secret_hash, created_at, revoked_at FROM api_keys"
            " ORDER BY created_at"
        )
        return [ApiKey(**r) for r in rows]

    async def revoke_key(self, key_id: str) -> bool:
        changed = await self._store.sql_execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            (time.time(), key_id),
        )
        return changed > 0

    # --- audit log -------------------------------------------------------------------------

    async def audit(
        self,
        actor: str,
        actor_kind: str,
        action: str,
        target: str | None = None,
        address: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Appends one entry to the access audit log."""
        await self._store.sql_execute(
            "INSERT INTO access_audit"
            " (entry_id, at, actor, actor_kind, action, target, address, detail_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uuid.uuid4().hex,
                time.time(),
                actor,
                actor_kind,
                action,
                target,
                address,
                json.dumps(detail or {}, default=str),
            ),
        )

    async def audit_entries(
        self,
        limit: int = 200,
        since: float | None = None,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """Entries, newest first."""
        sql = (
            "SELECT entry_id, at, actor, actor_kind, action, target, address, detail_json"
            " FROM access_audit WHERE 1 = 1"
        )
        params: list[Any] = []
        for column, value in (("at >=", since), ("actor =", actor), ("action =", action)):
            if value is not None:
                sql += f" AND {column} ?"
                params.append(value)
        sql += " ORDER BY at DESC, entry_id DESC LIMIT ?"
        params.append(max(0, limit))
        rows = await self._store.sql_fetch(sql, tuple(params))
        return [
            AuditEntry(
                r["entry_id"],
                r["at"],
                r["actor"],
                r["actor_kind"],
                r["action"],
                r["target"],
                r["address"],
                json.loads(r["detail_json"]),
            )
            for r in rows
        ]
