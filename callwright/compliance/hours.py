"""Calling hours: no automated outbound call outside the callee's permitted local hours.

The default window is 08:00-21:00 in the callee's local time (the TCPA's rule in the US). The
time zone comes from the number (phonenumbers' timezone module); a number that spans several
zones (a toll-free or a mobile number) may be called only when it is inside the window in every
one of them; one with a zone whose data cannot be loaded is not called at all. Stricter windows
per jurisdiction ("US-FL": 08:00-20:00) and holidays (dates on which no automated calls go out,
everywhere or per jurisdiction) are configurable. A blocked call is not dropped: the decision
says when it may next be placed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_timezones

from callwright.compliance.jurisdictions import jurisdiction_of

SEARCH_DAYS = 14  # how far ahead the next permitted moment is looked for
STEP = dt.timedelta(minutes=15)  # the resolution of "next permitted moment"


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """Permitted local hours: from `start` (inclusive) to `end` (exclusive)."""

    start: dt.time = dt.time(8, 0)
    end: dt.time = dt.time(21, 0)

    def contains(self, local: dt.datetime) -> bool:
        return self.start <= local.time().replace(tzinfo=None) < self.end

    @classmethod
    def parse(cls, text: str) -> CallingWindow:
        """From "08:00-21:00"."""
        start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-", 1))
        if not start < end:
            raise ValueError(f"a calling window must start before it ends: {text!r}")
        return cls(start, end)


@dataclass(frozen=True, slots=True)
class CallingHoursOptions:
    """The permitted hours of automated outbound calls.

    Attributes:
        enabled: enforce the window (on by default).
        window: the window everywhere.
        stricter: narrower windows per jurisdiction ("US-FL", "DE"); the intersection with
            `window` applies.
        holidays: dates (the callee's local date) with no automated calls, by jurisdiction;
            "*" for everywhere.
    """

    enabled: bool = True
    window: CallingWindow = field(default_factory=CallingWindow)
    stricter: Mapping[str, CallingWindow] = field(default_factory=dict)
    holidays: Mapping[str, frozenset[dt.date]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HoursDecision:
    """Whether a number may be called now, and if not, why and from when.

    Attributes:
        allowed: inside the window in every zone of the number.
        reason: why not (None when allowed).
        zones: the time zones considered.
        next_allowed: the next permitted moment (UTC), when not allowed; None if none within
            two weeks (e.g. zones too far apart for any common hour).
    """

    allowed: bool
    reason: str | None
    zones: tuple[str, ...]
    next_allowed: dt.datetime | None = None


def zones_of(number: str) -> tuple[str, ...]:
    """The IANA time zones of an E.164 number (empty if unknown)."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return ()
    zones = number_timezones.time_zones_for_number(parsed)
    return tuple(z for z in zones if z != number_timezones.UNKNOWN_TIMEZONE)


class CallingHours:
    """Decides whether a number may be called at a given moment.

    Args:
        options: the window, stricter windows and holidays.
    """

    def __init__(self, options: CallingHoursOptions | None = None) -> None:
        self.options = options or CallingHoursOptions()

    def check(self, number: str, now: dt.datetime) -> HoursDecision:
        """The decision for calling `number` at `now` (timezone-aware)."""
        if not self.options.enabled:
            return HoursDecision(True, None, ())
        zones = zones_of(number)
        if not zones:
            return HoursDecision(False, "the callee's time zone is unknown", zones, None)
        tzs, missing = _load(zones)
        if missing:
            # Fail closed: judging the call by the zones that did load (or by none) would let
            # it ring at night in the ones that did not.
            reason = (
                f"the time zone data of the callee's number ({', '.join(missing)}) could not"
                " be loaded, so its local time is unknown (is the tzdata package installed?)"
            )
            return HoursDecision(False, reason, zones, None)
        window = self._window(number)
        holidays = self._holidays(number)
        problem = self._problem(now, tzs, window, holidays)
        if problem is None:
            return HoursDecision(True, None, zones)
        return HoursDecision(False, problem, zones, self._next(now, tzs, window, holidays))

    def _window(self, number: str) -> CallingWindow:
        base = self.options.window
        place = jurisdiction_of(number)
        candidates = [self.options.stricter.get(p) for p in _places(place)]
        start, end = base.start, base.end
        for narrower in candidates:
            if narrower is not None:
                start, end = max(start, narrower.start), min(end, narrower.end)
        return CallingWindow(start, end)

    def _holidays(self, number: str) -> frozenset[dt.date]:
        days: set[dt.date] = set(self.options.holidays.get("*", ()))
        for place in _places(jurisdiction_of(number)):
            days |= set(self.options.holidays.get(place, ()))
        return frozenset(days)

    @staticmethod
    def _problem(
        now: dt.datetime, tzs: list[ZoneInfo], window: CallingWindow, holidays: frozenset[dt.date]
    ) -> str | None:
        for tz in tzs:
            local = now.astimezone(tz)
            if local.date() in holidays:
                return f"a holiday in the callee's time zone ({tz.key})"
            if not window.contains(local):
                return (
                    f"outside the calling window {window.start:%H:%M}-{window.end:%H:%M}"
                    f" in the callee's time zone ({tz.key}, {local:%H:%M})"
                )
        return None

    def _next(
        self,
        now: dt.datetime,
        tzs: list[ZoneInfo],
        window: CallingWindow,
        holidays: frozenset[dt.date],
    ) -> dt.datetime | None:
        # Candidates: every zone's window starts in the next days, in order; the first one at
        # which every zone is inside its window (and no holiday) is the answer.
        starts = sorted(
            {
                dt.datetime.combine(
                    now.astimezone(tz).date() + dt.timedelta(days=d), window.start, tz
                ).astimezone(dt.UTC)
                for tz in tzs
                for d in range(SEARCH_DAYS + 1)
            }
        )
        for start in starts:
            if start > now and self._problem(start, tzs, window, holidays) is None:
                return start
        return None


def _places(place: str | None) -> tuple[str, ...]:
    """A jurisdiction and its country: "US-FL" is also "US"."""
    if place is None:
        return ()
    return (place.split("-", 1)[0], place) if "-" in place else (place,)


def _load(zones: tuple[str, ...]) -> tuple[list[ZoneInfo], list[str]]:
    """The zones that loaded, and the names of those that did not (no tz database, or a
    damaged or unknown entry)."""
    loaded, missing = [], []
    for zone in zones:
        try:
            loaded.append(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError, OSError):
            missing.append(zone)
    return loaded, missing
