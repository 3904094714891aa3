"""The dashboard's sign-in and sign-out, in a real browser."""

from __future__ import annotations

from urllib.parse import unquote

from tests.browser import chromium, console_errors, screenshot
from tests.conftest import OPERATOR_PASSWORD
from tests.security.conftest import Server


async def test_sign_in_to_the_dashboard_and_out_again(server: Server) -> None:
    async with chromium(signed_in=False) as browser:
        page = await browser.new_page()
        errors = console_errors(page)
        await page.goto(f"{server.base}/talk")
        assert unquote(page.url) == f"{server.base}/signin?next=/talk"
        await screenshot(page, "sign-in")
        await page.fill("#name", "Vic")  # a viewer
        await page.fill("#password", OPERATOR_PASSWORD)
        await page.click("#signin")
        await page.wait_for_url(f"{server.base}/talk")
        cookies = {c["name"]: c for c in await browser.cookies()}
        assert cookies["cw_session"]["httpOnly"] and cookies["cw_session"]["sameSite"] == "Strict"

        await page.goto(f"{server.base}/dashboard")
        await page.wait_for_selector("body[data-loaded=true]")
        await page.click("#operator-signout")
        await page.wait_for_url(f"{server.base}/signin")
        await page.goto(f"{server.base}/dashboard")
        assert unquote(page.url) == f"{server.base}/signin?next=/dashboard"
        assert errors == []


async def test_a_next_that_browsers_read_as_another_site_leads_to_the_dashboard(
    server: Server,
) -> None:
    # "/\evil.example" and "/<tab>/evil.example" start with one slash, but a browser resolves
    # both to https://evil.example/: after signing in, the operator stays on this server.
    for crafted in ("%2F%5Cevil.example", "%2F%09%2Fevil.example", "%2F%2Fevil.example"):
        await sign_in_with_next(server, crafted, f"{server.base}/dashboard")
    # A path of this server, with its query, is still where the operator goes.
    await sign_in_with_next(
        server, "%2Fdashboard%3Fslow_ms%3D800", f"{server.base}/dashboard?slow_ms=800"
    )


async def sign_in_with_next(server: Server, next_param: str, lands_at: str) -> None:
    """Signs a viewer in from `/signin?next=<next_param>` and waits to land at `lands_at`."""
    async with chromium(signed_in=False) as browser:
        page = await browser.new_page()
        await page.goto(f"{server.base}/signin?next={next_param}")
        await page.fill("#name", "Vic")
        await page.fill("#password", OPERATOR_PASSWORD)
        await page.click("#signin")
        await page.wait_for_url(lands_at)
