"""Provider failures and fallbacks, recorded on the call they happened in.

STT, TTS and responder factories are shared by every call of the process, but a failure belongs
to one call's record. The session binds its recorder for the duration of the call
(`bind_call_events`); a provider wrapper reports with `report_provider_event`, and the event
reaches the call whose task (or a task it started) made the request. This travels in a
`contextvars.ContextVar` because asyncio copies the context into every task a call creates,
so no call can see another's binding and nothing is global.

Kinds recorded:
    provider_error: {"stage", "provider", "error", "attempt"}: a provider failed or stalled.
    fallback: {"stage", "from", "to", "reason"}: another provider did the work instead.
    responder: {"provider", "trigger", "attempts"}: which responder answered a turn.
    callback_offered: {"reason"}: the call could not go on and the caller was offered a callback.
    llm_prepared: {"model"}: a request started on a speculative transcript went out.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

Record = Callable[[str, float, Mapping[str, Any]], None]  # (kind, at_ms, data)

_CALL_EVENTS: contextvars.ContextVar[tuple[Record, Callable[[], float]] | None] = (
    contextvars.ContextVar("callwright_call_events", default=None)
)


def bind_call_events(
    record: Record, now_ms: Callable[[], float]
) -> contextvars.Token[tuple[Record, Callable[[], float]] | None]:
    """Routes provider events from this task (and tasks it starts later) to a call's record.

    Args:
        record: the call recorder's `event` method.
        now_ms: the call's clock (audio timeline), to stamp events.

    Returns:
        A token for `release_call_events`.
    """
    return _CALL_EVENTS.set((record, now_ms))


def release_call_events(
    token: contextvars.Token[tuple[Record, Callable[[], float]] | None],
) -> None:
    """Undoes `bind_call_events` in the task that bound it."""
    _CALL_EVENTS.reset(token)


def report_provider_event(kind: str, data: Mapping[str, Any]) -> bool:
    """Records an event on the current call, if there is one; never raises.

    Returns:
        True if a call recorded it (False outside any call, e.g. while prewarming a cache).
    """
    bound = _CALL_EVENTS.get()
    if bound is None:
        return False
    record, now_ms = bound
    try:
        record(kind, now_ms(), dict(data))
    except Exception:
        log.exception("could not record %s event", kind)
        return False
    return True


def describe(error: BaseException) -> str:
    """A short, single-line description of an error for the call record."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__
