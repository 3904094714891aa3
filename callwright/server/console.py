"""The handoff console's server side: sign-in, the live queue, and a person's audio.

People sign in with their name and the console token (`CALLWRIGHT_CONSOLE_TOKEN`); they get
a signed, HttpOnly cookie. The console WebSocket (`/v1/console/ws`) then carries the queue as
it changes, the picked-up call's context packet and live transcript, and audio both ways as
binary frames of 16 kHz PCM16. See docs/handoff.md for the messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from callwright.handoff.call import CallHandoff
from callwright.handoff.desk import HandoffDesk

log = logging.getLogger(__name__)

COOKIE = "cw_console"
SESSION_S = 12 * 3600
MAX_AUDIO_BYTES = 16000 * 2  # one second of 16 kHz PCM16 per message at most
SNAPSHOT_EVERY_S = 2.0


class ConsoleAuth:
    """Checks the sign-in token and signs session cookies with a key derived from it.

    Args:
        token: the shared sign-in token.
    """

    def __init__(self, token: str) -> None:
        self._token = token
        self._key = hashlib.sha256(b"callwright-console:" + token.encode()).digest()

    def token_ok(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self._token.encode())

    def cookie_for(self, name: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + SESSION_S)
        body = f"{name.encode().hex()}.{expires}"
        return f"{body}.{self._sign(body)}"

    def name_from(self, cookie: str | None, now: float | None = None) -> str | None:
        """The signed-in person's name, or None for a missing, forged or expired cookie."""
        if not cookie or cookie.count(".") != 2:
            return None
        name_hex, expires, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(f"{name_hex}.{expires}")):
            return None
        try:
            if int(expires) < (now or time.time()):
                return None
            return bytes.fromhex(name_hex).decode()
        except ValueError:
            return None

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()


CONSOLE = web.AppKey("console", ConsoleAuth)
DESK = web.AppKey("desk", HandoffDesk)


def register(app: web.Application, desk: HandoffDesk, token: str | None) -> str:
    """Adds the console routes; returns the sign-in token (generated when none is given)."""
    token = token or secrets.token_urlsafe(12)
    app[CONSOLE] = ConsoleAuth(token)
    app[DESK] = desk
    app.router.add_post("/v1/console/signin", sign_in)
    app.router.add_post("/v1/console/signout", sign_out)
    app.router.add_get("/v1/console/me", me)
    app.router.add_get("/v1/console/ws", console_websocket)
    return token


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _signed_in(request: web.Request) -> str | None:
    return request.app[CONSOLE].name_from(request.cookies.get(COOKIE))


async def sign_in(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        name, token = str(body["name"]).strip(), str(body["token"])
    except (ValueError, KeyError, TypeError):
        return _error(400, "bad_request", 'send {"name": ..., "token": ...} as JSON')
    if not name or len(name) > 60:
        return _error(400, "bad_name", "a name of 1 to 60 characters is required")
    if not request.app[CONSOLE].token_ok(token):
        log.warning("console sign-in refused for %r", name)
        return _error(401, "bad_token", "wrong console token")
    response = web.json_response({"name": name})
    response.set_cookie(
        COOKIE,
        request.app[CONSOLE].cookie_for(name),
        max_age=SESSION_S,
        httponly=True,
        samesite="Strict",
        path="/",
    )
    return response


async def sign_out(request: web.Request) -> web.Response:
    response = web.json_response({"signed_out": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    name = _signed_in(request)
    if name is None:
        return _error(401, "not_signed_in", "sign in to the console first")
    return web.json_response({"name": name})


class ConsoleLine:
    """One signed-in person's connection (`HumanLine`), and the call they have picked up."""

    def __init__(self, ws: web.WebSocketResponse, name: str) -> None:
        self.ws = ws
        self.name = name
        self.call: CallHandoff | None = None

    async def send_audio(self, samples: np.ndarray) -> None:
        if not self.ws.closed:
            await self.ws.send_bytes(samples.astype("<i2").tobytes())

    async def send_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "call_ended":
            self.call = None
        if not self.ws.closed:
            await self.ws.send_str(json.dumps(event))


async def console_websocket(request: web.Request) -> web.StreamResponse:
    name = _signed_in(request)
    if name is None:
        return _error(401, "not_signed_in", "sign in to the console first")
    desk = request.app[DESK]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_AUDIO_BYTES * 4)
    await ws.prepare(request)
    line = ConsoleLine(ws, name)
    changed = asyncio.Event()
    unsubscribe = desk.subscribe(changed.set)
    desk.sign_in(line)
    pusher = asyncio.create_task(_push_queue(ws, desk, changed))
    log.info("console: %s signed in", name)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await _from_microphone(line, msg.data)
            elif msg.type == WSMsgType.TEXT:
                await _command(desk, line, msg.data)
    finally:
        pusher.cancel()
        unsubscribe()
        desk.sign_out(line)
        if line.call is not None:  # the person went away mid-call: the agent takes it back
            await line.call.hand_back()
        with contextlib.suppress(BaseException):
            await pusher
        log.info("console: %s signed out", name)
    return ws


async def _push_queue(ws: web.WebSocketResponse, desk: HandoffDesk, changed: asyncio.Event) -> None:
    while not ws.closed:
        changed.clear()
        await ws.send_str(json.dumps({"type": "queue", **desk.snapshot()}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), SNAPSHOT_EVERY_S)


async def _from_microphone(line: ConsoleLine, data: bytes) -> None:
    if line.call is None or len(data) % 2 or len(data) > MAX_AUDIO_BYTES:
        return  # not on a call, or not 16-bit PCM of a sane size: dropped, never forwarded
    await line.call.from_human(np.frombuffer(data, dtype="<i2").astype(np.int16))


async def _command(desk: HandoffDesk, line: ConsoleLine, data: str) -> None:
    try:
        command = json.loads(data)
        kind = command["type"]
    except (ValueError, KeyError, TypeError):
        await line.send_event({"type": "error", "code": "bad_message", "message": "bad JSON"})
        return
    if kind == "pickup":
        if line.call is not None:
            await line.send_event(
                {"type": "error", "code": "busy", "message": "hand back or end your call first"}
            )
            return
        waiting = desk.take(str(command.get("call_id", "")), line.name)
        if waiting is None:
            await line.send_event(
                {"type": "error", "code": "gone", "message": "that call is no longer waiting"}
            )
            return
        line.call = waiting.handoff
        await waiting.handoff.connect(line)
    elif kind in ("hand_back", "end_call") and line.call is not None:
        call, line.call = line.call, None
        await (call.hand_back() if kind == "hand_back" else call.end_by_human())
        await line.send_event({"type": "released", "how": kind})
    else:
        message = f"unknown or untimely command {kind!r}"
        await line.send_event({"type": "error", "code": "bad_command", "message": message})
