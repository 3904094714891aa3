"""How far behind real time a worker handled each call's audio when it ended a turn, from a
call store (SQLite) after a load run.

    python bench/turn_lag.py var/calls.sqlite3

Per answered turn: the end-of-turn mark (the audio clock: wall time mapped onto the call's
audio timeline) against the point of the audio at which the end of turn was due (the pause's
end plus the longer of its wait and the time its words took, from the `pause` event). A call
that handles its audio late shows it here; a slow recogniser or a long wait does not.
"""

from __future__ import annotations

import argparse
import json
import sqlite3

import numpy as np


def turn_lags(path: str) -> list[tuple[float, float, float]]:
    """(seconds from the first call's start, end of turn after the speech, behind) per turn."""
    db = sqlite3.connect(path)
    rows = db.execute(
        "select t.call_id, t.speech_end_ms, t.end_of_turn_ms, c.started_at"
        " from turn_timelines t join calls c using (call_id)"
        " where t.turn_index > 0 and t.end_of_turn_ms is not null"
    ).fetchall()
    if not rows:
        return []
    first = min(float(r[3]) for r in rows)
    out: list[tuple[float, float, float]] = []
    for call_id, speech_end, end_of_turn, started in rows:
        events = db.execute(
            "select kind, at_ms, data_json from call_events"
            " where call_id = ? and kind in ('pause', 'transcript') order by seq",
            (call_id,),
        ).fetchall()
        # The turn's transcript is stamped at the endpointer's end of speech, just after the
        # last audible sample the timeline keeps.
        said = [e for e in events if e[0] == "transcript" and 0 <= e[1] - speech_end <= 300]
        if not said:
            continue
        at = said[0][1]
        pauses = [json.loads(e[2]) for e in events if e[0] == "pause" and e[1] == at]
        if not pauses:
            continue
        pause = pauses[-1]
        due = at + max(float(pause["wait_ms"]), float(pause.get("judged_after_ms", 0.0)))
        out.append((float(started) - first, end_of_turn - speech_end, end_of_turn - due))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("store", help="the worker's SQLite call store")
    args = parser.parse_args()
    lags = np.array(turn_lags(args.store), dtype=float).reshape(-1, 3)
    if not lags.size:
        print("no answered turn with its pause in the store")
        return
    eot50, eot95 = np.percentile(lags[:, 1], [50, 95])
    behind50, behind95 = np.percentile(lags[:, 2], [50, 95])
    print(f"turns {len(lags)}")
    print(f"end of turn after the speech p50 / p95: {eot50:.0f} / {eot95:.0f} ms")
    print(
        f"handling behind the audio at that point p50 / p95 / max: {behind50:.0f} / "
        f"{behind95:.0f} / {lags[:, 2].max():.0f} ms"
    )


if __name__ == "__main__":
    main()
