"""Optional transcriptions that are worth nothing late: a start deadline the shared
recogniser honours.

Every call of a worker shares one Whisper pool (`stt/whisper.py`). When many calls pause at
once its queue grows, and some requests lose their value while they wait: the barge-in's quick
look at an overlap's first words, the second look at a long pause. Those are sent inside
`optional_within(seconds)`; a request of that context that has not started by then is skipped
(`TranscriptionSkipped`) instead of running, and its caller goes on as it would without it.
The transcripts a turn needs carry no deadline: they always run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

_START_BY: ContextVar[float | None] = ContextVar("stt_start_by", default=None)


class TranscriptionSkipped(RuntimeError):
    """An optional transcription could not start before its deadline; it did not run."""


@contextlib.contextmanager
def optional_within(seconds: float) -> Iterator[None]:
    """Transcriptions requested in this context (and tasks created in it) are skipped if they
    cannot start within `seconds`."""
    token = _START_BY.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _START_BY.reset(token)


def start_deadline() -> float | None:
    """The monotonic time by which the current context's transcription must start, if any."""
    return _START_BY.get()


def check_start(deadline: float | None) -> None:
    """Raises `TranscriptionSkipped` when `deadline` has passed (called as the work starts)."""
    if deadline is not None and time.monotonic() > deadline:
        late_ms = 1000.0 * (time.monotonic() - deadline)
        raise TranscriptionSkipped(f"could not start in time ({late_ms:.0f} ms late)")
