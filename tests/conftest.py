"""Shared fixtures: one loaded stack and one live server per test process.

`./run.sh test` runs test files in parallel worker processes (pytest-xdist, `--dist loadfile`):
each file runs whole on one worker, and every session-scoped fixture here (models, servers,
the PostgreSQL cluster) exists once per worker. So a test owns what it creates: ports from the
OS (port 0), its own temp dirs and databases, no process-wide environment changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.compliance.disclosure import DisclosureOptions
from callwright.config import Settings
from callwright.handoff.desk import HandoffDesk
from callwright.server.app import create_app
from callwright.server.auth import digest, hash_password, key_with_secret
from callwright.server.runtime import load_stack
from callwright.store.access import AccessStore, Role, SqlStore
from callwright.store.base import CallDetail, CallStore
from callwright.store.postgres import PostgresCallStore
from callwright.store.sqlite import SqliteCallStore
from callwright.stt.whisper import WhisperOptions, WhisperStt
from examples.clinic.agent import agent as clinic_agent
from examples.clinic.factory import ClinicOptions, ClinicResponderFactory
from examples.clinic.front_desk import DemoResponderFactory
from tests import durations
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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On xdist workers, orders the files longest first (`tests/durations.py`), so that no
    worker is left running a long file alone at the end; a file's own order is kept."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        key = durations.sort_key(durations.load())
        items.sort(key=lambda item: key(item.nodeid))


# Lines of a rerun test's first failure printed at the end of the run.
_RERUN_TAIL_LINES = 25


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Prints the end of each rerun test's first failure: a test that passed on its second
    try leaves only its name in the summary, and the cause of a flaky failure is otherwise
    lost with the run."""
    for report in terminalreporter.stats.get("rerun", []):
        text = getattr(report, "longreprtext", "") or str(getattr(report, "longrepr", ""))
        tail = "\n".join(text.splitlines()[-_RERUN_TAIL_LINES:])
        terminalreporter.write_sep("-", f"first failure of rerun {report.nodeid}")
        terminalreporter.write_line(tail)


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AgentStack]:
    data_dir = tmp_path_factory.mktemp("callwright-data")
    loaded = await load_stack(Settings(data_dir=data_dir), clinic_agent)
    yield loaded
    await loaded.store.close()


@contextlib.asynccontextmanager
async def serving(app: web.Application, **runner_options: Any) -> AsyncIterator[str]:
    """Runs `app` on a free loopback port until the block ends; yields its base URL."""
    runner = web.AppRunner(app, **runner_options)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def api_only(store: CallStore, observability: Any) -> AsyncIterator[str]:
    """The JSON API (`/v1/calls`, `/v1/kpis`...) over `store`, and nothing else, without
    sign-in: its base URL on a free loopback port."""
    from callwright.server.api import register

    stack: Any = AgentStack(None, None, None, None, store, observability=observability)  # type: ignore[arg-type]
    app = web.Application()
    register(app, stack)
    async with serving(app) as base:
        yield base


# A spoken call waits for the agent's opening before the caller speaks: the clinic's greeting
# takes about four seconds and a phone call's disclosure five more; these take about one. For
# tests that do not check the opening (the greeting and disclosure have their own tests).
BRIEF_GREETING = "Hello."
BRIEF_DISCLOSURE = "This call is recorded."


def brief_opening(stack: AgentStack) -> DisclosureOptions:
    """`stack`'s disclosure options with `BRIEF_DISCLOSURE` as the text."""
    return dataclasses.replace(stack.disclosure, text=BRIEF_DISCLOSURE)


@contextlib.asynccontextmanager
async def brief_clinic(stack: AgentStack, data_dir: Path) -> AsyncIterator[AgentStack]:
    """The process's models and call store with a clinic of their own: its own database in
    `data_dir`, its own handoff desk, and a brief opening (`BRIEF_GREETING`, and on phone
    calls `BRIEF_DISCLOSURE`)."""
    clinic = await ClinicResponderFactory.open(
        ClinicOptions(db_path=data_dir / "clinic.sqlite3", greeting=BRIEF_GREETING)
    )
    try:
        yield dataclasses.replace(
            stack,
            responders=clinic,
            events=clinic.emit,
            desk=HandoffDesk(),
            disclosure=brief_opening(stack),
        )
    finally:
        await clinic.close()


def brief_demo(stack: AgentStack) -> AgentStack:
    """`stack` with the deterministic demo agent (its lines are known word for word) and a
    brief opening (`BRIEF_GREETING`, and on phone calls `BRIEF_DISCLOSURE`)."""
    return dataclasses.replace(
        stack,
        responders=DemoResponderFactory(greeting=BRIEF_GREETING),
        disclosure=brief_opening(stack),
    )


@pytest.fixture(scope="session")
def oracle_stt() -> WhisperStt:
    """An independent check of what the caller heard: Whisper's full 30 s window."""
    return WhisperStt.load(WhisperOptions(window="full"))


class MovableClock:
    """A wall clock the test moves (`now`), for calling hours and schedules."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


async def wait_until(condition: Callable[[], Awaitable[bool]], within_s: float = 20.0) -> None:
    """Polls `condition` every 0.1 s; fails the test if it is not true within `within_s`."""
    for _ in range(int(within_s / 0.1)):
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def agent_replies(store: CallStore, call_id: str) -> int:
    """The agent replies the call's record counts finished so far (a simulated phone's sign
    that a reply is over, rather than a quiet spell)."""
    detail = await store.get_call(call_id)
    return 0 if detail is None else sum(u.role == "agent" for u in detail.utterances)


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
    async with serving(create_app(stack)) as base:
        yield f"ws{base.removeprefix('http')}/v1/ws"


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


@pytest.fixture(params=["sqlite", "postgres"])
async def worker_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[AnyStore, AnyStore]]:
    """Two connections to one fresh, empty call store of each kind, as two worker processes
    on the same database have (for checks that must hold across workers)."""
    stores: list[AnyStore] = []
    try:
        if request.param == "sqlite":
            for _ in range(2):
                stores.append(await SqliteCallStore.open(tmp_path / "calls.db"))
        else:
            dsn = request.getfixturevalue("postgres_dsn")
            await asyncio.to_thread(reset_database, dsn)
            for _ in range(2):
                stores.append(await PostgresCallStore.open(dsn))
        yield stores[0], stores[1]
    finally:
        for opened in stores:
            await opened.close()
