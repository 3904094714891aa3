"""Opening the configured call store: SQLite by default, PostgreSQL when a URL is given."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from callwright.store.base import CallStore


async def open_store(sqlite_path: Path, env: Mapping[str, str] | None = None) -> CallStore:
    """PostgreSQL if CALLWRIGHT_DATABASE_URL is set (postgresql://...), else SQLite at the path."""
    env = os.environ if env is None else env
    url = env.get("CALLWRIGHT_DATABASE_URL", "").strip()
    if url:
        if not url.startswith(("postgres://", "postgresql://")):
            raise ValueError("CALLWRIGHT_DATABASE_URL must be a postgresql:// URL")
        from callwright.store.postgres import PostgresCallStore  # optional dependency

        return await PostgresCallStore.open(url)
    from callwright.store.sqlite import SqliteCallStore

    return await SqliteCallStore.open(sqlite_path)
