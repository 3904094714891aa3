"""Shared fixtures: one loaded stack and one live server per test session."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.config import Settings
from callwright.server.app import create_app
from callwright.server.runtime import load_stack
from callwright.store.base import CallDetail
from callwright.stt.whisper import WhisperOptions, WhisperStt
from examples.clinic.agent import agent as clinic_agent

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CONSOLE_TOKEN = "test-console-token"  # the handoff console's sign-in token in every test server


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
    runner = web.AppRunner(create_app(stack, console_token=CONSOLE_TOKEN))
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
