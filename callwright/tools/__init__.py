"""Tools the agent can call during a conversation."""

from callwright.tools.registry import Tool, ToolRegistry

__all__ = ["Tool", "ToolRegistry"]
