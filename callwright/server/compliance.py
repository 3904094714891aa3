"""The server's compliance side: its settings, tables and routes (docs/compliance.md).

- `GET  /v1/compliance/export?format=csv|json&since=&until=&kind=&numbers=full`: the log
- `POST /v1/compliance/consent` `{"number", "purpose", "method", "evidence", "obtained_at"}`
- `POST /v1/compliance/consent/revoke` `{"number", "reason", "purpose"}`
- `GET  /v1/compliance/consent?number=`: a number's records

All admin only (`server/auth.py`); every export is in the access audit log.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web

from callwright.compliance.consent import ConsentRecords
from callwright.compliance.dnc import DoNotCallList
from callwright.compliance.hours import CallingHours
from callwright.compliance.lists import ComplianceLists
from callwright.compliance.log import ComplianceLog, to_csv
from callwright.compliance.numbers import NumberError
from callwright.compliance.settings import ComplianceSettings
from callwright.compliance.tables import SqlStore
from callwright.server.audit import record
from callwright.server.signin import read_json_object
from callwright.store.base import CallStore


class ServerCompliance:
    """One server's compliance settings and the tables they act on.

    Args:
        settings: how numbers are read, opt-out, calling hours, consent.
        store: the call store, which also keeps the compliance tables.
    """

    def __init__(self, settings: ComplianceSettings, store: CallStore) -> None:
        sql = cast(SqlStore, store)
        self.settings = settings
        self.dnc = DoNotCallList(sql)
        self.hours = CallingHours(settings.hours)
        self.consent = ConsentRecords(sql)
        self.log = ComplianceLog(sql)
        # Changes to the lists, each with its compliance log entry (HTTP and command line).
        self.lists = ComplianceLists(sql, settings.default_region)


COMPLIANCE = web.AppKey("compliance", ServerCompliance)


def compliance_of(app: web.Application) -> ServerCompliance:
    """The server's compliance side (set up by `create_app`)."""
    return app[COMPLIANCE]


@dataclass(frozen=True, slots=True)
class OutboundRefusal:
    """Why an automated outbound call may not be placed now (an HTTP error, a campaign's
    reschedule or skip)."""

    status: int
    code: str
    message: str
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)


async def outbound_refusal(
    compliance: ServerCompliance, to: str, purpose: str | None, call_id: str | None = None
) -> OutboundRefusal | None:
    """The compliance checks before every automated dial, in order: the do-not-call list,
    calling hours, consent. A refusal is written to the compliance log."""
    log = compliance.log
    entry = await compliance.dnc.find(to)
    if entry is not None:
        await log.append("dnc_block", to, call_id, source=entry.source)
        return OutboundRefusal(
            403, "do_not_call", "the number is on the do-not-call list", "do-not-call"
        )
    hours = compliance.hours.check(to, compliance.settings.now())
    if not hours.allowed:
        retry_at = hours.next_allowed.isoformat() if hours.next_allowed else None
        await log.append("hours_block", to, call_id, reason=hours.reason, retry_at=retry_at)
        return OutboundRefusal(
            409, "outside_calling_hours", hours.reason or "outside calling hours",
            "calling hours", {"retry_at": retry_at},
        )  # fmt: skip
    if compliance.settings.require_consent:
        if await compliance.consent.valid(to, purpose) is None:
            what = f"for {purpose!r}" if purpose else "for any purpose"
            message = f"no unrevoked consent to automated calls {what} is recorded for the number"
            await log.append("consent_block", to, call_id, purpose=purpose)
            return OutboundRefusal(403, "no_consent", message, "no consent")
    return None


def register(app: web.Application) -> None:
    """Adds the compliance routes."""
    app.router.add_get("/v1/compliance/export", export_log)
    app.router.add_post("/v1/compliance/consent", add_consent)
    app.router.add_post("/v1/compliance/consent/revoke", revoke_consent)
    app.router.add_get("/v1/compliance/consent", list_consent)


def _error(status: type[web.HTTPError], code: str, message: str) -> web.HTTPError:
    return status(
        text=json.dumps({"error": code, "message": message}), content_type="application/json"
    )


def _time(value: str | None, name: str) -> float | None:
    """Epoch seconds from a number or an ISO 8601 time."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise _error(web.HTTPBadRequest, "bad_request", f"{name}: not a time") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


async def export_log(request: web.Request) -> web.StreamResponse:
    """The compliance log as CSV or JSON, for an audit: every matching entry, streamed a page
    at a time (never cut off at some count, never held in memory whole). Without `until` it
    is the log as it stood when the export began."""
    query = request.query
    fmt = query.get("format", "json")
    if fmt not in ("csv", "json"):
        raise _error(web.HTTPBadRequest, "bad_request", "format must be csv or json")
    full = query.get("numbers") == "full"
    since = _time(query.get("since"), "since")
    until = _time(query.get("until"), "until")
    if until is None:
        until = time.time()
    kind = query.get("kind") or None
    log = compliance_of(request.app).log
    count = await log.count(since, until, kind)
    await record(request, "compliance.export", None, format=fmt, entries=count,
                 full_numbers=full)  # fmt: skip
    response = web.StreamResponse()
    if fmt == "csv":
        response.content_type = "text/csv"
        response.headers["Content-Disposition"] = 'attachment; filename="compliance-log.csv"'
    else:
        response.content_type = "application/json"
    await response.prepare(request)
    if fmt == "csv":
        await response.write(to_csv([], full).encode())
    else:
        await response.write(b'{"entries": [')
    first = True
    async for page in log.pages(since, until, kind):
        if fmt == "csv":
            await response.write(to_csv(page, full, header=False).encode())
            continue
        text = ", ".join(json.dumps(e.to_dict(full)) for e in page)
        await response.write((text if first else ", " + text).encode())
        first = False
    if fmt == "json":
        await response.write(b"]}")
    await response.write_eof()
    return response


async def add_consent(request: web.Request) -> web.Response:
    """Records a consent to automated calls."""
    body = await read_json_object(request)
    compliance = compliance_of(request.app)
    fields = {k: body.get(k) for k in ("number", "purpose", "method", "evidence")}
    if not all(isinstance(fields[k], str) for k in ("number", "purpose", "method")):
        raise _error(web.HTTPBadRequest, "bad_request", '"number", "purpose", "method" required')
    obtained = body.get("obtained_at")
    if obtained is not None and not isinstance(obtained, int | float | str):
        raise _error(web.HTTPBadRequest, "bad_request", "obtained_at: a time")
    try:
        consent = await compliance.lists.consent_add(
            str(fields["number"]), str(fields["purpose"]), str(fields["method"]),
            str(fields["evidence"] or ""),
            _time(str(obtained), "obtained_at") if obtained is not None else None,
        )  # fmt: skip
    except (NumberError, ValueError) as exc:
        raise _error(web.HTTPBadRequest, "bad_request", str(exc)) from exc
    await record(request, "compliance.consent_added", consent.number, purpose=consent.purpose)
    return web.json_response(consent.to_dict(), status=201)


async def revoke_consent(request: web.Request) -> web.Response:
    """Revokes a number's consent (one purpose, or all)."""
    body = await read_json_object(request)
    number, reason, purpose = body.get("number"), body.get("reason"), body.get("purpose")
    if not isinstance(number, str) or not isinstance(reason, str) or not reason.strip():
        raise _error(web.HTTPBadRequest, "bad_request", '"number" and "reason" are required')
    if purpose is not None and not isinstance(purpose, str):
        raise _error(web.HTTPBadRequest, "bad_request", '"purpose" must be a string')
    compliance = compliance_of(request.app)
    try:
        e164, revoked = await compliance.lists.consent_revoke(number, reason, purpose)
    except NumberError as exc:
        raise _error(web.HTTPBadRequest, "bad_number", str(exc)) from exc
    await record(request, "compliance.consent_revoked", e164, revoked=revoked)
    return web.json_response({"revoked": revoked})


async def list_consent(request: web.Request) -> web.Response:
    number = request.query.get("number", "")
    compliance = compliance_of(request.app)
    records = await compliance.consent.of(number, compliance.settings.default_region)
    await record(request, "compliance.consent_read", number or None)
    body: dict[str, Any] = {"records": [r.to_dict() for r in records]}
    return web.json_response(body)
