"""Moved to `callwright.core.timeline`; this name stays for code written against it."""

from callwright.core.timeline import *  # noqa: F403
