"""Outgoing integrations: signed webhooks and CalDAV calendar sync."""
