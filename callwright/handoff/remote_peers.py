"""The far side of a conversation between two workers: a caller on one, a person on another.

Each worker tells the other every second that its side is still there (`PostgresDesk`); a side
not heard from for a few seconds has gone (its worker died, or lost the database), and the
side left must not sit in silence: the caller's worker gives the call back to the agent, the
console's worker tells the person the call has ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from callwright.handoff.desk import HumanLine


@dataclass(slots=True)
class Peer:
    """The other worker's side of one call.

    Attributes:
        worker: its worker id.
        seen: when it was last heard from (monotonic seconds).
        line: on the console's worker, the person's console holding the call.
    """

    worker: str
    seen: float
    line: HumanLine | None = None


class PeerWatch:
    """The calls joined to another worker, by call id, and when each was last heard from.

    Args:
        lost_after_s: a side not heard from for this long has gone.
        clock: monotonic seconds.
    """

    def __init__(self, lost_after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lost_after_s = lost_after_s
        self._clock = clock
        self._peers: dict[str, Peer] = {}

    def join(self, call_id: str, worker: str, line: HumanLine | None = None) -> None:
        """The call is now joined to `worker` (heard from now)."""
        self._peers[call_id] = Peer(worker, self._clock(), line)

    def heard(self, call_id: str, worker: str) -> bool:
        """`worker` spoke for the call; False if the call is not joined to it."""
        peer = self._peers.get(call_id)
        if peer is None or peer.worker != worker:
            return False
        peer.seen = self._clock()
        return True

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._peers

    def drop(self, call_id: str) -> Peer | None:
        """The call is no longer joined (handed back, ended)."""
        return self._peers.pop(call_id, None)

    def joined(self) -> list[tuple[str, Peer]]:
        """Every joined call and its peer."""
        return list(self._peers.items())

    def lost(self) -> list[tuple[str, Peer]]:
        """The calls whose other side has not been heard from for too long, dropped."""
        now = self._clock()
        gone = [(c, p) for c, p in self._peers.items() if now - p.seen > self.lost_after_s]
        for call_id, _ in gone:
            del self._peers[call_id]
        return gone
