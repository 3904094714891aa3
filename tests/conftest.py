"""Shared fixtures: one loaded stack and one live server per test session."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.config import Settings
from callwright.server.app import create_app
from callwright.server.auth import digest, hash_password, key_with_secret
from callwright.server.runtime import load_stack
from callwright.store.access import AccessStore, Role, SqlStore
from callwright.store.base import CallDetail, CallStore
from callwright.store.postgres import PostgresCallStore
from callwright.store.sqlite import SqliteCallStore
from callwright.stt.whisper import WhisperOptions, WhisperStt
from examples.clinic.agent import agent as clinic_agent
from tests.pg_cluster import AnyStore, postgres_cluster, reset_database

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# Every test server knows these operators (`provision_operators`): the helpers sign in with
# them once, so tests need not. Users share one password; the API key is an admin's.
OPERATOR_PASSWORD = "test-operator-password"
OPERATORS: dict[str, Role] = {
    "admin": "admin",
    "Dana": "supervisor",
    "Sam": "supervisor",
    "Vic": "viewer",
}
TEST_KEY_ID = "00000000feedc0de"
TEST_API_KEY, _TEST_KEY = key_with_secret(TEST_KEY_ID, "t" * 43, "admin", "tests")
ADMIN_HEADERS = {"Authorization": f"Bearer {TEST_API_KEY}"}
# A signed-in admin's session token: the browser tests start with it as their cookie.
TEST_SESSION = "test-admin-browser-session-" + "s" * 16
# The simulated callers (callwright.sim) authenticate to /v1/ws with this.
os.environ["CALLWRIGHT_API_KEY"] = TEST_API_KEY


async def provision_operators(store: CallStore) -> AccessStore:
    """Adds the test operators, the admin API key and the browser session (idempotent)."""
    access = await AccessStore.open(cast(SqlStore, store))
    for name, role in OPERATORS.items():
        if await access.get_user(name) is None:
            await access.add_user(name, role, await hash_password(OPERATOR_PASSWORD))
    if await access.get_key(TEST_KEY_ID) is None:
        await access.add_key(_TEST_KEY)
    if await access.session_user(digest(TEST_SESSION)) is None:
        await access.add_session(digest(TEST_SESSION), "admin", time.time() + 7 * 86400)
    return access


def operator_http(**kwargs: Any) -> aiohttp.ClientSession:
    """An HTTP client that sends the test admin's API key with every request."""
    return aiohttp.ClientSession(headers=ADMIN_HEADERS, **kwargs)


def normalize(text: str) -> list[str]:
    """Words of a transcript, lower-cased, digits and punctuation normalized away."""
    return re.findall(r"[a-z']+", text.lower().replace("’", "'"))


def http_base(ws_url: str) -> str:
    """http://host:port of the server whose WebSocket URL is `ws_url`."""
    return ws_url.replace("ws://", "http://", 1).removesuffix("/v1/ws")


def word_overlap(expected: str, actual: str) -> float:
    """Share of the expected words that appear in the actual transcript."""
    want = normalize(expected)
    got = set(normalize(actual))
    return sum(w in got for w in want) / max(len(want), 1)


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AgentStack]:
    data_dir = tmp_path_factory.mktemp("callwright-data")
    loaded = await load_stack(Settings(data_dir=data_dir), clinic_agent)
    yield loaded
    await loaded.store.close()


@pytest.fixture(scope="session")
def oracle_stt() -> WhisperStt:
    """An independent check of what the caller heard: Whisper's full 30 s window."""
    return WhisperStt.load(WhisperOptions(window="full"))


async def finished_call(stack: AgentStack, call_id: str, timeout_s: float = 15.0) -> CallDetail:
    """The stored call once the server has finished writing it."""
    for _ in range(int(timeout_s * 10)):
        detail = await stack.store.get_call(call_id)
        if detail is not None and detail.record.status != "active":
            return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_id} never finished")


@contextlib.asynccontextmanager
async def serve(stack: AgentStack) -> AsyncIterator[str]:
    """Runs a server for `stack` on a free loopback port; yields its WebSocket URL."""
    await provision_operators(stack.store)
    runner = web.AppRunner(create_app(stack))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"ws://127.0.0.1:{port}/v1/ws"
    finally:
        await runner.cleanup()


@pytest.fixture(scope="session")
async def server_url(stack: AgentStack) -> AsyncIterator[str]:
    async with serve(stack) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """One throwaway PostgreSQL cluster for the run; each test resets its database."""
    with postgres_cluster() as dsn:
        yield dsn


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AnyStore]:
    """A fresh, empty call store of each kind (the store contract holds on both)."""
    s: AnyStore
    if request.param == "sqlite":
        s = await SqliteCallStore.open(tmp_path / "calls.db")
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        await asyncio.to_thread(reset_database, dsn)
        s = await PostgresCallStore.open(dsn)
    yield s
    await s.close()
