"""The shop's own REST backend: orders and returns, the service the shop agent's tools call.

A small aiohttp service with the shape of a real one: a bearer token on every request, an
order found only with its order number and the delivery postcode (so a caller who knows one
order number cannot read someone else's order), an eligibility rule owned by the backend
(delivered, and within the return window), and `POST /returns` made idempotent by the
`Idempotency-Key` header (a retried request returns the same return, never a second one).

    GET  /orders/{order_id}?postcode=...        -> the order, or 404
    GET  /orders/{order_id}/return-eligibility  -> {"eligible": bool, "reason": str}
    POST /returns {"order_id", "reason"}        -> 201 the new return (200 on a replay)

Run it on its own with `python -m examples.shop.backend` (port 8089, token from
`SHOP_API_TOKEN`); the example's tests start it on a free port.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

RETURN_WINDOW_DAYS = 30
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Order:
    """One order as the backend stores it."""

    order_id: str
    postcode: str
    item: str
    status: str  # "processing", "shipped", "delivered"
    delivered_on: dt.date | None = None


@dataclass(slots=True)
class Return:
    """A return the backend created."""

    return_id: str
    order_id: str
    reason: str


def sample_orders(today: dt.date) -> list[Order]:
    """A few orders, dated relative to `today` (the demo's and the tests' data)."""
    return [
        Order("1042", "94107", "a rain jacket", "delivered", today - dt.timedelta(days=6)),
        Order("2077", "10001", "running shoes", "shipped"),
        Order("3150", "60614", "a desk lamp", "delivered", today - dt.timedelta(days=75)),
    ]


@dataclass(slots=True)
class ShopBackend:
    """The backend's state and routes.

    Attributes:
        token: the bearer token every request must carry.
        orders: by order number.
        returns: every return created, in order.
        today: the backend's date (a function, so tests can pin it).
    """

    token: str
    orders: dict[str, Order]
    today: Callable[[], dt.date] = dt.date.today
    returns: list[Return] = field(default_factory=list)
    _by_key: dict[str, Return] = field(default_factory=dict)

    def app(self) -> web.Application:
        """The aiohttp application serving the routes."""
        app = web.Application(middlewares=[self._auth()])
        app.router.add_get("/orders/{order_id}", self._order)
        app.router.add_get("/orders/{order_id}/return-eligibility", self._eligibility)
        app.router.add_post("/returns", self._create_return)
        return app

    def _auth(self) -> Any:
        token = f"Bearer {self.token}"

        @web.middleware
        async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.headers.get("Authorization") != token:
                return web.json_response({"error": "unauthorized"}, status=401)
            return await handler(request)

        return auth

    def eligibility(self, order: Order) -> tuple[bool, str]:
        """Can `order` be returned today, and why (not)."""
        if order.delivered_on is None:
            return False, f"the order has not been delivered yet (it is {order.status})"
        if any(r.order_id == order.order_id for r in self.returns):
            return False, "a return is already open for this order"
        age = (self.today() - order.delivered_on).days
        if age > RETURN_WINDOW_DAYS:
            return False, f"it was delivered {age} days ago; returns close after 30 days"
        return True, f"delivered {age} days ago, within the {RETURN_WINDOW_DAYS}-day window"

    async def _order(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        postcode = request.query.get("postcode", "").replace(" ", "").upper()
        if order is None or order.postcode.upper() != postcode:
            return web.json_response(
                {"error": "no order with that number and postcode"}, status=404
            )
        found = asdict(order)
        del found["postcode"]
        found["delivered_on"] = order.delivered_on.isoformat() if order.delivered_on else None
        return web.json_response(found)

    async def _eligibility(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return web.json_response({"error": "no such order"}, status=404)
        eligible, reason = self.eligibility(order)
        return web.json_response(
            {"order_id": order.order_id, "eligible": eligible, "reason": reason}
        )

    async def _create_return(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        if key and key in self._by_key:
            return web.json_response(asdict(self._by_key[key]), status=200)
        body = await request.json()
        order = self.orders.get(str(body.get("order_id", "")))
        if order is None:
            return web.json_response({"error": "no such order"}, status=404)
        eligible, reason = self.eligibility(order)
        if not eligible:
            return web.json_response({"error": f"not eligible: {reason}"}, status=409)
        created = Return(f"R-{len(self.returns) + 1:04d}", order.order_id, str(body.get("reason")))
        self.returns.append(created)
        if key:
            self._by_key[key] = created
        return web.json_response(asdict(created), status=201)


@contextlib.asynccontextmanager
async def serve_backend(
    backend: ShopBackend, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serves `backend` until the block ends; yields its root URL (port 0: a free port)."""
    runner = web.AppRunner(backend.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()


def main() -> None:
    """Runs the demo backend on port 8089 with the sample orders."""
    token = os.environ.get("SHOP_API_TOKEN", "demo-token")
    orders = {o.order_id: o for o in sample_orders(dt.date.today())}
    web.run_app(ShopBackend(token, orders).app(), host="127.0.0.1", port=8089)


if __name__ == "__main__":
    main()
