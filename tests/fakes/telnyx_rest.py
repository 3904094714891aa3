"""A local fake of Telnyx's Call Control API (call commands), for tests.

The real API is paid and remote. This one listens on 127.0.0.1, checks the bearer API key,
records every command, and answers as Telnyx documents for
`POST /v2/calls/{call_control_id}/actions/{action}`:

- a known call and a valid body: 200 `{"data": {"result": "ok"}}`;
- `transfer` without a `to`: 422 with an `errors` list;
- a missing or wrong API key: 401; an unknown call: 404 (both with an `errors` list).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "KEY0123456789ABCDEF_fake_telnyx"


@dataclass(frozen=True, slots=True)
class Command:
    """One call command the fake received."""

    call_control_id: str
    action: str
    authorization: str | None
    body: dict[str, Any]


def _errors(status: int, code: str, title: str, detail: str) -> web.Response:
    body = {"errors": [{"code": code, "title": title, "detail": detail}]}
    return web.json_response(body, status=status)


@dataclass(slots=True)
class FakeTelnyxRest:
    """State of the fake: the live calls it knows and the commands it got."""

    api_key: str = API_KEY
    url: str = ""  # the API root, ending in /v2
    calls: set[str] = field(default_factory=set)
    commands: list[Command] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v2/calls/{call_control_id}/actions/{action}", self._command)
        return app

    async def _command(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        call_id, action = request.match_info["call_control_id"], request.match_info["action"]
        auth = request.headers.get("Authorization")
        self.commands.append(Command(call_id, action, auth, body if isinstance(body, dict) else {}))
        self.changed.set()
        if auth != f"Bearer {self.api_key}":
            return _errors(401, "10009", "Authentication failed", "The API key is not valid.")
        if not isinstance(body, dict):
            return _errors(422, "10015", "Invalid request", "The body must be a JSON object.")
        if call_id not in self.calls:
            return _errors(404, "90018", "Call not found", f"No live call {call_id}.")
        if action == "transfer" and not isinstance(body.get("to"), str):
            return _errors(422, "10004", "Missing required parameter", "'to' is required.")
        if action == "hangup":
            self.calls.discard(call_id)
        return web.json_response({"data": {"result": "ok"}})


@contextlib.asynccontextmanager
async def fake_telnyx() -> AsyncIterator[FakeTelnyxRest]:
    """Runs the fake Call Control API on a free loopback port."""
    fake = FakeTelnyxRest()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.url = f"http://127.0.0.1:{port}/v2"
    try:
        yield fake
    finally:
        await runner.cleanup()
