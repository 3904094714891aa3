"""Calling hours: the callee's local window from the number's time zones (the most restrictive
when there are several), stricter windows and holidays, and the outbound API refusing a call
outside them with the moment it may be placed."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
import pytest

from callwright.agent.stack import AgentStack
from callwright.compliance import hours as hours_module
from callwright.compliance.hours import CallingHours, CallingHoursOptions, CallingWindow, zones_of
from callwright.compliance.settings import ComplianceSettings
from callwright.telephony.settings import TelephonySettings
from tests.conftest import ADMIN_HEADERS
from tests.fakes.twilio_rest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio
from tests.security.conftest import secure_server

LA, NY = ZoneInfo("America/Los_Angeles"), ZoneInfo("America/New_York")
SF, MIAMI = "+14155550171", "+13055550172"


def at(zone: ZoneInfo, hour: int, minute: int = 0, day: int = 2) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=zone).astimezone(dt.UTC)


def test_the_window_is_the_callees_local_time() -> None:
    hours = CallingHours()
    assert hours.check(SF, at(LA, 8, 0)).allowed
    assert hours.check(SF, at(LA, 20, 59)).allowed
    late = hours.check(SF, at(LA, 21, 0))
    assert not late.allowed and "America/Los_Angeles" in (late.reason or "")
    assert late.next_allowed == at(LA, 8, 0, day=3)
    early = hours.check(SF, at(LA, 7, 30))
    assert early.next_allowed == at(LA, 8, 0)
    # 10:00 in New York is 07:00 in California: the New Yorker may be called, not the Californian.
    assert hours.check("+12125550173", at(NY, 10)).allowed
    assert not hours.check(SF, at(NY, 10)).allowed


def test_a_number_in_several_zones_follows_the_most_restrictive() -> None:
    toll_free = "+18005550174"
    zones = zones_of(toll_free)
    assert "Pacific/Honolulu" in zones and "America/New_York" in zones
    hours = CallingHours()
    noon_ny = at(NY, 12)  # 06:00 in Honolulu
    decision = hours.check(toll_free, noon_ny)
    assert not decision.allowed
    nxt = decision.next_allowed
    assert nxt is not None and nxt > noon_ny
    for zone in zones:  # the moment it gives is inside the window everywhere
        local = nxt.astimezone(ZoneInfo(zone))
        assert dt.time(8) <= local.time() < dt.time(21), (zone, local)


def test_stricter_windows_and_holidays() -> None:
    options = CallingHoursOptions(
        stricter={"US-FL": CallingWindow.parse("09:00-20:00")},
        holidays={
            "*": frozenset({dt.date(2026, 12, 25)}),
            "US-CA": frozenset({dt.date(2026, 6, 3)}),
        },
    )
    hours = CallingHours(options)
    assert not hours.check(MIAMI, at(NY, 8, 30)).allowed  # Florida starts at 9
    assert hours.check(MIAMI, at(NY, 9, 0)).allowed
    assert not hours.check(MIAMI, at(NY, 20, 15)).allowed
    assert hours.check("+12125550173", at(NY, 20, 15)).allowed  # New York keeps 21:00
    # A California holiday: the next call goes out the day after.
    blocked = hours.check(SF, at(LA, 10, day=3))
    assert not blocked.allowed and "holiday" in (blocked.reason or "")
    assert blocked.next_allowed == at(LA, 8, day=4)
    christmas = dt.datetime(2026, 12, 25, 12, tzinfo=NY)
    assert not hours.check("+12125550173", christmas).allowed
    assert CallingHours(CallingHoursOptions(enabled=False)).check(SF, at(LA, 3)).allowed


def test_settings_from_the_environment() -> None:
    settings = ComplianceSettings.from_env(
        {
            "CALLWRIGHT_CALLING_HOURS": "09:00-20:00",
            "CALLWRIGHT_CALLING_HOURS_STRICTER": "US-FL=10:00-19:00",
            "CALLWRIGHT_CALLING_HOLIDAYS": "*=2026-12-25,*=2027-01-01,US-TX=2026-03-02",
        }
    )
    assert settings.hours.window == CallingWindow(dt.time(9), dt.time(20))
    assert settings.hours.stricter["US-FL"] == CallingWindow(dt.time(10), dt.time(19))
    assert settings.hours.holidays["*"] == {dt.date(2026, 12, 25), dt.date(2027, 1, 1)}
    off = ComplianceSettings.from_env({"CALLWRIGHT_CALLING_HOURS": "off"})
    assert not off.hours.enabled


async def test_the_outbound_api_refuses_outside_the_window_when_asked_not_to_schedule(
    stack: AgentStack, tmp_path: Path
) -> None:
    evening = ComplianceSettings(clock=lambda: at(LA, 21, 30))  # 00:30 in New York
    async with fake_twilio() as rest:
        settings = TelephonySettings(
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_base_url=rest.url,
            public_base_url="https://voice.example.org",
        )
        async with secure_server(stack, tmp_path, telephony=settings, compliance=evening) as server:
            async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
                url = f"{server.base}/v1/calls/outbound"
                body = {"to": SF, "from": "+12125550199", "schedule": False}
                async with http.post(url, json=body) as response:
                    assert response.status == 409
                    body = await response.json()
            refusals = await server.access.audit_entries(action="outbound.refused")
        assert rest.creates() == []
    assert body["error"] == "outside_calling_hours"
    assert dt.datetime.fromisoformat(body["retry_at"]) == at(LA, 8, day=3)
    assert [e.detail.get("reason") for e in refusals] == ["calling hours"]


def test_a_zone_whose_data_cannot_load_refuses_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # Idaho's 208 spans Boise (Mountain) and Los Angeles (Pacific): at 20:30 in California it
    # is 21:30 in Boise, so the call may not go out, and without Boise's data that is unknown.
    boise = "+12085550174"
    assert zones_of(boise) == ("America/Boise", "America/Los_Angeles")
    evening = at(LA, 20, 30)
    assert not CallingHours().check(boise, evening).allowed
    real = hours_module.ZoneInfo

    def without(*gone: str) -> Callable[[str], ZoneInfo]:
        def load(key: str) -> ZoneInfo:
            if "*" in gone or key in gone:
                raise ZoneInfoNotFoundError(f"No time zone found with key {key}")
            return real(key)

        return load

    # One zone of the number missing (no tz database entry for it): refused, saying which.
    monkeypatch.setattr(hours_module, "ZoneInfo", without("America/Boise"))
    partial = CallingHours().check(boise, evening)
    assert not partial.allowed and partial.next_allowed is None
    assert "America/Boise" in (partial.reason or "") and "tzdata" in (partial.reason or "")
    # No time zone data at all: 03:00 in California is refused, not allowed.
    monkeypatch.setattr(hours_module, "ZoneInfo", without("*"))
    night = CallingHours().check(SF, at(LA, 3, 0))
    assert not night.allowed and "America/Los_Angeles" in (night.reason or "")
    # Midday too: with its zone unknown, no moment is known to be inside the window.
    assert not CallingHours().check(SF, at(LA, 12, 0)).allowed
    # Calling hours turned off by the operator still decide nothing.
    assert CallingHours(CallingHoursOptions(enabled=False)).check(SF, at(LA, 3, 0)).allowed


def test_tzdata_is_a_declared_dependency() -> None:
    # Slim images have no system tz database: zoneinfo then needs the tzdata package.
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text("utf-8"))
    names = {
        re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower()
        for spec in project["project"]["dependencies"]
    }
    assert "tzdata" in names
