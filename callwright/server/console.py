"""The handoff console's server side: sign-in, the live queue, and a person's audio.

People sign in as users with the supervisor (or admin) role (`callwright.server.signin`);
there is no shared console token. The console WebSocket (`/v1/console/ws`) then carries the
queue as it changes, the picked-up call's context packet and live transcript, and audio both
ways as binary frames of 16 kHz PCM16. See docs/handoff.md for the messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from callwright.handoff.desk import Desk, HeldCall
from callwright.server import signin
from callwright.server.auth import AUTHENTICATOR, principal_of

log = logging.getLogger(__name__)

MAX_AUDIO_BYTES = 16000 * 2  # one second of 16 kHz PCM16 per message at most
SNAPSHOT_EVERY_S = 2.0
# Close codes of a console whose credential no longer admits it (the page then signs in again).
SIGNED_OUT, NOT_ALLOWED = 4401, 4403


DESK = web.AppKey("desk", Desk)


def register(app: web.Application, desk: Desk) -> None:
    """Adds the console routes (the auth middleware admits supervisors and admins only)."""
    app[DESK] = desk
    app.router.add_post("/v1/console/signout", sign_out)
    app.router.add_get("/v1/console/me", me)
    app.router.add_get("/v1/console/ws", console_websocket)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _signed_in(request: web.Request) -> str | None:
    principal = principal_of(request)
    return None if principal is None else principal.name


async def me(request: web.Request) -> web.Response:
    name = _signed_in(request)
    if name is None:
        return _error(401, "not_signed_in", "sign in to the console first")
    return web.json_response({"name": name})


async def sign_out(request: web.Request) -> web.StreamResponse:
    """The console's sign-out: the same as `/v1/auth/signout` (the session is revoked)."""
    return await signin.sign_out(request)


class ConsoleLine:
    """One signed-in person's connection (`HumanLine`), and the call they have picked up."""

    def __init__(self, ws: web.WebSocketResponse, name: str) -> None:
        self.ws = ws
        self.name = name
        self.call: HeldCall | None = None
        self.call_id: str | None = None  # the call picked up, from when the pickup starts

    # A connection that has dropped drops what is sent to it: the caller's side must go on
    # (a pickup half done would strand the caller), and this socket's handler ends on its
    # own, handing any call back.

    async def send_audio(self, samples: np.ndarray) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError):
                await self.ws.send_bytes(samples.astype("<i2").tobytes())

    async def send_event(self, event: dict[str, Any]) -> None:
        # Only the end of this person's call lets go of it (a late one of an earlier call
        # must not); one during the pickup tells `_command` the caller has gone.
        if event.get("type") == "call_ended" and event.get("call_id") == self.call_id:
            self.call, self.call_id = None, None
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError):
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
    await desk.sign_in(line)
    pusher = asyncio.create_task(_push_queue(request, ws, desk, changed))
    log.info("console: %s signed in", name)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await _from_microphone(line, msg.data)
            elif msg.type == WSMsgType.TEXT:
                if await _turned_away(request, ws):
                    break
                await _command(desk, line, msg.data)
    finally:
        pusher.cancel()
        unsubscribe()
        with contextlib.suppress(Exception):  # the database may be gone at shutdown
            await desk.sign_out(line)
        if line.call is not None:  # the person went away mid-call: the agent takes it back
            await line.call.hand_back()
        with contextlib.suppress(BaseException):
            await pusher
        log.info("console: %s signed out", name)
    return ws


async def _push_queue(
    request: web.Request, ws: web.WebSocketResponse, desk: Desk, changed: asyncio.Event
) -> None:
    while not ws.closed:
        changed.clear()
        if await _turned_away(request, ws):
            return
        await ws.send_str(json.dumps({"type": "queue", **(await desk.snapshot())}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), SNAPSHOT_EVERY_S)


async def _turned_away(request: web.Request, ws: web.WebSocketResponse) -> bool:
    """Closes the socket if its credential no longer admits the console; True if it did.

    The handshake's credential is checked again before each command and with each queue
    push (every 2 s at least): a person signed out, removed, expired or no longer a
    supervisor loses the console at once, not when they next reload it. Their call, if
    any, goes back to the agent as when the console disconnects.
    """
    found = await request.app[AUTHENTICATOR].principal(request)
    if found is not None and found.may("supervisor"):
        return False
    name = _signed_in(request)
    code, why = (SIGNED_OUT, "signed out") if found is None else (NOT_ALLOWED, "not allowed")
    log.warning("console: %s is %s; closing their console", name, why)
    await ws.close(code=code, message=why.encode())
    return True


async def _from_microphone(line: ConsoleLine, data: bytes) -> None:
    if line.call is None or len(data) % 2 or len(data) > MAX_AUDIO_BYTES:
        return  # not on a call, or not 16-bit PCM of a sane size: dropped, never forwarded
    await line.call.from_human(np.frombuffer(data, dtype="<i2").astype(np.int16))


async def _command(desk: Desk, line: ConsoleLine, data: str) -> None:
    try:
        command = json.loads(data)
        kind = command["type"]
    except (ValueError, KeyError, TypeError, RecursionError):  # nested past Python's recursion
        kind = None
    if not isinstance(kind, str):
        await line.send_event({"type": "error", "code": "bad_message", "message": "bad JSON"})
        return
    if kind == "pickup":
        if line.call is not None:
            await line.send_event(
                {"type": "error", "code": "busy", "message": "hand back or end your call first"}
            )
            return
        call_id = command.get("call_id")  # never str() of a list: it may be nested deep
        line.call_id = call_id = call_id if isinstance(call_id, str) else ""
        held = await desk.pick_up(call_id, line)
        if held is None:
            line.call_id = None
            await line.send_event(
                {"type": "error", "code": "gone", "message": "that call is no longer waiting"}
            )
            return
        if line.call_id == call_id:  # else the caller hung up as it was put through: told so
            line.call = held
    elif kind in ("hand_back", "end_call") and line.call is not None:
        call, line.call, line.call_id = line.call, None, None
        await (call.hand_back() if kind == "hand_back" else call.end_by_human())
        await line.send_event({"type": "released", "how": kind})
    else:
        message = f"unknown or untimely command {kind[:40]!r}"
        await line.send_event({"type": "error", "code": "bad_command", "message": message})
