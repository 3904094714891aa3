"""Graceful drain on SIGTERM, and the worker's heartbeat in the store.

Drain: on SIGTERM the worker stops admitting (new calls get the busy answer, `/readyz` says
503, `/livez` stays 200) and lets live calls finish for up to `DrainSettings.seconds`; calls
whose webhook it answered before are still served when their stream comes. Calls
still live at the deadline hear a short line that the call must end and are recorded with
outcome "server_shutdown". Then the server shuts down as on SIGINT and the store is closed
(pending writes are flushed first).

Heartbeat: the worker refreshes its row in the store every few seconds and, each time, marks
cut off the active calls of workers whose heartbeat went stale: a worker that died is noticed
by the others without touching a live worker's calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.config import DrainSettings, WorkerSettings
from callwright.core.responder import Closable
from callwright.server.admission import ADMISSION
from callwright.server.agents import AGENTS
from callwright.store.base import CallStore

log = logging.getLogger(__name__)

DRAIN_TASK = web.AppKey("drain_task", asyncio.Task[None])
HEARTBEAT_TASK = web.AppKey("heartbeat_task", asyncio.Task[None])


async def drain(app: web.Application, stack: AgentStack, settings: DrainSettings) -> None:
    """Stops admitting, waits for live calls up to the deadline, ends the rest."""
    admission = app[ADMISSION]
    admission.draining = True
    log.warning(
        "draining: %d live calls have up to %.0f s to finish", admission.live, settings.seconds
    )
    if not await admission.wait_idle(settings.seconds):
        log.warning("drain deadline: ending %d live calls", admission.live)
        await admission.end_all(stack.limits.shutdown_line, "server_shutdown")
    log.info("drained; shutting down")


def install_drain(app: web.Application, stack: AgentStack, settings: DrainSettings) -> None:
    """SIGTERM drains `app` then stops the process (as SIGINT does); the store closes last.

    Only for a server run by `web.run_app` (which handles SIGINT): the handler replaces the
    one `run_app` installed for SIGTERM.
    """

    def on_sigterm() -> None:
        if DRAIN_TASK in app:
            return  # already draining; a second SIGTERM changes nothing

        async def drain_then_stop() -> None:
            try:
                await drain(app, stack, settings)
            finally:
                signal.raise_signal(signal.SIGINT)  # run_app's graceful exit

        app[DRAIN_TASK] = asyncio.create_task(drain_then_stop())

    async def on_startup(app: web.Application) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)

    async def close_store(app: web.Application) -> None:
        try:
            await stack.desk.close()  # its calls and people off the shared desk
        except Exception:
            log.exception("handoff desk not closed cleanly")
        # Webhooks not sent yet go to the outbox: the served agent's, and each named one's.
        named = app[AGENTS].values() if AGENTS in app else []
        for responders in (stack.responders, *(other.responders for other in named)):
            if isinstance(responders, Closable):
                try:
                    await responders.close()
                except Exception:
                    log.exception("an agent's responders did not close cleanly")
        await stack.store.close()
        log.info("call store closed")

    app.on_startup.append(on_startup)
    app.on_cleanup.append(close_store)


def install_heartbeat(app: web.Application, store: CallStore, settings: WorkerSettings) -> None:
    """Refreshes the worker's heartbeat and sweeps dead workers' calls while the app runs."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(settings.heartbeat_s)
            try:
                await store.heartbeat()
                swept = await store.mark_orphans_cut_off(settings.stale_after_s)
                if swept:
                    log.warning("marked %d calls of stopped workers as cut off", swept)
            except Exception:
                log.exception("worker heartbeat failed")

    async def on_startup(app: web.Application) -> None:
        app[HEARTBEAT_TASK] = asyncio.create_task(beat())

    async def on_cleanup(app: web.Application) -> None:
        task = app[HEARTBEAT_TASK]
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        with contextlib.suppress(Exception):
            await store.retire_worker()

    app.on_startup.append(on_startup)
    # First, before the store closes (cleanup callbacks run in order).
    app.on_cleanup.insert(0, on_cleanup)
