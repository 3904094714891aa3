"""The compliance settings of one server, read from `CALLWRIGHT_*` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from callwright.compliance.optout import OptOutOptions


@dataclass(frozen=True, slots=True)
class ComplianceSettings:
    """How numbers are read and how callers opt out (docs/compliance.md).

    Attributes:
        default_region: ISO 3166 country that numbers written without `+` and a country code
            belong to ("US": "(415) 555-0100" is +14155550100).
        opt_out: whether the opt-out policy watches every call's caller turns.
        opt_out_key: a keypad key that opts out on its own ("" for none).
    """

    default_region: str = "US"
    opt_out: bool = True
    opt_out_key: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ComplianceSettings:
        """Reads CALLWRIGHT_DEFAULT_REGION, CALLWRIGHT_OPT_OUT and CALLWRIGHT_OPT_OUT_KEY."""
        env = os.environ if env is None else env
        base = cls()
        key = env.get("CALLWRIGHT_OPT_OUT_KEY", base.opt_out_key).strip()
        if key and (len(key) != 1 or key not in "0123456789*#"):
            raise ValueError("CALLWRIGHT_OPT_OUT_KEY must be one keypad key (0-9, * or #)")
        return cls(
            default_region=env.get("CALLWRIGHT_DEFAULT_REGION", base.default_region).upper(),
            opt_out=env.get("CALLWRIGHT_OPT_OUT", "1").lower() not in ("0", "false", "off"),
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
