"""callwright: a production runtime for realtime voice agents.

The public agent API (see docs/agents.md):

    from callwright import Agent, tool

    @tool(timeout=3.0)
    async def order_status(order_id: str) -> dict:
        '''Looks up an order.

        Args:
            order_id: the order number.
        '''

    agent = Agent(name="shop", instructions="...", greeting="...", tools=[order_status])
"""

from callwright.agent.session_lines import SessionLines
from callwright.agent.silence import SilenceOptions
from callwright.agents.definition import Agent, AgentRuntime, Language, Lines
from callwright.agents.http_tools import HttpToolSpec, http_tool
from callwright.agents.loading import AgentLoadError, load_agent
from callwright.agents.responder import AgentResponderFactory
from callwright.agents.routing import ModelRoute
from callwright.agents.tool import FunctionTool, tool
from callwright.core.responder import (
    CallInfo,
    Closable,
    EmitsEvents,
    EndCall,
    ExpectedAnswer,
    ExpectsAnswer,
    HasDeterministicFallback,
    HasHandoffFacts,
    HasPhrases,
    HasVocabulary,
    Message,
    Preempts,
    PreviewsReply,
    Responder,
    ResponderFactory,
    TextDelta,
    TokenUsage,
    ToolCall,
    ToolResult,
    TransferCall,
    TurnContext,
    Working,
)
from callwright.flows.engine import Flow, Node, SlotSpec
from callwright.flows.guardrails import GuardrailOptions
from callwright.handoff.triggers import EscalationOptions
from callwright.llm.openai_compat import LlmOptions
from callwright.tools.registry import Tool, ToolRefused

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentLoadError",
    "AgentResponderFactory",
    "AgentRuntime",
    "CallInfo",
    "Closable",
    "EmitsEvents",
    "EndCall",
    "EscalationOptions",
    "ExpectedAnswer",
    "ExpectsAnswer",
    "Flow",
    "FunctionTool",
    "GuardrailOptions",
    "HasDeterministicFallback",
    "HasHandoffFacts",
    "HasPhrases",
    "HasVocabulary",
    "HttpToolSpec",
    "Language",
    "Lines",
    "LlmOptions",
    "Message",
    "ModelRoute",
    "Node",
    "Preempts",
    "PreviewsReply",
    "Responder",
    "ResponderFactory",
    "SessionLines",
    "SilenceOptions",
    "SlotSpec",
    "TextDelta",
    "TokenUsage",
    "Tool",
    "ToolCall",
    "ToolRefused",
    "ToolResult",
    "TransferCall",
    "TurnContext",
    "Working",
    "http_tool",
    "load_agent",
    "tool",
]
