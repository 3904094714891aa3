"""Which loaded Whisper an inference runs on: both cores when it runs alone, one when shared.

On a small machine one inference on two threads answers a lone caller soonest, but under load
two of them queue behind each other, and two threads per inference cost more CPU than one
(their synchronisation, and the decoder's small steps gain little from a second thread). So
the recogniser keeps two CTranslate2 instances of the same weights: one whose inferences run
side by side on one thread each (`WhisperOptions.workers`, `cpu_threads`), and one with more
threads (`solo_threads`) for an inference that starts while no other is running.
`bench/whisper_pairs.py` measures both against one pool of either kind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import ctranslate2


class WhisperEngines:
    """Hands each inference the instance to run on.

    Args:
        shared: the instance whose inferences run side by side (one per pool worker).
        solo: the instance for an inference that starts alone; None: always `shared`.
    """

    def __init__(
        self, shared: ctranslate2.models.Whisper, solo: ctranslate2.models.Whisper | None
    ) -> None:
        self.shared = shared
        self.solo = solo
        self._running = 0
        self._lock = threading.Lock()  # pool threads start and end inferences concurrently
        self.solo_runs = 0

    @contextmanager
    def engine(self) -> Iterator[ctranslate2.models.Whisper]:
        """The instance for an inference starting now (held until it ends)."""
        with self._lock:
            alone = self._running == 0
            self._running += 1
            if alone and self.solo is not None:
                self.solo_runs += 1
        try:
            yield self.solo if alone and self.solo is not None else self.shared
        finally:
            with self._lock:
                self._running -= 1


def load_solo(path: str, threads: int) -> ctranslate2.models.Whisper:
    """A second instance of the weights at `path` for lone inferences on `threads` threads."""
    return ctranslate2.models.Whisper(
        path, device="cpu", compute_type="int8", intra_threads=threads, inter_threads=1
    )
