"""From an `Agent` to what the server runs: its responder factory and its server settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from callwright.agents.definition import Agent, AgentRuntime
from callwright.agents.responder import AgentResponderFactory
from callwright.config import Settings
from callwright.core.responder import ResponderFactory
from callwright.handoff.triggers import EscalationOptions
from callwright.llm.openai_compat import LlmOptions


def runtime_for(
    settings: Settings, env: Mapping[str, str] | None = None, store: Any = None
) -> AgentRuntime:
    """What the server gives an agent: its data folder, the configured LLM, the environment
    and (once open) the call store."""
    llm = None
    if (chosen := settings.llm) is not None:
        hedge_s = None if chosen.hedge_after_ms is None else chosen.hedge_after_ms / 1000.0
        llm = LlmOptions(
            chosen.base_url,
            chosen.model,
            chosen.api_key,
            hedge_after_s=hedge_s,
            hedge_base_url=chosen.hedge_base_url,
            hedge_model=chosen.hedge_model,
            preemptive=chosen.preemptive,
        )
    return AgentRuntime(
        data_dir=settings.data_dir,
        llm=llm,
        env=dict(os.environ if env is None else env),
        store=store,
    )


async def build_responders(agent: Agent, runtime: AgentRuntime) -> ResponderFactory:
    """The agent's own responder factory if it has custom code, else the generic responder.

    The generic responder's events (call started) go to signed webhooks when
    CALLWRIGHT_WEBHOOK_URL is set; an agent with custom code wires its own integrations.
    """
    if agent.responders is not None:
        return await agent.responders(runtime)
    factory = await AgentResponderFactory.open(agent, runtime)
    url = runtime.env.get("CALLWRIGHT_WEBHOOK_URL")
    if url:
        from callwright.integrations.outbox import outbox_for
        from callwright.integrations.webhooks import WebhookSender, webhook_options_from_env

        options = webhook_options_from_env(runtime.env)
        sender = WebhookSender(options, outbox_for(runtime, "webhooks.sqlite3"))
        await sender.start()
        factory.add_hook(sender.emit, close=sender.close)
    return factory


def settings_for(settings: Settings, agent: Agent) -> Settings:
    """The server's settings with what the agent chooses (models, voice, transfer number).

    The deployment's own configuration wins where both set something, except the models: an
    agent that needs the multilingual recognizer says so.
    """
    if agent.stt_model:
        settings = replace(settings, stt=replace(settings.stt, model=agent.stt_model))
    if agent.tts:
        settings = replace(settings, tts=agent.tts)
    if agent.transfer_number and not settings.telephony.transfer_number:
        telephony = replace(settings.telephony, transfer_number=agent.transfer_number)
        settings = replace(settings, telephony=telephony)
    return settings


def escalation_for(agent: Agent) -> EscalationOptions:
    """The agent's escalation triggers, with its own phrases for asking for a person."""
    options = agent.escalation or EscalationOptions()
    cues = tuple(dict.fromkeys([*options.explicit_cues, *agent.escalation_cues]))
    return replace(options, explicit_cues=cues)
