"""The public agent API: `Agent`, `@tool`, the generic responder, loading and building agents."""
