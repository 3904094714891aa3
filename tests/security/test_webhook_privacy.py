"""Personal data in webhooks: redacted by default, raw only where configured, purged in time.

A handoff packet carries the caller's number, name, date of birth and words. Sent by webhook it
follows the redaction policy (per destination); the webhook secret is required; and retention
also deletes dead letters that were never delivered.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from callwright.agents.build import build_responders
from callwright.agents.definition import Agent, AgentRuntime
from callwright.integrations.webhooks import WebhookOptions, WebhookSender
from callwright.integrations.webhooks import webhook_options_from_env as webhook_options
from callwright.observe.redact import RedactionPolicy
from tests.test_webhooks import SECRET, Receiver, free_port, options

PACKET: dict[str, Any] = {
    "call_id": "c1",
    "channel": "twilio",
    "caller": "+1 (555) 867-5309",
    "transcript": [
        {"role": "caller", "text": "Hi, this is Ada Lovelace, born March 3rd, 1985."},
        {"role": "agent", "text": "Thanks Ada, one moment."},
    ],
    "slots": {"name": "Ada Lovelace", "dob": "March 3rd, 1985"},
    "identity": {"verified": True, "patient_name": "Ada Lovelace"},
    "summary": "Ada Lovelace (+1 555 867 5309) wants to move her appointment.",
}
SECRETS = ("867", "5309", "Lovelace", "1985", "Ada")


async def deliver(tmp_path: Path, data: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    port = free_port()
    receiver = Receiver(port)
    await receiver.start()
    sender = WebhookSender(options(port, **overrides), tmp_path / f"hooks-{port}.sqlite3")
    await sender.start()
    try:
        await sender.emit("handoff_requested", data)
        await sender.drain()
    finally:
        await sender.close()
        await receiver.stop()
    assert receiver.valid == [True]
    event: dict[str, Any] = receiver.received[0]["data"]
    return event


async def test_handoff_packet_is_redacted_by_default(tmp_path: Path) -> None:
    sent = await deliver(tmp_path, PACKET)
    text = json.dumps(sent)
    for secret in SECRETS:
        assert secret not in text, (secret, text)
    assert sent["caller"] == "[PHONE]"
    assert sent["slots"]["name"] == "[NAME]"
    assert sent["call_id"] == "c1" and "wants to move her appointment" in sent["summary"]


async def test_each_destination_has_its_own_policy(tmp_path: Path) -> None:
    masked = await deliver(tmp_path, PACKET, redaction=RedactionPolicy(phone="mask", name="keep"))
    assert masked["caller"] == "[PHONE …5309]"
    assert masked["slots"]["name"] == "Ada Lovelace"
    assert "1985" not in json.dumps(masked)
    raw = await deliver(tmp_path, PACKET, redaction=None)
    assert raw == PACKET


def test_webhook_secret_is_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret"):
        WebhookOptions(url="http://127.0.0.1:9/hook", secret="")
    env = {"CALLWRIGHT_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    with pytest.raises(ValueError, match="CALLWRIGHT_WEBHOOK_SECRET"):
        webhook_options(env)
    with pytest.raises(ValueError, match="CALLWRIGHT_WEBHOOK_SECRET"):
        asyncio.run(build_responders(Agent(name="any"), AgentRuntime(data_dir=tmp_path, env=env)))
    configured = webhook_options({**env, "CALLWRIGHT_WEBHOOK_SECRET": SECRET,
                                  "CALLWRIGHT_WEBHOOK_REDACT": "phone=mask",
                                  "CALLWRIGHT_RETENTION_DAYS": "7"})  # fmt: skip
    assert configured.redaction is not None and configured.redaction.phone == "mask"
    assert configured.redaction.name == "redact" and configured.retention_days == 7.0
    raw = webhook_options({**env, "CALLWRIGHT_WEBHOOK_SECRET": SECRET,
                           "CALLWRIGHT_WEBHOOK_REDACT": "none"})  # fmt: skip
    assert raw.redaction is None


async def test_retention_purges_undelivered_dead_letters(tmp_path: Path) -> None:
    port = free_port()  # nobody listens: every event is dead-lettered
    sender = WebhookSender(
        options(port, retention_days=1e-5, redeliver_every_s=0.2), tmp_path / "hooks.sqlite3"
    )
    await sender.start()
    try:
        await sender.emit("handoff_requested", PACKET)
        await sender.drain()
        letters = await sender.dead_letters()
        assert len(letters) == 1 and letters[0].delivered_at is None
        kept = json.loads(letters[0].body)["data"]  # what is kept is redacted too
        assert kept["caller"] == "[PHONE]" and "5309" not in json.dumps(kept)
        for _ in range(100):  # 1e-5 days is under a second; the next pass purges it
            await asyncio.sleep(0.1)
            if not await sender.dead_letters():
                break
        assert await sender.dead_letters() == []
    finally:
        await sender.close()
