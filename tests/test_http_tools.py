"""HTTP tools against real local servers: a caller-steered path cannot climb to another
endpoint, a redirect is not followed with the credential, a long chunked answer is read
whole, and a request with side effects carries its idempotency key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from callwright import Agent, CallInfo, ToolCall
from callwright.agents.gated_tools import GatedTools
from callwright.agents.http_tools import HttpToolError, HttpToolSpec, http_tool
from callwright.tools.registry import ToolRefused
from tests.conftest import serving

SECRET = "Bearer only-for-the-shop"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[str, str, list[tuple[str, str, str | None]]]]:
    """The shop's API and another host; every request either saw (host, path, credential)."""
    seen: list[tuple[str, str, str | None]] = []

    def app(name: str) -> web.Application:
        async def any_path(request: web.Request) -> web.StreamResponse:
            seen.append((name, request.raw_path, request.headers.get("Authorization")))
            if request.path.startswith("/moved"):
                raise web.HTTPTemporaryRedirect(f"{other_url}/stolen")
            if request.path.startswith("/big"):
                response = web.StreamResponse(headers={"Content-Type": "application/json"})
                await response.prepare(request)
                items = [{"line": i, "text": "x" * 90} for i in range(1000)]
                data = json.dumps(items).encode()
                for start in range(0, len(data), 4096):  # many chunks, spaced out
                    await response.write(data[start : start + 4096])
                    await asyncio.sleep(0.005)
                await response.write_eof()
                return response
            key = request.headers.get("Idempotency-Key")
            return web.json_response({"path": request.raw_path, "key": key})

        made = web.Application()
        made.router.add_route("*", "/{tail:.*}", any_path)
        return made

    async with serving(app("shop")) as shop_url, serving(app("other")) as other:
        other_url = other
        yield shop_url, other_url, seen


def tool(url: str, method: str = "GET") -> HttpToolSpec:
    params = {"type": "object", "properties": {"order_id": {"type": "string"}}}
    name = "orders" if method == "GET" else "returns_create"
    return HttpToolSpec(name, "Orders.", url, method, params, auth_header="Authorization",
                        auth_value=SECRET)  # fmt: skip


async def test_a_path_argument_cannot_climb_to_another_endpoint(
    servers: tuple[str, str, list[tuple[str, str, str | None]]],
) -> None:
    shop, _, seen = servers
    cancel = http_tool(tool(f"{shop}/orders/{{order_id}}/cancel", "POST"))
    for climbing in ("..", ".", ""):
        with pytest.raises(ToolRefused):
            await cancel.handler(order_id=climbing)
    assert seen == []
    # A slash inside a value stays inside its segment, encoded.
    result = await cancel.handler(order_id="../admin")
    assert result["path"] == "/orders/..%2Fadmin/cancel"


async def test_a_redirect_is_not_followed_with_the_credential(
    servers: tuple[str, str, list[tuple[str, str, str | None]]],
) -> None:
    shop, _, seen = servers
    moved = http_tool(tool(f"{shop}/moved/{{order_id}}"))
    with pytest.raises(HttpToolError, match="redirect"):
        await moved.handler(order_id="7")
    assert [(host, cred) for host, _, cred in seen] == [("shop", SECRET)]  # never the other


async def test_a_long_answer_in_many_chunks_is_read_whole(
    servers: tuple[str, str, list[tuple[str, str, str | None]]],
) -> None:
    shop, _, _ = servers
    result = await http_tool(tool(f"{shop}/big/{{order_id}}")).handler(order_id="7")
    assert len(result) == 1000 and result[-1]["line"] == 999


async def test_a_request_with_side_effects_carries_its_idempotency_key(
    servers: tuple[str, str, list[tuple[str, str, str | None]]],
) -> None:
    shop, _, _ = servers
    create = http_tool(tool(f"{shop}/returns/{{order_id}}", "POST"))
    result = await create.handler(idempotency_key="k-123", order_id="7")
    assert result == {"path": "/returns/7", "key": "k-123"}


async def test_a_tool_that_is_not_a_read_gets_its_key_through_the_agents_tools(
    servers: tuple[str, str, list[tuple[str, str, str | None]]],
) -> None:
    shop, _, _ = servers
    create = http_tool(tool(f"{shop}/returns/{{order_id}}", "POST"))
    read = http_tool(tool(f"{shop}/orders/{{order_id}}"))
    tools = GatedTools(Agent(name="shop", tools=[create, read], knowledge_embedder=None),
                       CallInfo("c1", "test"), None, None)  # fmt: skip
    made = await tools.run(ToolCall("m1", "returns_create", {"order_id": "7"}))
    looked = await tools.run(ToolCall("m2", "orders", {"order_id": "7"}))
    assert made.error is None and made.result["key"]  # the registry's key, sent as a header
    assert looked.error is None and looked.result["key"] is None
    assert tools.changes_things("returns_create") and not tools.changes_things("orders")
