"""A test server with its own store per test: security tests own their users and audit log."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.compliance.settings import ComplianceSettings
from callwright.config import SecuritySettings
from callwright.server.app import create_app
from callwright.store.access import AccessStore
from callwright.store.sqlite import SqliteCallStore
from callwright.telephony.settings import TelephonySettings
from tests.conftest import provision_operators
from tests.fakes.twilio_rest import DAYTIME


@dataclass(slots=True)
class Server:
    """A running server: its root URL, port, store and access tables."""

    base: str
    port: int
    stack: AgentStack
    access: AccessStore


@contextlib.asynccontextmanager
async def secure_server(
    stack: AgentStack,
    data_dir: Path,
    security: SecuritySettings | None = None,
    telephony: TelephonySettings | None = None,
    compliance: ComplianceSettings = DAYTIME,
    agents: Mapping[str, AgentStack] | None = None,
) -> AsyncIterator[Server]:
    """Runs a server on a fresh SQLite store (with the test operators) on a loopback port."""
    store = await SqliteCallStore.open(data_dir / "calls.sqlite3")
    own = dataclasses.replace(stack, store=store)
    access = await provision_operators(store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner = web.AppRunner(
        create_app(own, telephony, security=security, compliance=compliance, agents=agents)
    )
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield Server(f"http://127.0.0.1:{port}", port, own, access)
    finally:
        await runner.cleanup()
        await store.close()


@pytest.fixture
async def server(stack: AgentStack, tmp_path: Path) -> AsyncIterator[Server]:
    async with secure_server(stack, tmp_path) as running:
        yield running
