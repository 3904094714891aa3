"""Campaign routes and the runner's place in the server (docs/compliance.md, "Campaigns").

- `POST /v1/campaigns` `{"name", "from", "purpose", "contacts": [...] | "contacts_csv": "...",
  "agent", "concurrency", "pace_s", "max_attempts", "retry_backoff_s", "starts_at",
  "parameters"}` (`agent`: a name from the server's configured agents, `server/agents.py`)
- `GET  /v1/campaigns` (and the agents a campaign may pick), `GET /v1/campaigns/{id}`
- `POST /v1/campaigns/{id}/pause|resume|cancel`

Admin only (`server/auth.py`). The runner runs in every worker with Twilio REST credentials;
the store decides who dials whom.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

from callwright.campaigns.commands import MOVES
from callwright.campaigns.contacts import parse_contacts
from callwright.campaigns.dialing import Dialled, DialRefused, GateRefusal
from callwright.campaigns.records import CampaignPlan
from callwright.campaigns.runner import CampaignRunner
from callwright.campaigns.store import CampaignStore
from callwright.compliance.numbers import NumberError, to_e164
from callwright.compliance.tables import SqlStore
from callwright.server.agents import agent_names
from callwright.server.audit import record
from callwright.server.compliance import compliance_of, outbound_refusal
from callwright.server.outbound import OUTBOUND, HeldBackLimits
from callwright.server.scheduled import SCHEDULED
from callwright.server.signin import read_json_object
from callwright.server.telephony import CALL_STATUS_HOOK, TELEPHONY, DialError, dial_outbound


@dataclass(slots=True)
class Campaigns:
    store: CampaignStore
    runner: CampaignRunner
    task: asyncio.Task[None] | None = None


CAMPAIGNS = web.AppKey("campaigns", Campaigns)


class _AppDialer:
    def __init__(self, app: web.Application) -> None:
        self._app = app

    async def dial(
        self, to: str, from_: str, parameters: dict[str, str], purpose: str | None
    ) -> Dialled:
        # Campaign calls are automated: Twilio's machine detection runs on each.
        params = parameters | ({"purpose": purpose} if purpose else {})
        try:
            call_id, call_sid = await dial_outbound(
                self._app, to, from_, params, machine_detection=True
            )
        except DialError as exc:
            if exc.refused:  # no call was placed: the runner may try the contact again
                raise DialRefused(exc.reason) from exc
            raise
        return Dialled(call_id, call_sid)


def register(app: web.Application) -> None:
    """Adds the campaign routes and starts the runner with the server."""
    store = CampaignStore(cast(SqlStore, app[TELEPHONY].stack.store))
    compliance = compliance_of(app)

    async def gate(number: str, purpose: str | None) -> GateRefusal | None:
        denied = app[OUTBOUND].policy.refusal(number)
        if denied is not None:
            return GateRefusal("destination_refused", denied)
        refused = await outbound_refusal(compliance, number, purpose)
        if refused is None:
            return None
        retry = refused.extra.get("retry_at")
        retry_at = _epoch(retry) if isinstance(retry, str) else None
        return GateRefusal(refused.code, refused.message, retry_at)

    # A call's final status is due within its longest length (plus ringing and slack).
    longest = app[TELEPHONY].stack.limits.max_call_s or 4 * 3600.0
    runner = CampaignRunner(
        store, _AppDialer(app), gate, lambda: compliance.settings.now().timestamp(),
        worker_id=uuid.uuid4().hex[:12], scheduled=app[SCHEDULED],
        silent_after_s=longest + 1800.0, scheduled_pace_s=app[OUTBOUND].scheduled_pace_s,
        held_back_limit=HeldBackLimits(app[OUTBOUND]),
    )  # fmt: skip
    app[CAMPAIGNS] = Campaigns(store, runner)
    app[CALL_STATUS_HOOK] = runner.on_call_status
    app.router.add_post("/v1/campaigns", create_campaign)
    app.router.add_get("/v1/campaigns", list_campaigns)
    app.router.add_get("/v1/campaigns/{campaign_id}", get_campaign)
    app.router.add_post("/v1/campaigns/{campaign_id}/{action}", control_campaign)
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)


def _epoch(iso: str) -> float | None:
    import datetime as dt

    with contextlib.suppress(ValueError):
        return dt.datetime.fromisoformat(iso).timestamp()
    return None


async def _start(app: web.Application) -> None:
    if app[TELEPHONY].rest is not None:
        app[CAMPAIGNS].task = asyncio.create_task(app[CAMPAIGNS].runner.run())


async def _stop(app: web.Application) -> None:
    task = app[CAMPAIGNS].task
    if task is not None:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def _bad(message: str) -> web.HTTPBadRequest:
    body = json.dumps({"error": "bad_request", "message": message})
    return web.HTTPBadRequest(text=body, content_type="application/json")


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = body.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(f"{key} must be a number from {low} to {high}")
    return float(value)


async def create_campaign(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    region = compliance_of(request.app).settings.default_region
    name, from_, purpose = body.get("name"), body.get("from"), body.get("purpose")
    if not all(isinstance(v, str) and v.strip() for v in (name, from_, purpose)):
        raise _bad('"name", "from" and "purpose" (strings) are required')
    try:
        from_number = to_e164(str(from_), region)
        if isinstance(body.get("contacts_csv"), str):
            listed = parse_contacts(body["contacts_csv"], "csv", region)
        else:
            listed = parse_contacts(json.dumps(body.get("contacts")), "json", region)
    except (NumberError, ValueError) as exc:
        raise _bad(str(exc)) from exc
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise _bad('"parameters" must be an object')
    agent = body.get("agent") or None
    if agent is not None and agent not in agent_names(request.app):
        # Only a configured agent, by name: never a path or module from the request.
        known = ", ".join(agent_names(request.app)) or "none configured"
        raise _bad(f'"agent" must be one of the configured agents ({known})')
    plan = CampaignPlan(
        name=str(name), from_number=from_number, purpose=str(purpose),
        concurrency=int(_number(body, "concurrency", 2, 1, 50)),
        pace_s=_number(body, "pace_s", 2.0, 0, 3600),
        max_attempts=int(_number(body, "max_attempts", 3, 1, 10)),
        retry_backoff_s=_number(body, "retry_backoff_s", 900.0, 0, 7 * 86400),
        starts_at=_number(body, "starts_at", 0.0, 0, 4e9),
        parameters={str(k): str(v) for k, v in parameters.items()}, agent=agent,
    )  # fmt: skip
    campaigns = request.app[CAMPAIGNS]
    campaign_id = await campaigns.store.create(plan, listed.contacts)
    await record(request, "campaign.create", campaign_id, contacts=len(listed.contacts),
                 agent=agent)  # fmt: skip
    return web.json_response(
        {"campaign_id": campaign_id, "contacts": len(listed.contacts), "rejected": listed.rejected},
        status=201,
    )


async def list_campaigns(request: web.Request) -> web.Response:
    store = request.app[CAMPAIGNS].store
    out = []
    for campaign in await store.all():
        progress = await store.progress(campaign.campaign_id)
        out.append({"campaign_id": campaign.campaign_id, "name": campaign.plan.name,
                    "status": campaign.status, "agent": campaign.plan.agent,
                    "progress": progress})  # fmt: skip
    return web.json_response({"campaigns": out, "agents": agent_names(request.app)})


async def get_campaign(request: web.Request) -> web.Response:
    store = request.app[CAMPAIGNS].store
    campaign = await store.get(request.match_info["campaign_id"])
    if campaign is None:
        raise web.HTTPNotFound(text="no such campaign")
    contacts = [c.to_dict() for c in await store.contacts(campaign.campaign_id)]
    await record(request, "campaign.read", campaign.campaign_id)
    return web.json_response({
        "campaign_id": campaign.campaign_id, "name": campaign.plan.name,
        "status": campaign.status, "purpose": campaign.plan.purpose,
        "agent": campaign.plan.agent,
        "progress": await store.progress(campaign.campaign_id), "contacts": contacts,
    })  # fmt: skip


async def control_campaign(request: web.Request) -> web.Response:
    action, campaign_id = request.match_info["action"], request.match_info["campaign_id"]
    if action not in MOVES:
        raise web.HTTPNotFound(text="no such action")
    store = request.app[CAMPAIGNS].store
    if await store.get(campaign_id) is None:
        raise web.HTTPNotFound(text="no such campaign")
    status, only_from = MOVES[action]
    moved = await store.set_status(campaign_id, status, only_from)
    if moved and action == "cancel":
        await store.cancel_pending(campaign_id)
    await record(request, f"campaign.{action}", campaign_id, moved=moved)
    if not moved:
        body = json.dumps({"error": "conflict", "message": f"cannot {action} now"})
        raise web.HTTPConflict(text=body, content_type="application/json")
    return web.json_response({"campaign_id": campaign_id, "status": status})
