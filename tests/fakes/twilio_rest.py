"""A local fake of Twilio's REST API (the Calls resource), for tests.

The real API is paid and remote. This one listens on 127.0.0.1, checks HTTP basic auth with
the account SID and auth token, records every request, and answers as Twilio documents:

- `POST /2010-04-01/Accounts/{AccountSid}/Calls.json` (To, From, Twiml or Url, StatusCallback,
  StatusCallbackEvent...): 201 with a call resource in status "queued";
- `POST /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json` (Twiml, Status=completed...):
  200 with the updated call resource;
- a wrong account or bad credentials: 401 with Twilio's error body (code 20003);
  an unknown call: 404 (code 20404);
- `create_error`: every create is recorded and then answered with that status (a 500: the
  platform failed after the request reached it, so the call may or may not exist).

Also here: `serve_phone`, a callwright server with telephony settings on a loopback port.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import cast

from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.compliance.consent import ConsentRecords
from callwright.compliance.settings import ComplianceSettings
from callwright.compliance.tables import SqlStore
from callwright.server.app import create_app
from callwright.store.base import CallStore
from callwright.telephony.settings import TelephonySettings
from tests.conftest import provision_operators

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    form: dict[str, list[str]]

    def one(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass(slots=True)
class FakeTwilioRest:
    """State of the fake: calls it knows and requests it got."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    calls: dict[str, dict[str, object]] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    create_error: int | None = None

    def updates_of(self, call_sid: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith(f"/Calls/{call_sid}.json")]

    def creates(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/Calls.json")]

    def known_call(self, call_sid: str) -> None:
        """A call that exists at Twilio (e.g. an incoming call)."""
        self.calls.setdefault(call_sid, self._resource(call_sid, "in-progress", "", ""))

    async def wait_for(self, count: int, timeout_s: float = 20.0) -> None:
        """Until at least `count` requests were recorded."""
        async with asyncio.timeout(timeout_s):
            while len(self.requests) < count:
                self.changed.clear()
                await self.changed.wait()

    def _resource(self, sid: str, status: str, to: str, from_: str) -> dict[str, object]:
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": from_,
            "status": status,
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json",
        }

    def app(self) -> web.Application:
        app = web.Application()
        base = "/2010-04-01/Accounts/{account}"
        app.router.add_post(base + "/Calls.json", self._create)
        app.router.add_post(base + "/Calls/{sid}.json", self._update)
        return app

    async def _record(self, request: web.Request) -> RecordedRequest:
        form: dict[str, list[str]] = {}
        for key, value in (await request.post()).items():
            form.setdefault(key, []).append(str(value))
        recorded = RecordedRequest(request.method, request.path, form)
        self.requests.append(recorded)
        self.changed.set()
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        if (
            request.match_info["account"] != self.account_sid
            or request.headers.get("Authorization") != expected
        ):
            raise web.HTTPUnauthorized(
                text='{"code": 20003, "message": "Authenticate", "status": 401}',
                content_type="application/json",
            )
        return recorded

    async def _create(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        if self.create_error is not None:
            return web.json_response(
                {"code": 20500, "message": "Internal Server Error", "status": self.create_error},
                status=self.create_error,
            )
        to, from_ = recorded.one("To"), recorded.one("From")
        if not to or not from_ or not (recorded.one("Twiml") or recorded.one("Url")):
            return web.json_response(
                {"code": 21201, "message": "To, From and Twiml or Url are required"}, status=400
            )
        sid = "CA" + uuid.uuid4().hex
        self.calls[sid] = self._resource(sid, "queued", to, from_)
        return web.json_response(self.calls[sid], status=201)

    async def _update(self, request: web.Request) -> web.Response:
        await self._record(request)
        sid = request.match_info["sid"]
        if sid not in self.calls:
            return web.json_response(
                {"code": 20404, "message": f"The requested resource {request.path} was not found"},
                status=404,
            )
        form = await request.post()
        if form.get("Status"):
            self.calls[sid]["status"] = str(form["Status"])
        return web.json_response(self.calls[sid])


async def _listen(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def fake_twilio() -> AsyncIterator[FakeTwilioRest]:
    """Runs the fake REST API on a free loopback port."""
    fake = FakeTwilioRest()
    runner, fake.url = await _listen(fake.app())
    try:
        yield fake
    finally:
        await runner.cleanup()


async def consent_to_calls(store: CallStore, *numbers: str) -> None:
    """Records the written consent to automated calls (any purpose) these numbers gave."""
    records = ConsentRecords(cast(SqlStore, store))
    for number in numbers:
        await records.add(number, "*", "written", "signed form (test)")


# Tuesday 2 June 2026, 18:00 UTC: 11:00 in California, 14:00 in New York (calling hours).
MIDDAY = dt.datetime(2026, 6, 2, 18, 0, tzinfo=dt.UTC)
DAYTIME = ComplianceSettings(clock=lambda: MIDDAY)


@contextlib.asynccontextmanager
async def serve_phone(
    stack: AgentStack,
    settings: TelephonySettings,
    compliance: ComplianceSettings = DAYTIME,
    agents: Mapping[str, AgentStack] | None = None,
) -> AsyncIterator[str]:
    """Runs a callwright server with these telephony settings; yields its http:// root.

    The port is bound first, so the public base URL (required with the REST API) can name it.
    Its clock is a fixed weekday midday in North America unless `compliance` says otherwise:
    outbound calls in tests never depend on the hour the tests run at. `agents` are the named
    agents campaigns may pick.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    if settings.public_base_url is None:
        settings = dataclasses.replace(settings, public_base_url=url)
    await provision_operators(stack.store)
    runner = web.AppRunner(create_app(stack, settings, compliance=compliance, agents=agents))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield url
    finally:
        await runner.cleanup()
