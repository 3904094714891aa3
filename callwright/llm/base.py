"""Moved to `callwright.core.responder`; this name stays for code written against it."""

from callwright.core.responder import *  # noqa: F403
