"""An agent's event receivers: every one hears every event, a failing one harms no other, and
each closer runs once at close."""

from __future__ import annotations

from typing import Any

from callwright.core.hooks import EventHooks


async def test_every_receiver_hears_the_event_though_one_fails() -> None:
    heard: list[tuple[str, str]] = []

    async def broken(kind: str, data: dict[str, Any]) -> None:
        raise RuntimeError("receiver down")

    async def listening(kind: str, data: dict[str, Any]) -> None:
        heard.append((kind, data["id"]))

    hooks = EventHooks()
    hooks.add(broken)
    hooks.add(listening)
    await hooks.emit("appointment_booked", {"id": "a1"})
    hooks.remove(broken)
    await hooks.emit("call_ended", {"id": "c1"})
    assert heard == [("appointment_booked", "a1"), ("call_ended", "c1")]


async def test_closers_run_once_in_order_and_past_a_failure() -> None:
    closed: list[str] = []

    async def receiver(kind: str, data: dict[str, Any]) -> None:
        return None

    def closer(name: str, fails: bool = False) -> Any:
        async def close() -> None:
            closed.append(name)
            if fails:
                raise OSError("flush failed")

        return close

    hooks = EventHooks()
    hooks.add(receiver, closer("webhooks", fails=True))
    hooks.add(receiver)  # no closer
    hooks.add(receiver, closer("calendar"))
    await hooks.close()
    await hooks.close()  # a second close (a fallback factory shares the hooks) runs nothing
    assert closed == ["webhooks", "calendar"]


async def test_a_receiver_removed_hears_nothing() -> None:
    heard: list[str] = []

    async def receiver(event: str, data: dict[str, Any]) -> None:
        heard.append(event)

    hooks = EventHooks()
    hooks.add(receiver)
    hooks.remove(receiver)
    await hooks.emit("handoff_requested", {})
    assert heard == []
