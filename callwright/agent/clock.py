"""Moved to `callwright.core.clock`; this name stays for code written against it."""

from callwright.core.clock import *  # noqa: F403
