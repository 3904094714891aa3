"""Deterministic conversation logic that needs no LLM."""
