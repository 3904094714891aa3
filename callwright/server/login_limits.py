"""How often a password may be tried, and where it is checked.

Sign-in is open to anyone, so both halves are built for a stranger who sends many attempts at
once:

- **Limits counted before the check.** An attempt is written down as a failure *before* its
  password is checked and struck off if it succeeds, so attempts sent together all count:
  counted after the check, thirty parallel guesses would all pass a limit of five.
- **Locked out per address, not per account.** Failures are counted per (name, address), per
  address, and per name from everywhere. Past the per-name total, only addresses that have
  already failed for that name are refused: strangers guessing an operator's password from
  everywhere cannot lock the operator out of the console. IPv6 addresses count per /64,
  the block one subscriber gets.
- **Checked on a pool of its own.** An argon2 check takes a few hundred milliseconds of CPU
  and 64 MiB by design. It runs on one dedicated thread with a short queue, never on the
  event loop's shared executor (which calls use), and a full queue answers "busy".
- **A lane for operators where they signed in before.** Strangers on many addresses can keep
  that queue full, each under every limit. An operator signing in as a name from an address
  (its /64) where that name signed in within `KNOWN_FOR_S` is checked on a second thread with
  its own queue, which a stranger enters only by knowing the password.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from callwright.config import SecuritySettings
from callwright.store.access import AccessStore

# Password checks that may wait for the checking thread; more are refused as busy.
MAX_WAITING_CHECKS = 4
# How long a name's sign-in from an address keeps that pair in the known lane.
KNOWN_FOR_S = 90 * 86400.0


class ChecksBusy(RuntimeError):
    """Too many password checks are waiting: try again shortly."""


def address_key(address: str) -> str:
    """The address failures are counted under: an IPv6 address's /64, else the address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A sign-in attempt under way: counted as a failure until it succeeds."""

    name_at_address: str
    failure_ids: tuple[str, ...]


class LoginLimits:
    """Counts sign-in attempts in the store (so the limits hold across workers).

    Args:
        access: where failures are kept.
        settings: the limits and their window.
        clock: wall-clock seconds (the store's timestamps).
    """

    def __init__(
        self,
        access: AccessStore,
        settings: SecuritySettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._access = access
        self._settings = settings
        self._clock = clock

    async def begin(self, name: str, address: str) -> Attempt | float:
        """Counts the attempt; the seconds to wait instead if a limit is reached."""
        s, who, where = self._settings, name.lower(), address_key(address)
        keys = (f"name:{who}@{where}", f"address:{where}", f"name:{who}")
        ids = tuple(await self._access.add_login_failure(list(keys), s.login_window_s))
        now = self._clock()
        counts = [await self._access.login_failures(key, now - s.login_window_s) for key in keys]
        (here, here_at), (address_n, address_at), (total, total_at) = [
            (n, now if oldest is None else oldest) for n, oldest in counts
        ]
        # Each count includes this attempt: a limit is how many may fail before refusing.
        over: list[float] = []
        if here > s.login_failures_per_name:
            over.append(here_at)
        if address_n > s.login_failures_per_address:
            over.append(address_at)
        if total > s.login_failures_per_name_total and here > 1:
            over.append(total_at)
        if over:
            await self._access.remove_login_failures(ids)
            return max(1.0, max(over) + s.login_window_s - now)
        return Attempt(keys[0], ids)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: this attempt and the name's failures here are forgotten,
        and the pair is known from now on."""
        await self._access.remove_login_failures(attempt.failure_ids)
        await self._access.clear_login_failures(attempt.name_at_address)
        await self._access.add_known_signin(attempt.name_at_address, KNOWN_FOR_S)

    async def known(self, attempt: Attempt) -> bool:
        """Whether this name signed in from this address (its /64) within `KNOWN_FOR_S`."""
        since = self._clock() - KNOWN_FOR_S
        return await self._access.known_signin(attempt.name_at_address, since)

    async def not_checked(self, attempt: Attempt) -> None:
        """The password was never checked (busy): the attempt does not count."""
        await self._access.remove_login_failures(attempt.failure_ids)


class _Lane:
    """One thread for argon2 checks, with a short queue."""

    def __init__(self, name: str, max_waiting: int) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=name)
        self.max = max_waiting
        self.pending = 0


class PasswordChecks:
    """Runs argon2 checks on threads of their own, with short queues: one for every attempt,
    one for attempts from where their name signed in before (`LoginLimits.known`)."""

    def __init__(self, max_waiting: int = MAX_WAITING_CHECKS) -> None:
        self._lanes = {
            False: _Lane("password-check", max_waiting),
            True: _Lane("password-check-known", max_waiting),
        }

    async def run(self, check: Callable[[], bool], known: bool = False) -> bool:
        """The check's result.

        Raises:
            ChecksBusy: the running check and `max_waiting` more are already queued in the
                attempt's lane.
        """
        lane = self._lanes[known]
        if lane.pending > lane.max:
            raise ChecksBusy("too many sign-ins are being checked")
        lane.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(lane.executor, check)
        finally:
            lane.pending -= 1

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.executor.shutdown(wait=False, cancel_futures=True)
