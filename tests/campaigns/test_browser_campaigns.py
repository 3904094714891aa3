"""The campaigns page in headless Chromium: an admin starts a campaign from the form (picking a
configured agent), watches its progress, pauses, resumes and cancels it with the buttons; a
viewer gets neither the page nor the API.

The server has no Twilio REST credentials, so nothing is dialled: the contacts' outcomes are
written to the store as the runner would, and the page must show what the store holds."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path
from typing import cast

from playwright.async_api import Page

from callwright.agent.stack import AgentStack
from callwright.campaigns.store import CampaignStore
from callwright.compliance.tables import SqlStore
from callwright.server.auth import SESSION_COOKIE, digest
from tests.browser import chromium, console_errors, placeholder_words, screenshot
from tests.security.conftest import secure_server

VIEWER_SESSION = "test-viewer-browser-session-" + "v" * 16


async def _row_status(page: Page, campaign_id: str, status: str) -> None:
    await page.wait_for_selector(f'tr[data-campaign="{campaign_id}"] td[data-status="{status}"]')


async def test_the_campaigns_page(stack: AgentStack, tmp_path: Path) -> None:
    agents = {"survey": dataclasses.replace(stack)}
    async with secure_server(stack, tmp_path, agents=agents) as server:
        campaigns = CampaignStore(cast(SqlStore, server.stack.store))
        async with chromium() as browser:
            page = await browser.new_page()
            errors = console_errors(page)
            await page.goto(f"{server.base}/dashboard/campaigns")
            await page.wait_for_selector('#agent-choice option[value="survey"]', state="attached")
            await page.fill("[name=name]", "Tuesday reminders")
            await page.fill("[name=from]", "(212) 555-0100")
            await page.fill("[name=purpose]", "appointment_reminders")
            await page.select_option("[name=agent]", "survey")
            await page.fill("[name=pace_s]", "0")
            await page.fill("[name=starts_at]", "2027-01-05T09:30")  # the browser's local time
            await page.fill(
                "[name=contacts_csv]",
                "number,first_name\n+12125550161,Ann\n212-555-0162,Bob\nnot a number,Cat\n",
            )
            await page.click("#create-campaign button[type=submit]")
            await page.wait_for_selector("#create-result[data-ok=true]")
            assert await page.inner_text("#create-result") == (
                "started with 2 contacts, 1 row rejected"
            )
            (created,) = await campaigns.all()
            cid = created.campaign_id
            assert created.plan.agent == "survey" and created.plan.from_number == "+12125550100"
            # Chromium runs in this process's time zone.
            starts = dt.datetime(2027, 1, 5, 9, 30).astimezone().timestamp()
            assert created.plan.starts_at == starts
            await _row_status(page, cid, "running")
            row = f'tr[data-campaign="{cid}"]'
            cells = await page.eval_on_selector_all(f"{row} td", "tds => tds.map(t => t.innerText)")
            assert cells[:3] == ["Tuesday reminders", "survey", "running"]
            assert cells[3] == "0%"
            # One contact settles (as the runner records a completed call): half done.
            first = (await campaigns.contacts(cid))[0]
            await campaigns.update(cid, first.contact_id, "done", outcome="completed")
            await page.wait_for_function(
                f"document.querySelector('{row} td:nth-child(4)').innerText === '50%'"
            )
            assert await page.inner_text(f"{row} td:nth-child(5)") == "1"
            await page.click(f'{row} button[data-action="pause"]')
            await _row_status(page, cid, "paused")
            assert (await campaigns.get(cid)).status == "paused"  # type: ignore[union-attr]
            await page.click(f'{row} button[data-action="resume"]')
            await _row_status(page, cid, "running")
            await page.click(f'{row} button[data-action="cancel"]')
            await _row_status(page, cid, "cancelled")
            assert await page.query_selector(f"{row} button") is None  # nothing left to do
            states = {c.contact_id: (c.status, c.outcome) for c in await campaigns.contacts(cid)}
            assert sorted(states.values()) == [("done", "completed"), ("skipped", "cancelled")]
            # A bad form is refused with the server's reason, and starts nothing.
            await page.fill("[name=name]", "bad")
            await page.fill("[name=from]", "not a number")
            await page.fill("[name=purpose]", "x")
            await page.fill("[name=contacts_csv]", "number\n+12125550163\n")
            await page.click("#create-campaign button[type=submit]")
            await page.wait_for_selector("#create-result[data-ok=false]")
            assert (await page.inner_text("#create-result")).startswith("not started: ")
            assert len(await campaigns.all()) == 1
            assert await placeholder_words(page) == []
            await screenshot(page, "campaigns")
            # The browser logs the refused request itself; nothing else went wrong.
            assert [e for e in errors if "status of 400 (Bad Request)" not in e] == []

        await server.access.add_session(digest(VIEWER_SESSION), "Vic", time.time() + 3600)
        async with chromium(signed_in=False) as browser:
            await browser.add_cookies([{"name": SESSION_COOKIE, "value": VIEWER_SESSION,
                                        "domain": "127.0.0.1", "path": "/"}])  # fmt: skip
            page = await browser.new_page()
            response = await page.goto(f"{server.base}/dashboard/campaigns")
            assert response is not None and response.status == 403
            await page.goto(f"{server.base}/dashboard")  # a page the viewer may see
            status = await page.evaluate(
                """() => fetch('/v1/campaigns', {method: 'POST',
                     headers: {'Content-Type': 'application/json'},
                     body: JSON.stringify({name: 'v', from: '+12125550100', purpose: 'p',
                                           contacts: [{number: '+12125550164'}]})})
                   .then(r => r.status)"""
            )
            assert status == 403
        assert len(await campaigns.all()) == 1
