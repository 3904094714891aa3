"""Which Whisper instance an inference runs on: the many-threaded one only when alone."""

from __future__ import annotations

import threading
from typing import Any, cast

from callwright.stt.whisper_engines import WhisperEngines

SHARED, SOLO = cast(Any, object()), cast(Any, object())


def test_an_inference_alone_runs_on_the_solo_instance_and_one_beside_it_on_the_shared() -> None:
    engines = WhisperEngines(SHARED, SOLO)
    with engines.engine() as first:
        with engines.engine() as second:  # starts while the first runs
            assert (first, second) == (SOLO, SHARED)
        with engines.engine() as third:  # the first still runs
            assert third is SHARED
    with engines.engine() as later:  # nothing runs any more
        assert later is SOLO
    assert engines.solo_runs == 2


def test_without_a_solo_instance_every_inference_is_shared() -> None:
    engines = WhisperEngines(SHARED, None)
    with engines.engine() as only:
        assert only is SHARED
    assert engines.solo_runs == 0


def test_an_inference_that_fails_still_ends() -> None:
    engines = WhisperEngines(SHARED, SOLO)
    try:
        with engines.engine():
            raise RuntimeError("the model failed")
    except RuntimeError:
        pass
    with engines.engine() as after:
        assert after is SOLO


def test_pool_threads_count_their_inferences_consistently() -> None:
    engines = WhisperEngines(SHARED, SOLO)
    seen: list[object] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        for _ in range(200):
            with engines.engine() as engine:
                seen.append(engine)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 800
    with engines.engine() as after:  # every inference ended: the count is back to zero
        assert after is SOLO
