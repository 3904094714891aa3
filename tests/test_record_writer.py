"""A call's record survives a brief store failure, and writes that race the hang-up are kept.
On a real SQLite store, wrapped so that chosen writes fail the way a lost connection does."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from callwright.observe import record_writer
from callwright.observe.record_writer import CallRecordWriter
from callwright.store.base import CallRecord
from callwright.store.sqlite import SqliteCallStore


class Flaky:
    """Forwards to the store; `failures[name]` calls of that method fail first."""

    def __init__(self, inner: SqliteCallStore, **failures: int) -> None:
        self._inner = inner
        self.failures = dict(failures)
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        async def call(*args: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.failures.get(name, 0) > 0:
                self.failures[name] -= 1
                raise ConnectionError("the database went away")
            return await method(*args)

        return call


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record_writer, "RETRY_PAUSES_S", (0.01, 0.01, 0.01))


async def test_the_start_and_end_of_a_record_are_retried_through_a_brief_failure(
    tmp_path: Path,
) -> None:
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    flaky = Flaky(store, start_call=1, end_call=2)
    writer = CallRecordWriter(flaky, "c1")
    writer.start(CallRecord("c1", "twilio", None, time.time(), {}))
    writer.event("transcript", 100.0, {"text": "hello"})
    await writer.finish("caller_hung_up", "bye")
    detail = await store.get_call("c1")
    assert detail is not None and detail.record.outcome == "caller_hung_up"
    assert detail.record.status != "active"
    assert flaky.calls["start_call"] == 2 and flaky.calls["end_call"] == 3
    assert [e.kind for e in detail.events] == ["transcript"]
    await store.close()


async def test_an_ordinary_write_is_not_retried_and_never_blocks_the_rest(tmp_path: Path) -> None:
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    flaky = Flaky(store, add_event=1)
    writer = CallRecordWriter(flaky, "c2")
    writer.start(CallRecord("c2", "twilio", None, time.time(), {}))
    writer.event("lost", 1.0, {})
    writer.event("kept", 2.0, {})
    await writer.finish("completed", "done")
    detail = await store.get_call("c2")
    assert detail is not None and [e.kind for e in detail.events] == ["kept"]
    assert detail.record.outcome == "completed"
    await store.close()


async def test_a_write_after_the_end_is_written_not_dropped(tmp_path: Path) -> None:
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    writer = CallRecordWriter(store, "c3")
    writer.start(CallRecord("c3", "twilio", None, time.time(), {}))
    await writer.finish("caller_hung_up", "bye")
    # A platform's status callback that arrives as the call ends.
    writer.event("status_callback", 5000.0, {"status": "completed"})
    for _ in range(100):
        detail = await store.get_call("c3")
        if detail is not None and detail.events:
            break
        await asyncio.sleep(0.01)
    assert detail is not None and [e.kind for e in detail.events] == ["status_callback"]
    await store.close()


async def test_a_record_whose_start_was_lost_is_written_at_its_end(tmp_path: Path) -> None:
    # The store was down through every try of the start; it is back when the call ends.
    store = await SqliteCallStore.open(tmp_path / "calls.db")
    flaky = Flaky(store, start_call=4)
    writer = CallRecordWriter(flaky, "c4")
    writer.start(CallRecord("c4", "twilio", "+15550100", time.time(), {"to": "+15550199"}))
    writer.event("transcript", 100.0, {"text": "hello"})
    await writer.finish("caller_hung_up", "bye")
    detail = await store.get_call("c4")
    assert detail is not None, "every call leaves a record"
    assert (detail.record.status, detail.record.outcome) == ("ended", "caller_hung_up")
    assert detail.record.parameters == {"to": "+15550199"}
    assert [e.kind for e in detail.events] == ["transcript"]
    await store.close()
