"""HTTP API over the call store, the KPIs and the metrics (read by the dashboard).

- `GET /v1/calls?limit=&outcome=&status=&escalated=true|false&since=&until=&slow_ms=`
- `GET /v1/calls/{id}`: the call, transcript, events, timelines, usage, cost, recording URL
- `GET /v1/calls/{id}/recording.wav`: stereo WAV, caller left, agent right (404 if none)
- `GET /v1/kpis?since=&until=`: see `callwright.observe.kpis` (without either: the last 30
  days; the answer's `window` says which)
- `GET /metrics`: Prometheus text format

Everything returned has been through the redaction policy (stored text already is; it is
redacted again on the way out so a policy made stricter later also covers older calls).
"""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import asdict
from typing import Any

from aiohttp import web

from callwright.agent.stack import AgentStack
from callwright.audio.wav import write_stereo_wav
from callwright.observe.audio_recording import stereo_tracks
from callwright.observe.kpis import kpis_from_store
from callwright.observe.metrics import CONTENT_TYPE
from callwright.observe.observer import Observability
from callwright.observe.redact import Redactor, RetentionJob
from callwright.observe.usage import cost_of
from callwright.store.base import (
    ESCALATION_KINDS,
    CallDetail,
    CallFilter,
    CallStore,
    CallSummary,
)

log = logging.getLogger(__name__)

API_STACK = web.AppKey("api_stack", AgentStack)
MAX_LIMIT = 1000


def register(app: web.Application, stack: AgentStack) -> None:
    """Adds the API routes to `app` and starts the retention job with it."""
    app[API_STACK] = stack
    app.router.add_get("/v1/calls", list_calls)
    app.router.add_get("/v1/calls/{call_id}", get_call)
    app.router.add_get("/v1/calls/{call_id}/recording.wav", get_recording)
    app.router.add_get("/v1/kpis", get_kpis)
    app.router.add_get("/metrics", metrics)
    app.cleanup_ctx.append(_retention)


def _observability(request: web.Request) -> Observability:
    return request.app[API_STACK].observability


def _store(request: web.Request) -> CallStore:
    return request.app[API_STACK].store


def _json(data: Any) -> web.Response:
    return web.json_response(data, dumps=lambda obj: json.dumps(obj, default=str))


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _number(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        raise _bad_request(f"{name} must be a number") from None


def call_json(summary: CallSummary, redactor: Redactor, obs: Observability) -> dict[str, Any]:
    """One call as the calls list shows it."""
    record = summary.record
    cost = cost_of(summary.usage, summary.duration_s, record.channel, obs.options.prices)
    return {
        "call_id": record.call_id,
        "channel": record.channel,
        "caller": None if record.caller is None else redactor.text(record.caller),
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "status": record.status,
        "outcome": record.outcome,
        "end_reason": None if record.end_reason is None else redactor.text(record.end_reason),
        "duration_s": None if summary.duration_s is None else round(summary.duration_s, 3),
        "turns": summary.turns,
        "max_ttfa_ms": summary.max_ttfa_ms,
        "escalated": summary.escalated or record.outcome in ("transferred", "escalated"),
        "cost_total": round(cost.total, 6),
    }


def summary_of(detail: CallDetail) -> CallSummary:
    """The aggregates of one call, from its full record."""
    ttfas = [t.ttfa_ms for t in detail.timelines if t.ttfa_ms is not None]
    escalations = [e.at_ms for e in detail.events if e.kind in ESCALATION_KINDS]
    return CallSummary(
        record=detail.record,
        turns=sum(t.turn_index > 0 for t in detail.timelines),
        caller_utterances=sum(u.role == "caller" for u in detail.utterances),
        max_ttfa_ms=max(ttfas) if ttfas else None,
        escalated_at_ms=min(escalations) if escalations else None,
        last_event_ms=max((e.at_ms for e in detail.events), default=None),
        usage=detail.usage,
    )


async def list_calls(request: web.Request) -> web.Response:
    escalated = request.query.get("escalated")
    if escalated not in (None, "", "true", "false"):
        raise _bad_request("escalated must be true or false")
    try:
        limit = min(int(request.query.get("limit", "100")), MAX_LIMIT)
    except ValueError:
        raise _bad_request("limit must be an integer") from None
    query = CallFilter(
        limit=limit,
        outcome=request.query.get("outcome") or None,
        status=request.query.get("status") or None,
        escalated=None if not escalated else escalated == "true",
        since=_number(request, "since"),
        until=_number(request, "until"),
        slow_ms=_number(request, "slow_ms"),
    )
    obs = _observability(request)
    summaries = await _store(request).list_summaries(query)
    return _json({"calls": [call_json(s, obs.redactor, obs) for s in summaries]})


async def get_call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    detail = await _store(request).get_call(call_id)
    if detail is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": "no such call"}), content_type="application/json"
        )
    obs = _observability(request)
    redactor = obs.redactor.for_call(detail.record.parameters)
    summary = summary_of(detail)
    cost = cost_of(detail.usage, summary.duration_s, detail.record.channel, obs.options.prices)
    utterances = [{**asdict(u), "text": redactor.text(u.text)} for u in detail.utterances]
    return _json(
        {
            "call": {
                **call_json(summary, redactor, obs),
                "parameters": redactor.value(detail.record.parameters),
            },
            "utterances": utterances,
            "events": [
                {"seq": e.seq, "kind": e.kind, "at_ms": e.at_ms, "data": redactor.value(e.data)}
                for e in detail.events
            ],
            "timelines": [t.to_dict() for t in detail.timelines],
            "usage": asdict(detail.usage),
            "cost": cost.to_dict(),
            "recording_url": (
                f"/v1/calls/{call_id}/recording.wav" if detail.has_recording else None
            ),
        }
    )


async def get_recording(request: web.Request) -> web.Response:
    recording = await _store(request).get_recording(request.match_info["call_id"])
    if recording is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": "no recording"}), content_type="application/json"
        )
    caller, agent = stereo_tracks(recording.pcm)
    buffer = io.BytesIO()
    write_stereo_wav(buffer, caller, agent, recording.sample_rate)
    return web.Response(body=buffer.getvalue(), content_type="audio/wav")


async def get_kpis(request: web.Request) -> web.Response:
    """The KPIs of the calls started in [since, until); without either, of the last
    `KPI_DEFAULT_WINDOW_DAYS` days (a store that keeps every call grows without end, and the
    dashboard asks every 15 s). The window used is in the answer."""
    prices = _observability(request).options.prices
    since, until = _number(request, "since"), _number(request, "until")
    if since is None and until is None:
        since = time.time() - KPI_DEFAULT_WINDOW_DAYS * 86400.0
    kpis = await kpis_from_store(_store(request), prices, since, until)
    return _json(kpis | {"window": {"since": since, "until": until}})


async def metrics(request: web.Request) -> web.Response:
    body = _observability(request).metrics.render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


KPI_DEFAULT_WINDOW_DAYS = 30


async def _retention(app: web.Application) -> Any:
    import asyncio
    import contextlib

    stack = app[API_STACK]
    policy = stack.observability.options.redaction
    job = RetentionJob(
        stack.store,
        policy.retention_days,
        record_retention_days=policy.record_retention_days,
    )
    task = asyncio.create_task(job.run(), name="retention")
    yield
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
