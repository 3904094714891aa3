"""The server's compliance side: its settings and do-not-call list (docs/compliance.md)."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from callwright.compliance.dnc import DoNotCallList
from callwright.compliance.hours import CallingHours
from callwright.compliance.settings import ComplianceSettings
from callwright.compliance.tables import SqlStore
from callwright.store.base import CallStore


class ServerCompliance:
    """One server's compliance settings and the tables they act on.

    Args:
        settings: how numbers are read, opt-out.
        store: the call store, which also keeps the compliance tables.
    """

    def __init__(self, settings: ComplianceSettings, store: CallStore) -> None:
        self.settings = settings
        self.dnc = DoNotCallList(cast(SqlStore, store))
        self.hours = CallingHours(settings.hours)


COMPLIANCE = web.AppKey("compliance", ServerCompliance)


def compliance_of(app: web.Application) -> ServerCompliance:
    """The server's compliance side (set up by `create_app`)."""
    return app[COMPLIANCE]
