"""Outbound campaigns: a contact list, an agent, a schedule, and a runner (docs/campaigns.md)."""
