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
import os
from collections.abc import Mapping

from callwright.clinic.factory import ClinicOptions, ClinicResponderFactory
from callwright.config import Settings
from callwright.integrations.caldav import CalDavCalendar, CalDavOptions
from callwright.integrations.webhooks import WebhookOptions, WebhookSender
from callwright.observe.redact import RedactionPolicy

log = logging.getLogger(__name__)


async def build_responders(
    settings: Settings, env: Mapping[str, str] | None = None
) -> ClinicResponderFactory:
    """The clinic receptionist: deterministic, or LLM-guided when `settings.llm` is set."""
    env = os.environ if env is None else env
    options = ClinicOptions(db_path=settings.data_dir / "clinic.sqlite3")
    factory: ClinicResponderFactory
    if settings.llm is None:
        factory = await ClinicResponderFactory.open(options)
    else:
        from callwright.clinic.factory import open_clinic
        from callwright.clinic.llm_path import ClinicLlmResponderFactory
        from callwright.llm.openai_compat import LlmOptions

        llm = LlmOptions(
            base_url=settings.llm.base_url, model=settings.llm.model, api_key=settings.llm.api_key
        )
        factory = ClinicLlmResponderFactory(await open_clinic(options), options, llm)
    if env.get("CALLWRIGHT_WEBHOOK_URL"):
        sender = WebhookSender(webhook_options(env), settings.data_dir / "webhooks.sqlite3")
        await sender.start()
        factory.add_hook(sender.emit)
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
        factory.add_hook(calendar.on_event)
    return factory


def webhook_options(env: Mapping[str, str]) -> WebhookOptions:
    """The webhook destination from the environment; refuses one without a secret."""
    if not env.get("CALLWRIGHT_WEBHOOK_SECRET"):
        raise ValueError("CALLWRIGHT_WEBHOOK_SECRET is required when CALLWRIGHT_WEBHOOK_URL is set")
    policy = RedactionPolicy.from_env(env)
    override = env.get("CALLWRIGHT_WEBHOOK_REDACT", "").strip()
    redaction: RedactionPolicy | None = policy
    if override.lower() in ("none", "off", "raw"):
        redaction = None
    elif override:
        redaction = RedactionPolicy.from_env({**env, "CALLWRIGHT_REDACT": override})
    return WebhookOptions(
        env["CALLWRIGHT_WEBHOOK_URL"],
        env["CALLWRIGHT_WEBHOOK_SECRET"],
        redaction=redaction,
        retention_days=policy.retention_days,
    )
