"""The TTFA benchmark's table: a reply that was the apology of a failed responder counts as no
reply at the caller as well as at the server, whichever transport said it failed."""

from __future__ import annotations

from typing import Any

from bench.ttfa import summarize
from callwright.sim.caller import CallReport, TurnReport


def timeline(turn: int, ttfa_ms: float, **extra: Any) -> dict[str, Any]:
    return {"type": "turn_timeline", "turn_index": turn, "ttfa_ms": ttfa_ms, **extra}


def caller_row(table: str) -> list[str]:
    line = next(x for x in table.splitlines() if x.startswith("TTFA at the caller"))
    return line.split()[-2:]


def test_failed_replies_are_no_reply_in_both_rows() -> None:
    native = CallReport(
        turns=[
            TurnReport("a", ttfa_ms=400.0),
            TurnReport("b", ttfa_ms=500.0),
            TurnReport("c", ttfa_ms=600.0),
        ],
        events=[
            timeline(0, 0.0),
            timeline(1, 390.0),
            timeline(2, 490.0, failed=True),
            timeline(3, 590.0),
        ],
    )
    phone = CallReport(  # the record's event, not the timeline, says the reply failed
        turns=[TurnReport("d", ttfa_ms=300.0), TurnReport("e", ttfa_ms=350.0)],
        events=[timeline(1, 290.0), timeline(2, 340.0), {"type": "reply_failed", "turn": 2}],
    )
    table = summarize([native, phone], "test")
    assert "5 caller turns in 2 calls, 2 with no reply" in table
    assert "2 replies were the apology of a failed responder" in table
    # Caller times left: 300, 400, 600, and two endless waits. Nearest rank over five: the
    # third (600) is the median, the fifth (none) the 95th percentile.
    assert caller_row(table) == ["600", "none"]
    server = next(x for x in table.splitlines() if x.startswith("TTFA at the server"))
    assert server.split()[-2:] == ["590", "none"]  # 290, 390, 590 and two missing


def test_unpaired_turns_keep_their_time_and_count_as_unanswered() -> None:
    """A call whose turns the server counted otherwise (one line heard as two turns): the
    failed reply cannot be found among the caller's turns, so it is added as a missing one."""
    split = CallReport(
        turns=[TurnReport("a", ttfa_ms=400.0), TurnReport("b", ttfa_ms=500.0)],
        events=[timeline(1, 390.0), timeline(2, 300.0), timeline(3, 490.0, failed=True)],
    )
    table = summarize([split], "test")
    assert "2 caller turns in 1 calls, 1 with no reply" in table
    assert "1 of those in calls whose turns the server counted otherwise" in table
    assert caller_row(table) == ["500", "none"]  # 400, 500, and one endless wait
