"""The web pages the server serves: the operator dashboard and the talk-to-the-agent page.

The pages are static HTML, CSS and vanilla JavaScript (no build step, no CDN: a deployment
may have no internet access). They read everything from the JSON API (`/v1/calls`,
`/v1/calls/{id}`, `/v1/kpis`), so this module only maps URLs to files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

WEB_ROOT = Path(__file__).resolve().parent / "web"
STATIC_PREFIX = "/static"


def add_page_routes(app: web.Application, root: Path = WEB_ROOT) -> None:
    """Registers the dashboard, the talk page and their static assets on `app`.

    Args:
        app: the server application.
        root: folder holding the HTML, CSS and JavaScript files.
    """
    app.router.add_get("/", _redirect_to_dashboard)
    app.router.add_get("/dashboard", _page(root / "dashboard.html"))
    app.router.add_get("/dashboard/calls/{call_id}", _page(root / "call.html"))
    app.router.add_get("/talk", _page(root / "talk.html"))
    app.router.add_get("/console", _page(root / "console.html"))
    app.router.add_get("/dashboard/audit", _page(root / "audit.html"))
    app.router.add_get("/dashboard/campaigns", _page(root / "campaigns.html"))
    app.router.add_static(STATIC_PREFIX, root, append_version=False)


async def _redirect_to_dashboard(request: web.Request) -> web.Response:
    raise web.HTTPFound("/dashboard")


def _page(path: Path) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        # Pages are tiny and change with deployments; never let a browser keep a stale one.
        return web.FileResponse(path, headers={"Cache-Control": "no-store"})

    return handler
