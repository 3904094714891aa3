"""Opening the handoff desk that goes with the call store."""

from __future__ import annotations

from callwright.handoff.desk import Desk, HandoffDesk
from callwright.store.base import CallStore


async def open_desk(store: CallStore, stale_after_s: float = 30.0) -> Desk:
    """A desk shared through PostgreSQL with the PostgreSQL store, else one in memory.

    The same setting picks both (`CALLWRIGHT_DATABASE_URL`): workers that share a database
    share the queue. Call after `store.register_worker`: the shared desk is per worker id.
    """
    if getattr(store, "dialect", "") == "postgresql":
        from callwright.handoff.pg_desk import PostgresDesk  # psycopg: an optional dependency
        from callwright.store.postgres import PostgresCallStore

        if isinstance(store, PostgresCallStore):
            return await PostgresDesk.open(store, stale_after_s=stale_after_s)
    return HandoffDesk()
