"""The agent's brain: responders that turn a conversation into a streamed reply."""

from callwright.core.responder import (
    CallInfo,
    EndCall,
    Message,
    Responder,
    ResponderFactory,
    ResponseEvent,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnContext,
)

__all__ = [
    "CallInfo",
    "EndCall",
    "Message",
    "Responder",
    "ResponderFactory",
    "ResponseEvent",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "TurnContext",
]
