"""The compliance tables in the call store's database, created once per store."""

from __future__ import annotations

from importlib import resources
from typing import Any, Protocol


class SqlStore(Protocol):
    """What a call store offers for tables kept beside the calls (see `store/access.py`)."""

    dialect: str

    async def sql_execute(self, sql: str, params: tuple[Any, ...] = ()) -> int: ...

    async def sql_fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]: ...

    async def sql_script(self, ddl: str) -> None: ...


async def ensure_tables(store: SqlStore) -> None:
    """Creates the compliance tables if they are not there (idempotent, cheap to repeat)."""
    ddl = resources.files("callwright.compliance").joinpath("schema.sql").read_text("utf-8")
    await store.sql_script(ddl)


class ComplianceTables:
    """Base of the classes that keep a compliance table: the schema is applied once each."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._ready = False

    async def _ensure(self) -> None:
        if not self._ready:
            await ensure_tables(self._store)
            self._ready = True
