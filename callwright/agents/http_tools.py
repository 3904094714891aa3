"""Tools that call an HTTP API (the YAML form of an agent declares these).

The URL may name arguments in braces (`https://shop.example/orders/{order_id}`); they are
filled in URL-quoted. The other arguments go in the query string for GET and DELETE, and as
a JSON body otherwise. A JSON response is the tool's result, any other body its text; an
error status is a tool failure the model is told about. Responses are read up to a limit, so
a misbehaving backend cannot exhaust memory.

The model writes the arguments, and a caller's words steer the model: a path argument of
"." or ".." (which would climb to another endpoint of the API) is refused, and redirects are
not followed (one would carry the credential header to wherever the backend points). A
request with side effects carries the call's idempotency key (`Idempotency-Key`), so a retry
after a timeout is one the backend can recognise.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

from callwright.agents.tool import FunctionTool
from callwright.tools.registry import ToolRefused

MAX_RESPONSE_BYTES = 256 * 1024


class HttpToolError(Exception):
    """The API answered with an error status, or with more than the response limit."""


@dataclass(frozen=True, slots=True)
class HttpToolSpec:
    """One HTTP tool.

    Attributes:
        name: the function name the model uses.
        description: what it does and when to use it (the model reads this).
        url: the endpoint; `{argument}` placeholders are filled from the arguments.
        method: GET, POST, PUT, PATCH or DELETE.
        parameters: JSON schema of the arguments (an `object` schema).
        headers: extra request headers.
        auth_header: the header carrying the credential (e.g. "Authorization").
        auth_value: its value (read from an environment variable by the YAML loader).
        timeout: seconds one attempt may take.
        retries: further attempts after a failure (only safe for idempotent requests).
        confirm: needs the caller's yes before it runs.
        confirm_prompt: the read-back question, formatted with the arguments.
        filler: said while a slow request runs.
    """

    name: str
    description: str
    url: str
    method: str = "GET"
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    headers: Mapping[str, str] = field(default_factory=dict)
    auth_header: str | None = None
    auth_value: str | None = None
    timeout: float = 5.0
    retries: int = 0
    confirm: bool = False
    confirm_prompt: str | None = None
    filler: str | None = None


def url_placeholders(url: str) -> list[str]:
    """The argument names a URL template uses."""
    return [name for _, name, _, _ in string.Formatter().parse(url) if name]


def http_tool(
    spec: HttpToolSpec, session: Callable[[], aiohttp.ClientSession] | None = None
) -> FunctionTool:
    """A tool that sends one request per call, as `spec` says.

    Args:
        spec: the request.
        session: returns the HTTP session to use; None creates one per call.
    """
    in_url = set(url_placeholders(spec.url))
    method = spec.method.upper()

    async def call_api(idempotency_key: str | None = None, **arguments: Any) -> Any:
        key = idempotency_key
        url = spec.url.format(**{k: _path_value(k, arguments.get(k, "")) for k in in_url})
        rest = {k: v for k, v in arguments.items() if k not in in_url}
        headers = {"Accept": "application/json", **spec.headers}
        if spec.auth_header and spec.auth_value:
            headers[spec.auth_header] = spec.auth_value
        if key and method not in ("GET", "HEAD"):
            headers["Idempotency-Key"] = str(key)
        request: dict[str, Any] = {"headers": headers}
        if method in ("GET", "DELETE"):
            request["params"] = {k: _query_value(v) for k, v in rest.items()}
        else:
            request["json"] = rest
        own = session is None
        http = aiohttp.ClientSession() if session is None else session()
        try:
            async with http.request(method, url, allow_redirects=False, **request) as response:
                body = await _read_limited(response, spec.name)
                text = body.decode(response.charset or "utf-8", errors="replace")
                if 300 <= response.status < 400:
                    raise HttpToolError(
                        f"{method} {spec.name} answered HTTP {response.status} (a redirect, "
                        "not followed: point the tool's url at its final address)"
                    )
                if response.status >= 400:
                    raise HttpToolError(f"{method} {spec.name} answered HTTP {response.status}")
                if "json" in (response.content_type or ""):
                    return json.loads(text) if text.strip() else None
                return text
        finally:
            if own:
                await http.close()

    call_api.__name__ = spec.name
    return FunctionTool(
        name=spec.name,
        description=spec.description,
        parameters=dict(spec.parameters),
        handler=call_api,
        timeout=spec.timeout,
        retries=spec.retries,
        confirm=spec.confirm,
        confirm_prompt=spec.confirm_prompt,
        filler=spec.filler,
        # A request that is not a read changes something: it gets a key (sent as the
        # Idempotency-Key header; the same request in the same call runs once).
        idempotency_key=None if method in ("GET", "HEAD") else "call",
    )


def _path_value(name: str, value: Any) -> str:
    """An argument as one URL path segment; one that would climb the path is refused."""
    text = str(value)
    if text.strip() in ("", ".", ".."):
        raise ToolRefused(f"argument {name}: {text!r} is not a value for the path")
    return quote(text, safe="")


async def _read_limited(response: aiohttp.ClientResponse, name: str) -> bytes:
    """The whole body, however many chunks it comes in, up to `MAX_RESPONSE_BYTES`."""
    body = bytearray()
    async for chunk in response.content.iter_any():
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise HttpToolError(f"{name}: response larger than {MAX_RESPONSE_BYTES}")
    return bytes(body)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
