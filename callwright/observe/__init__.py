"""Observability: turn timelines, logging."""
