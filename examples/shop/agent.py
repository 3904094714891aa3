"""The shop's order-status and returns agent, built only on `callwright`'s public API.

LLM-first: the model talks to the caller and picks the tools; the framework keeps the return
on its rails. A return goes through four steps that cannot be skipped:

1. identify the order (`find_order`: the order number and the delivery postcode);
2. check it can be returned (`check_return_eligibility`, which requires step 1 for the same
   order; an ineligible order is refused, so step 3 never unlocks);
3. confirm: `create_return` has `confirm=True`, so the caller hears the details read back
   and it runs only after their own "yes", checked without the model;
4. create the return (requires step 2 for the same order; the backend's idempotency key is
   the framework's, so a repeated "yes" opens one return).

The return tools belong to the flow's "return" node: they are offered to the model only once
the caller has asked for a return. The backend is the shop's own REST service
(`examples/shop/backend.py`): its URL and token come from `SHOP_API_URL` and
`SHOP_API_TOKEN`. Serve it with `callwright serve --agent examples/shop/agent.py`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aiohttp

from callwright import Agent, Flow, Node, ToolRefused, tool

INSTRUCTIONS = """\
You are the phone assistant of Example Shop. Today is {today}.
Answer in one or two short sentences; you are speaking, so no lists or symbols.
Use the tools for every fact about an order. To find an order you need its number and the
delivery postcode: ask for whichever is missing. For a return: find the order, check it is
eligible, then call create_return with the caller's reason; the system reads the details back
and asks the caller to confirm. If a tool refuses, explain why in plain words.
Questions about policies and delivery times: use search_knowledge."""


async def _request(method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """One request to the shop's backend; returns the status and the JSON body."""
    base = os.environ.get("SHOP_API_URL", "http://127.0.0.1:8089")
    headers = {"Authorization": f"Bearer {os.environ.get('SHOP_API_TOKEN', 'demo-token')}"}
    headers |= kwargs.pop("headers", {})
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.request(method, base + path, **kwargs) as response:
            if response.status >= 500:
                response.raise_for_status()  # retried by the framework
            return response.status, await response.json()


@tool(timeout=3.0, retries=1, filler="One moment while I look that up.")
async def find_order(order_id: str, postcode: str) -> dict[str, Any]:
    """Finds an order and where it is, by its number and the delivery postcode.

    Args:
        order_id: the order number, digits only.
        postcode: the postcode the order was delivered to.
    """
    status, body = await _request("GET", f"/orders/{order_id}", params={"postcode": postcode})
    if status != 200:
        raise ToolRefused(body.get("error", "order not found"))
    return body


@tool(timeout=3.0, retries=1, requires=("find_order",))
async def check_return_eligibility(order_id: str) -> dict[str, Any]:
    """Checks that an order can be returned today.

    Args:
        order_id: the order number, as found with find_order.
    """
    status, body = await _request("GET", f"/orders/{order_id}/return-eligibility")
    if status != 200 or not body.get("eligible"):
        raise ToolRefused(f"order {order_id} cannot be returned: {body.get('reason', body)}")
    return body


@tool(
    timeout=5.0,
    retries=1,
    confirm=True,
    confirm_prompt="Just to confirm: a return for order {order_id}, because {reason}. "
    "Shall I open it?",
    requires=("check_return_eligibility",),
)
async def create_return(order_id: str, reason: str, idempotency_key: str) -> dict[str, Any]:
    """Opens a return for an eligible order; the caller gets a prepaid label by email.

    Args:
        order_id: the order number.
        reason: why the item goes back, in the caller's words.
    """
    status, body = await _request(
        "POST",
        "/returns",
        json={"order_id": order_id, "reason": reason},
        headers={"Idempotency-Key": idempotency_key},
    )
    if status not in (200, 201):
        raise ToolRefused(body.get("error", "the return could not be created"))
    said = f"Your return is open, reference {body['return_id']}. The label is on its way by email."
    return {**body, "say": said}


FLOW = Flow(
    "shop",
    start="menu",
    nodes={
        "menu": Node("menu"),
        "return": Node("return", tools=frozenset({"check_return_eligibility", "create_return"})),
    },
)

agent = Agent(
    name="shop",
    greeting="Hello, you're through to Example Shop. How can I help?",
    instructions=INSTRUCTIONS,
    knowledge=Path(__file__).parent / "knowledge",
    flow=FLOW,
    intents={"return": ["return", "send back", "send it back", "refund"]},
    tools=[find_order, check_return_eligibility, create_return],
    escalation_cues=["speak to a person", "speak to the manager"],
    transfer_number="+15550142",
    vocabulary=["Example Shop", "postcode", "return", "refund"],
)
