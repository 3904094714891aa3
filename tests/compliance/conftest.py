"""Both stores for the compliance tables: SQLite, and PostgreSQL from a throwaway cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from callwright.store.postgres import PostgresCallStore
from callwright.store.sqlite import SqliteCallStore
from tests.pg_cluster import postgres_cluster, reset_database

AnyStore = SqliteCallStore | PostgresCallStore


@pytest.fixture(scope="package")
def postgres_dsn() -> Iterator[str]:
    with postgres_cluster() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnyStore]:
    s: AnyStore
    if request.param == "sqlite":
        s = await SqliteCallStore.open(tmp_path / "calls.db")
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        await asyncio.to_thread(reset_database, dsn)
        s = await PostgresCallStore.open(dsn)
    yield s
    await s.close()
