"""The compliance settings of one server, read from `CALLWRIGHT_*` variables."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from callwright.compliance.disclosure import DisclosureOptions
from callwright.compliance.hours import CallingHoursOptions, CallingWindow
from callwright.compliance.optout import OptOutOptions


@dataclass(frozen=True, slots=True)
class ComplianceSettings:
    """How numbers are read and how callers opt out (docs/compliance.md).

    Attributes:
        default_region: ISO 3166 country that numbers written without `+` and a country code
            belong to ("US": "(415) 555-0100" is +14155550100).
        opt_out: whether the opt-out policy watches every call's caller turns.
        opt_out_key: a keypad key that opts out on its own ("" for none).
        disclosure: phone calls open with the disclosure (recording, automated assistant).
        disclosure_text: the disclosure's words ("" for the default).
        consent: "jurisdiction" asks for recording consent where a party's jurisdiction needs
            it, "always" asks everyone, "never" asks no one.
    """

    default_region: str = "US"
    opt_out: bool = True
    opt_out_key: str = ""
    disclosure: bool = True
    disclosure_text: str = ""
    consent: str = "jurisdiction"
    hours: CallingHoursOptions = field(default_factory=CallingHoursOptions)
    require_consent: bool = True
    voicemail: str = ""
    listen_first: bool = False
    clock: Callable[[], dt.datetime] | None = None

    def now(self) -> dt.datetime:
        """The current time, from the injected clock if there is one."""
        return self.clock() if self.clock is not None else dt.datetime.now(dt.UTC)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ComplianceSettings:
        """Reads CALLWRIGHT_DEFAULT_REGION, CALLWRIGHT_OPT_OUT and CALLWRIGHT_OPT_OUT_KEY."""
        env = os.environ if env is None else env
        base = cls()
        key = env.get("CALLWRIGHT_OPT_OUT_KEY", base.opt_out_key).strip()
        if key and (len(key) != 1 or key not in "0123456789*#"):
            raise ValueError("CALLWRIGHT_OPT_OUT_KEY must be one keypad key (0-9, * or #)")
        consent = env.get("CALLWRIGHT_RECORDING_CONSENT", base.consent).strip().lower()
        if consent not in ("jurisdiction", "always", "never"):
            raise ValueError("CALLWRIGHT_RECORDING_CONSENT must be jurisdiction, always or never")
        return cls(
            hours=_hours(env),
            require_consent=_on(env.get("CALLWRIGHT_REQUIRE_CONSENT")),
            voicemail=env.get("CALLWRIGHT_VOICEMAIL", "").strip(),
            listen_first=env.get("CALLWRIGHT_LISTEN_FIRST", "0").strip().lower()
            in ("1", "true", "on", "yes"),
            disclosure=_on(env.get("CALLWRIGHT_DISCLOSURE")),
            disclosure_text=env.get("CALLWRIGHT_DISCLOSURE_TEXT", "").strip(),
            consent=consent,
            default_region=env.get("CALLWRIGHT_DEFAULT_REGION", base.default_region).upper(),
            opt_out=_on(env.get("CALLWRIGHT_OPT_OUT")),
            opt_out_key=key,
        )

    def opt_out_options(self, base: OptOutOptions | None = None) -> OptOutOptions:
        """The opt-out policy these settings ask for, over `base` (its confirmation line)."""
        return replace(
            base or OptOutOptions(),
            enabled=self.opt_out,
            key=self.opt_out_key,
            default_region=self.default_region,
        )

    def disclosure_options(self, base: DisclosureOptions | None = None) -> DisclosureOptions:
        """The opening these settings ask for, over `base` (its lines and jurisdictions)."""
        base = base or DisclosureOptions()
        return replace(
            base,
            enabled=self.disclosure,
            text=self.disclosure_text or base.text,
            ask_consent=self.consent != "never",
            always_ask=self.consent == "always",
        )


def _on(value: str | None) -> bool:
    """A switch that is on unless set to 0, false, off or no."""
    return (value or "1").strip().lower() not in ("0", "false", "off", "no")


def _hours(env: Mapping[str, str]) -> CallingHoursOptions:
    """CALLWRIGHT_CALLING_HOURS ("08:00-21:00" or "off"), CALLWRIGHT_CALLING_HOURS_STRICTER
    ("US-FL=08:00-20:00,DE=09:00-20:00") and CALLWRIGHT_CALLING_HOLIDAYS
    ("*=2026-12-25,US-TX=2026-03-02")."""
    window_text = env.get("CALLWRIGHT_CALLING_HOURS", "").strip()
    if window_text.lower() in ("off", "0", "false", "no"):
        return CallingHoursOptions(enabled=False)
    window = CallingWindow.parse(window_text) if window_text else CallingWindow()
    stricter = {
        place.strip(): CallingWindow.parse(text)
        for place, text in _pairs(env.get("CALLWRIGHT_CALLING_HOURS_STRICTER", ""))
    }
    holidays: dict[str, frozenset[dt.date]] = {}
    for place, day in _pairs(env.get("CALLWRIGHT_CALLING_HOLIDAYS", "")):
        holidays[place] = holidays.get(place, frozenset()) | {dt.date.fromisoformat(day)}
    return CallingHoursOptions(window=window, stricter=stricter, holidays=holidays)


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(","):
        if item.strip():
            place, _, value = item.partition("=")
            if not value:
                raise ValueError(f"expected PLACE=VALUE, got {item!r}")
            pairs.append((place.strip(), value.strip()))
    return pairs
