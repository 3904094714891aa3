"""The do-not-call list and consent imports over HTTP (docs/compliance.md).

- `GET  /v1/compliance/dnc?number=&limit=`: one number's entry, or the newest entries
- `POST /v1/compliance/dnc` `{"number", "reason"}`: adds a number
- `POST /v1/compliance/dnc/remove` `{"number", "reason"}`: takes one off (404 if not listed)
- `POST /v1/compliance/dnc/import?source=NAME`: the body is a CSV file (`callwright dnc import`)
- `POST /v1/compliance/consent/import?source=NAME`: a CSV of consents (number, purpose, method,
  evidence, obtained_at)

Roles (`server/auth.py`): supervisors read the list and add numbers (a change that only ever
calls fewer people); removing and importing are for admins. Every change is in the compliance
log (`compliance/lists.py`) and the access audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from callwright.compliance.lists import ComplianceLists
from callwright.compliance.numbers import NumberError, to_e164
from callwright.server.audit import record
from callwright.server.compliance import compliance_of
from callwright.server.signin import read_json_object

MAX_IMPORT_BYTES = 256 * 1024 * 1024  # a national registry export for a few area codes
CHUNK_BYTES = 64 * 1024


def register(app: web.Application) -> None:
    """Adds the list routes."""
    app.router.add_get("/v1/compliance/dnc", list_dnc)
    app.router.add_post("/v1/compliance/dnc", add_dnc)
    app.router.add_post("/v1/compliance/dnc/remove", remove_dnc)
    app.router.add_post("/v1/compliance/dnc/import", import_dnc)
    app.router.add_post("/v1/compliance/consent/import", import_consent)


def _lists(request: web.Request) -> ComplianceLists:
    return compliance_of(request.app).lists


def _error(status: type[web.HTTPError], code: str, message: str) -> web.HTTPError:
    body = json.dumps({"error": code, "message": message})
    return status(text=body, content_type="application/json")


async def _number_and_reason(request: web.Request) -> tuple[str, str]:
    body = await read_json_object(request)
    number, reason = body.get("number"), body.get("reason", "")
    if not isinstance(number, str) or not isinstance(reason, str):
        raise _error(web.HTTPBadRequest, "bad_request", '"number" (and "reason") are strings')
    return number, reason[:500]


async def list_dnc(request: web.Request) -> web.Response:
    lists = _lists(request)
    number = request.query.get("number")
    if number:
        try:
            e164 = to_e164(number, lists.region)
        except NumberError as exc:
            raise _error(web.HTTPBadRequest, "bad_number", str(exc)) from exc
        entry = await lists.dnc.find(e164, lists.region)
        await record(request, "compliance.dnc_read", e164)
        found = None if entry is None else vars_of(entry)
        return web.json_response({"number": e164, "listed": entry is not None, "entry": found})
    try:
        limit = min(max(int(request.query.get("limit", "100")), 1), 10_000)
    except ValueError as exc:
        raise _error(web.HTTPBadRequest, "bad_request", "limit: a number") from exc
    entries = await lists.dnc.entries(limit)
    await record(request, "compliance.dnc_read", None, entries=len(entries))
    return web.json_response({"entries": [vars_of(e) for e in entries]})


def vars_of(entry: object) -> dict[str, object]:
    return {name: getattr(entry, name) for name in entry.__slots__}  # type: ignore[attr-defined]


async def add_dnc(request: web.Request) -> web.Response:
    number, reason = await _number_and_reason(request)
    try:
        e164, added = await _lists(request).dnc_add(number, "operator", reason)
    except NumberError as exc:
        raise _error(web.HTTPBadRequest, "bad_number", str(exc)) from exc
    await record(request, "compliance.dnc_added", e164, new=added)
    return web.json_response({"number": e164, "added": added}, status=201 if added else 200)


async def remove_dnc(request: web.Request) -> web.Response:
    number, reason = await _number_and_reason(request)
    try:
        e164, removed = await _lists(request).dnc_remove(number, reason)
    except NumberError as exc:
        raise _error(web.HTTPBadRequest, "bad_number", str(exc)) from exc
    await record(request, "compliance.dnc_removed", e164, removed=removed)
    if not removed:
        raise _error(web.HTTPNotFound, "not_listed", "the number is not on the list")
    return web.json_response({"number": e164, "removed": True})


@contextlib.asynccontextmanager
async def _body_file(request: web.Request) -> AsyncIterator[Path]:
    """The request body in a temporary file, read in bounded chunks (413 past the limit)."""
    with tempfile.TemporaryDirectory(prefix="callwright-import-") as folder:
        path = Path(folder) / "body.csv"
        handle = await asyncio.to_thread(path.open, "wb")
        size = 0
        try:
            async for chunk in request.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                if size > MAX_IMPORT_BYTES:
                    raise _error(web.HTTPRequestEntityTooLarge, "too_large",
                                 f"an import is at most {MAX_IMPORT_BYTES} bytes")  # fmt: skip
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        yield path


def _source(request: web.Request) -> str:
    source = request.query.get("source", "").strip()[:100]
    return source or "http"


async def import_dnc(request: web.Request) -> web.Response:
    source = f"import:{_source(request)}"
    async with _body_file(request) as path:
        count = await _lists(request).dnc_import(path, source)
    await record(request, "compliance.dnc_imported", None, source=source, **count.to_dict())
    return web.json_response(count.to_dict())


async def import_consent(request: web.Request) -> web.Response:
    source = _source(request)
    async with _body_file(request) as path:
        try:
            count = await _lists(request).consent_import(path, source)
        except ValueError as exc:
            raise _error(web.HTTPBadRequest, "bad_request", str(exc)) from exc
    await record(request, "compliance.consent_imported", None, source=source, **count.to_dict())
    return web.json_response(count.to_dict())
