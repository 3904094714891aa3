"""Calling within the law: numbers, the do-not-call list, opt-out (docs/compliance.md)."""
