"""Single outbound calls held back by calling hours (docs/compliance.md, "Calling hours").

- `POST /v1/calls/outbound` outside the callee's calling hours answers `202` with the
  scheduled call (`"schedule": false` in the body keeps the old `409` refusal instead);
- `GET  /v1/scheduled-calls?status=`: the scheduled calls, newest first;
- `GET  /v1/scheduled-calls/{id}`: one;
- `POST /v1/scheduled-calls/{id}/cancel`: cancels one not yet dialled (`409` otherwise).

Admin only (`server/auth.py`). Scheduling and cancelling are in the compliance log and the
access audit log; the campaign runner places a call when it is due (`campaigns/runner.py`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from aiohttp import web

from callwright.campaigns.scheduled import ScheduledCalls
from callwright.compliance.tables import SqlStore
from callwright.server.audit import record
from callwright.server.auth import principal_of
from callwright.server.compliance import OutboundRefusal, compliance_of
from callwright.store.base import CallStore

SCHEDULED = web.AppKey("scheduled_calls", ScheduledCalls)


def register(app: web.Application, store: CallStore) -> None:
    """Adds the scheduled-call routes and the table's access."""
    app[SCHEDULED] = ScheduledCalls(cast(SqlStore, store))
    app.router.add_get("/v1/scheduled-calls", list_scheduled)
    app.router.add_get("/v1/scheduled-calls/{scheduled_id}", get_scheduled)
    app.router.add_post("/v1/scheduled-calls/{scheduled_id}/cancel", cancel_scheduled)


async def schedule_outbound(
    request: web.Request,
    to: str,
    from_: str,
    purpose: str | None,
    parameters: dict[str, str],
    refused: OutboundRefusal,
) -> web.Response:
    """Schedules a call that calling hours refused for now: `202` and the scheduled call."""
    retry = refused.extra.get("retry_at")
    if not isinstance(retry, str):  # no permitted moment found in the next two weeks
        body = {"error": refused.code, "message": refused.message, "retry_at": None}
        raise web.HTTPConflict(text=json.dumps(body), content_type="application/json")
    due_at = dt.datetime.fromisoformat(retry).timestamp()
    principal = principal_of(request)
    who = f"{principal.kind}:{principal.name}" if principal else None
    call = await request.app[SCHEDULED].add(to, from_, purpose, parameters, due_at, who,
                                            refused.message)  # fmt: skip
    await compliance_of(request.app).log.append(
        "call_scheduled", to, None, scheduled_id=call.scheduled_id, retry_at=retry,
        reason=refused.message, purpose=purpose,
    )  # fmt: skip
    await record(request, "outbound.scheduled", to, scheduled_id=call.scheduled_id, retry_at=retry)
    body = _public(call.to_dict()) | {"error": refused.code, "message": refused.message,
                                      "retry_at": retry}  # fmt: skip
    return web.json_response(body, status=202)


def _public(call: dict[str, Any]) -> dict[str, Any]:
    due = dt.datetime.fromtimestamp(call["due_at"], dt.UTC).isoformat()
    return call | {"due_at_iso": due}


async def list_scheduled(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    calls = await request.app[SCHEDULED].all(status)
    await record(request, "outbound.scheduled_read", None, status=status)
    return web.json_response({"scheduled_calls": [_public(c.to_dict()) for c in calls]})


async def get_scheduled(request: web.Request) -> web.Response:
    call = await request.app[SCHEDULED].get(request.match_info["scheduled_id"])
    if call is None:
        raise web.HTTPNotFound(text="no such scheduled call")
    await record(request, "outbound.scheduled_read", call.to_number)
    return web.json_response(_public(call.to_dict()))


async def cancel_scheduled(request: web.Request) -> web.Response:
    scheduled = request.app[SCHEDULED]
    call = await scheduled.get(request.match_info["scheduled_id"])
    if call is None:
        raise web.HTTPNotFound(text="no such scheduled call")
    cancelled = await scheduled.cancel(call.scheduled_id)
    await record(request, "outbound.scheduled_cancel", call.to_number,
                 scheduled_id=call.scheduled_id, cancelled=cancelled)  # fmt: skip
    if not cancelled:
        body = {"error": "conflict", "message": f"the call is {call.status}, not scheduled"}
        raise web.HTTPConflict(text=json.dumps(body), content_type="application/json")
    await compliance_of(request.app).log.append(
        "scheduled_call_cancelled", call.to_number, None, scheduled_id=call.scheduled_id
    )
    return web.json_response({"scheduled_id": call.scheduled_id, "status": "cancelled"})
