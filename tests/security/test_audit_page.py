"""The dashboard's audit page shows the access audit log to an admin, in a real browser."""

from __future__ import annotations

import time

from callwright.store.base import CallRecord
from tests.browser import chromium, console_errors, screenshot
from tests.security.conftest import Server


async def test_an_admin_sees_who_read_a_call(server: Server) -> None:
    call_id = "c-audit-page"
    await server.stack.store.start_call(CallRecord(call_id, "websocket", None, time.time()))
    async with chromium() as browser:  # signed in as the test admin
        page = await browser.new_page()
        errors = console_errors(page)
        await page.goto(f"{server.base}/dashboard/calls/{call_id}")
        await page.goto(f"{server.base}/dashboard/audit")
        row = page.locator(f"#audit-rows tr[data-action='call.read']:has-text('{call_id}')")
        await row.first.wait_for()
        cells = await row.first.locator("td").all_inner_texts()
        assert cells[1:5] == ["admin", "user", "call.read", call_id]
        await screenshot(page, "audit-page")
        assert errors == []
