"""Moved to `callwright.core.provider_events`; this name stays for code written against it."""

from callwright.core.provider_events import *  # noqa: F403
