"""The compliance tables in the call store's database, created once per store."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any, Protocol

# One statement of `SqlStore.sql_transaction` and its parameters.
SqlStep = tuple[str, tuple[Any, ...]]


class SqlStore(Protocol):
    """What a call store offers for tables kept beside the calls (see `store/access.py`)."""

    dialect: str

    async def sql_execute(self, sql: str, params: tuple[Any, ...] = ()) -> int: ...

    async def sql_fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]: ...

    async def sql_script(self, ddl: str) -> None: ...

    async def sql_transaction(self, lock: str, steps: Sequence[SqlStep]) -> list[int]:
        """Statements in one transaction under the lock `lock` names, shared by every worker
        on the database; a statement that changes no rows ends it (`store/sqlite.py`)."""
        ...


async def apply_schema(store: SqlStore, package: str) -> None:
    """Creates a package's tables (its `schema.sql`) if they are not there (idempotent)."""
    ddl = resources.files(package).joinpath("schema.sql").read_text("utf-8")
    await store.sql_script(ddl)


async def ensure_tables(store: SqlStore) -> None:
    """Creates the compliance tables if they are not there (idempotent, cheap to repeat)."""
    await apply_schema(store, "callwright.compliance")


class SchemaTables:
    """Base of the classes that keep tables beside the calls: their package's schema is
    applied once per instance, before the first query."""

    schema_package = "callwright.compliance"

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._ready = False

    async def _ensure(self) -> None:
        if not self._ready:
            await apply_schema(self._store, self.schema_package)
            self._ready = True


class ComplianceTables(SchemaTables):
    """Base of the classes that keep a compliance table."""
