"""Building the default agent from settings: the receptionist, with an LLM when configured.

Integrations are switched on by environment variables:
CALLWRIGHT_WEBHOOK_URL (+ CALLWRIGHT_WEBHOOK_SECRET, required) sends signed webhooks, redacted
per the redaction policy (CALLWRIGHT_WEBHOOK_REDACT overrides it for the webhook, in the same
"kind=action" form, or "none" to send raw data);
CALLWRIGHT_CALDAV_URL (+ CALLWRIGHT_CALDAV_USER, CALLWRIGHT_CALDAV_PASSWORD) mirrors
appointments into a CalDAV calendar.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from callwright.agents.definition import AgentRuntime
from callwright.integrations.caldav import CalDavCalendar, CalDavOptions
from callwright.integrations.outbox import outbox_for
from callwright.integrations.webhooks import WebhookSender, webhook_options_from_env
from examples.clinic.factory import ClinicOptions, ClinicResponderFactory

log = logging.getLogger(__name__)


async def build_responders(
    runtime: AgentRuntime, knowledge_by_language: Mapping[str, Path] | None = None
) -> ClinicResponderFactory:
    """The clinic receptionist: deterministic, or LLM-guided when `runtime.llm` is set.

    Args:
        runtime: what the server gives the agent.
        knowledge_by_language: knowledge folders of the clinic's other languages, by code.
    """
    env = runtime.env
    data_dir = runtime.data_dir
    options = ClinicOptions(
        db_path=data_dir / "clinic.sqlite3",
        today=runtime.today,
        knowledge_by_language=dict(knowledge_by_language or {}),
    )
    factory: ClinicResponderFactory
    if runtime.llm is None:
        factory = await ClinicResponderFactory.open(options)
    else:
        from examples.clinic.factory import open_clinic
        from examples.clinic.llm_path import ClinicLlmResponderFactory

        factory = ClinicLlmResponderFactory(await open_clinic(options), options, runtime.llm)
    if env.get("CALLWRIGHT_WEBHOOK_URL"):
        outbox = outbox_for(runtime, "webhooks.sqlite3")  # shared with the PostgreSQL store
        sender = WebhookSender(webhook_options_from_env(env), outbox)
        await sender.start()
        factory.add_hook(sender.emit, close=sender.close)
    if env.get("CALLWRIGHT_CALDAV_URL"):
        calendar = CalDavCalendar(
            CalDavOptions(
                env["CALLWRIGHT_CALDAV_URL"],
                env.get("CALLWRIGHT_CALDAV_USER"),
                env.get("CALLWRIGHT_CALDAV_PASSWORD"),
            )
        )
        try:
            await calendar.ensure_calendar()
        except Exception:
            log.exception("CalDAV calendar unavailable; appointments stay in the embedded store")
        factory.add_hook(calendar.on_event, close=calendar.close)
    return factory
