"""Several worker processes on one port (`callwright serve --processes N`).

One event loop runs on one core: past it, frames go late however many cores the machine has.
The supervisor starts N `callwright serve` processes that all listen on the same address with
`SO_REUSEPORT`, so the kernel spreads new connections over them. Each process is a worker of
its own, as several machines' workers are (server/drain.py): its own id in the store
(`<worker id>/<index>`, stable across restarts, so a restarted process recognises its own
calls at once), heartbeat, admission, drain on SIGTERM and load figures (`/v1/load`).

The first process starts alone (it creates and seeds what is missing, e.g. the schema); the
others start once it listens. SIGTERM and SIGINT are passed on to every process, which drain
as a single worker does; a process that dies on its own is started again after a pause.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from types import FrameType

log = logging.getLogger(__name__)

# Set in the environment of each child: which one it is and that it shares its port.
PROCESS_INDEX_ENV = "CALLWRIGHT_PROCESS_INDEX"
_RESTART_PAUSE_S = 2.0
_PR_SET_PDEATHSIG = 1
_FIRST_LISTEN_TIMEOUT_S = 600.0  # the first process loads the models before it listens


def is_child(env: Mapping[str, str]) -> bool:
    """Whether this process is one of a supervisor's workers (then it shares its port)."""
    return PROCESS_INDEX_ENV in env


def reserve_port(host: str) -> socket.socket:
    """A bound, not listening, `SO_REUSEPORT` socket on a free port: the children join it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return sock


def _die_with_parent() -> None:
    """In the child before it runs: SIGTERM (a drain) when the supervisor dies, even by SIGKILL,
    so no worker is left behind holding the port (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Runs `count` copies of `argv` (a `callwright serve` command line) on one port.

    Args:
        count: how many worker processes.
        argv: the arguments after `callwright`, without `--processes`; `--port` is added.
        host: the address the workers listen on (to see the first one listening).
        port: the shared port (not 0).
        worker_id: the base of the workers' ids.
        env: the environment the children start from.
    """

    def __init__(
        self,
        count: int,
        argv: Sequence[str],
        host: str,
        port: int,
        worker_id: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.count = count
        self.argv = [*argv, "--port", str(port)]
        self.host, self.port = host, port
        self.worker_id = worker_id
        self.env = dict(os.environ if env is None else env)
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping: int | None = None  # the signal being passed on

    def child_env(self, index: int) -> dict[str, str]:
        return {
            **self.env,
            PROCESS_INDEX_ENV: str(index),
            "CALLWRIGHT_WORKER_ID": f"{self.worker_id}/{index}",
        }

    def start(self, index: int) -> None:
        command = [sys.executable, "-m", "callwright", *self.argv]
        # A session of its own: a terminal's Ctrl-C reaches the supervisor alone, which passes
        # it on once (a second SIGINT would cut a worker's graceful exit short).
        self.children[index] = subprocess.Popen(
            command, env=self.child_env(index), start_new_session=True, preexec_fn=_die_with_parent
        )
        log.info("worker process %d started (pid %d)", index, self.children[index].pid)

    def _listening(self) -> bool:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = "::1" if host == "::" else host
        try:
            with socket.create_connection((host, self.port), timeout=1.0):
                return True
        except OSError:
            return False

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = signum
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)

    def run(self) -> int:
        """Starts the workers, keeps them running, and returns once all have stopped."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.start(0)
        deadline = time.monotonic() + _FIRST_LISTEN_TIMEOUT_S
        while not self._listening():
            if self.stopping is not None or self.children[0].poll() is not None:
                break
            if time.monotonic() > deadline:
                log.error("the first worker process never listened on port %d", self.port)
                self._on_signal(signal.SIGTERM, None)
                break
            time.sleep(0.2)
        if self.children[0].poll() is not None and self.stopping is None:
            log.error("the first worker process exited with %s", self.children[0].returncode)
            return self.children[0].returncode or 1
        if self.stopping is None:
            for index in range(1, self.count):
                self.start(index)
        return self._watch()

    def _watch(self) -> int:
        while True:
            alive = [c for c in self.children.values() if c.poll() is None]
            if self.stopping is not None and not alive:
                codes = [c.returncode for c in self.children.values()]
                return 0 if all(code in (0, -self.stopping) for code in codes) else 1
            if self.stopping is None:
                for index, child in list(self.children.items()):
                    if child.poll() is not None:
                        log.error(
                            "worker process %d (pid %d) exited with %s; starting it again",
                            index, child.pid, child.returncode,
                        )  # fmt: skip
                        time.sleep(_RESTART_PAUSE_S)
                        if self.stopping is None:
                            self.start(index)
            time.sleep(0.2)
